package dev.align4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Encode and decode throughput of the tokenizers on a text file, one after the other in one JVM (not a test):
 * <pre>
 * mvn -o -q test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.align4j.tokenizer.TokenizerThroughput \
 *     -Dexec.args="../shared/data/tinyshakespeare.txt ../shared/tokenizers/qwen3"
 * </pre>
 * The text is encoded in lines of ~1 KB (as a data loader does, one example at a time); each measurement is the best
 * of 5 passes after 2 warm-up passes.
 */
public final class TokenizerThroughput {
    public static void main(String[] args) throws Exception {
        String text = Files.readString(Path.of(args.length > 0 ? args[0] : "../shared/data/tinyshakespeare.txt"));
        List<String> chunks = new ArrayList<>();
        for (int i = 0; i < text.length(); i += 1024) chunks.add(text.substring(i, Math.min(text.length(), i + 1024)));
        long bytes = text.getBytes(StandardCharsets.UTF_8).length;
        System.out.printf(Locale.ROOT, "%d bytes in %d chunks, %s, %d cores%n", bytes, chunks.size(), System.getProperty("java.vm.name"),
                Runtime.getRuntime().availableProcessors());
        List<Tokenizer> toks = new ArrayList<>(List.of(new ByteTokenizer(), new Gpt2Tokenizer()));
        if (args.length > 1) toks.add(HfTokenizer.load(Path.of(args[1])));
        for (Tokenizer t : toks) {
            measure(t.name() + " encode", chunks, bytes, c -> t.encode(c).length);
            if (t instanceof HfTokenizer h) measure(t.name() + " encodeWithSpecials", chunks, bytes, c -> h.encodeWithSpecials(c).length);
            List<int[]> ids = new ArrayList<>();
            for (String c : chunks) ids.add(t.encode(c));
            measure(t.name() + " decode", ids, bytes, x -> t.decode(x).length());
        }
    }

    interface Work<T> {
        long run(T item);
    }

    static <T> void measure(String what, List<T> items, long bytes, Work<T> work) {
        double best = Double.MAX_VALUE;
        long out = 0;
        for (int pass = 0; pass < 7; pass++) {
            long t0 = System.nanoTime();
            long n = 0;
            for (T item : items) n += work.run(item);
            double s = (System.nanoTime() - t0) / 1e9;
            if (pass >= 2) best = Math.min(best, s);
            out = n;
        }
        System.out.printf(Locale.ROOT, "%-32s %8.1f MB/s  %10.0f items/s  (%d tokens or chars, %.3f s)%n", what, bytes / best / 1e6,
                out / best, out, best);
    }
}
