package dev.align4j.bench;

import dev.align4j.tensor.Device;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The quick report the README quotes: each kernel family timed with plain System.nanoTime loops (warm-up,
 * then the median of k calls) beside its naive baseline and the memory floor measured in the same run,
 * printed as a Markdown table (and optionally CSV, which bench/torch_peer.py joins with PyTorch's times).
 * JMH ({@code java -jar benchmarks.jar}) is the rigorous path; this one is for a table in one run.
 *
 * <pre>
 * java -cp benchmarks.jar dev.align4j.bench.Report [--device cpu|cuda] [--families logprobs]
 *      [--shapes 4096x32000,...] [--nc-shapes 8192x2048,...] [--swiglu-shapes 4096x1536,...]
 *      [--attn-shapes 1x12x12x1024x64,...] [--warmup 2]
 *      [--reps 5] [--naive-reps 3] [--naive-max N·V | --no-naive] [--csv file] [--seed 42]
 * </pre>
 *
 * <p>To add a family: write {@code <Name>Bench} with its JMH methods and a {@code static void
 * report(Report.Context)} that adds {@link Row}s, and register it in {@link #FAMILIES}.
 */
public final class Report {
    /** The kernel families, in report order. */
    static final Map<String, Consumer<Context>> FAMILIES = new LinkedHashMap<>();

    static {
        FAMILIES.put(LogProbsBench.FAMILY, LogProbsBench::report);
        FAMILIES.put(PolicyLossBench.FAMILY, PolicyLossBench::report);
        FAMILIES.put(GaeBench.FAMILY, GaeBench::report);
        FAMILIES.put(KlShapingBench.FAMILY, KlShapingBench::report);
        FAMILIES.put(PreferenceLossBench.FAMILY, PreferenceLossBench::report);
        FAMILIES.put(RewardLossBench.FAMILY, RewardLossBench::report);
        FAMILIES.put(RopeBench.FAMILY, RopeBench::report);
        FAMILIES.put(RmsNormBench.FAMILY, RmsNormBench::report);
        FAMILIES.put(SwiGluBench.FAMILY, SwiGluBench::report);
        FAMILIES.put(FlashAttentionBench.FAMILY, FlashAttentionBench::report);
    }

    /**
     * One measured kernel. Times in ms (NaN: not run); bytes = the floor's bytes (what the kernel must
     * move); extraPeakBytes = how far RSS rose above its level during a first align4j call;
     * naiveExtraPeakBytes = Java heap bytes one naive call allocates (-1: unknown / not run); nativeMs = the
     * same kernel through {@code NativeKernels} directly, i.e. without the public API's validation and
     * scratch allocation (NaN: not measured; see {@link SmallKernels}).
     */
    public record Row(String family, String kernel, String shape, String device, double ms, double naiveMs,
                      double floorMs, long bytes, long extraPeakBytes, long naiveExtraPeakBytes, double nativeMs) {
        public Row(String family, String kernel, String shape, String device, double ms, double naiveMs,
                   double floorMs, long bytes, long extraPeakBytes, long naiveExtraPeakBytes) {
            this(family, kernel, shape, device, ms, naiveMs, floorMs, bytes, extraPeakBytes, naiveExtraPeakBytes, Double.NaN);
        }

        double gbPerSecond() {
            return bytes / (ms * 1e6);
        }

        /** Fraction of the measured bandwidth the kernel reaches: 1 = at the floor. */
        double ofFloor() {
            return floorMs / ms;
        }
    }

    /** What a family's report sees: options, device, repetition counts, and where rows go. */
    public static final class Context {
        private final Map<String, String> options;
        private final Device device;
        private final List<Row> rows = new ArrayList<>();
        private volatile long sink;

        Context(Map<String, String> options) {
            this.options = options;
            String spec = options.getOrDefault("device", System.getProperty(Device.PROPERTY, "cpu"));
            this.device = Device.parse(spec);
        }

        public Device device() {
            return device;
        }

        public String option(String name, String def) {
            return options.getOrDefault(name, def);
        }

        public int warmup() {
            return Integer.parseInt(option("warmup", "2"));
        }

        public int reps() {
            return Integer.parseInt(option("reps", "5"));
        }

        public int naiveReps() {
            return Integer.parseInt(option("naive-reps", "3"));
        }

        public long seed() {
            return Long.parseLong(option("seed", "42"));
        }

        /** Whether the naive baseline runs at a shape of {@code elements}: CPU only, up to --naive-max. */
        public boolean naiveFor(long elements) {
            if (!device.isCpu() || options.containsKey("no-naive")) return false;
            return elements <= Long.parseLong(option("naive-max", String.valueOf(LogProbsBench.DEFAULT_NAIVE_MAX)));
        }

        /** {@code --shapes AxB,CxD} (or the family's default) as {A,B} pairs (the log-probs' N×V). */
        public List<long[]> shapes(String def) {
            return shapes("shapes", def);
        }

        /** {@code --<option> AxB,CxD} (or {@code def}) as {A,B} pairs, e.g. {@code --bt-shapes 256x1024}. */
        public List<long[]> shapes(String option, String def) {
            List<long[]> out = new ArrayList<>();
            for (String s : option(option, def).split(",")) {
                String[] ab = s.trim().toLowerCase(Locale.ROOT).split("x");
                if (ab.length != 2) throw new IllegalArgumentException("--" + option + ": expected AxB, got '" + s + "'");
                out.add(new long[] {Long.parseLong(ab[0].trim()), Long.parseLong(ab[1].trim())});
            }
            return out;
        }

        /** {@code --<option> 64,1024} (or {@code def}) as a list of sizes, e.g. {@code --pairs} (the pair batch B). */
        public List<Integer> sizes(String option, String def) {
            List<Integer> out = new ArrayList<>();
            for (String s : option(option, def).split(",")) out.add(Integer.parseInt(s.trim()));
            return out;
        }

        public void add(Row row) {
            rows.add(row);
            System.err.printf(Locale.ROOT, "  %-12s %-20s %10.4f ms%n", row.kernel(), row.shape(), row.ms());
        }

        public void progress(String what) {
            System.err.println("[report] " + what);
        }

        /** Keeps a result alive so the JIT cannot drop the work that made it. */
        public void consume(float[] result) {
            sink += result.length + (result.length > 0 ? Float.floatToRawIntBits(result[result.length - 1]) : 0);
        }

        List<Row> rows() {
            return rows;
        }
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> options = parse(args);
        if (options.containsKey("help")) {
            System.out.println("options: --device cpu|cuda[:K] --families " + String.join(",", FAMILIES.keySet())
                    + " --shapes NxV,... (logprobs) --bt-shapes BxT,... (policyloss, gae, klshaping; default "
                    + SmallKernels.DEFAULT_BT_SHAPES + ") --pairs B,... (preference, reward; default " + SmallKernels.DEFAULT_PAIRS
                    + ") --rope-shapes BxHxTxD,... (rope; default " + RopeBench.DEFAULT_SHAPES
                    + ") --nc-shapes NxC,... (rmsnorm; default " + RmsNormBench.DEFAULT_SHAPES
                    + ") --swiglu-shapes NxF,... (swiglu; default " + SwiGluBench.DEFAULT_SHAPES
                    + ") --attn-shapes BxHxHkvxTxD,... (attention; default " + FlashAttentionBench.DEFAULT_SHAPES
                    + ") --warmup 2 --reps 5 --naive-reps 3 --naive-max N --no-naive --csv FILE --seed 42");
            return;
        }
        Context ctx = new Context(options);
        long t0 = System.nanoTime();
        for (String family : ctx.option("families", String.join(",", FAMILIES.keySet())).split(",")) {
            Consumer<Context> f = FAMILIES.get(family.trim());
            if (f == null) throw new IllegalArgumentException("--families: unknown family '" + family + "', known: " + FAMILIES.keySet());
            f.accept(ctx);
        }
        printTable(ctx);
        System.out.printf(Locale.ROOT, "%nthreads: %d cores; peak RSS of the run (VmHWM, since the last reset): %d MB; %.0f s%n",
                Runtime.getRuntime().availableProcessors(), Memory.peakBytes() >> 20, (System.nanoTime() - t0) / 1e9);
        String csv = options.get("csv");
        if (csv != null) writeCsv(ctx.rows(), Path.of(csv));
    }

    static void printTable(Context ctx) {
        System.out.printf("%nalign4j kernels on %s (median of %d after %d warm-up; naive: median of %d; floor: "
                + "%s measured in this run)%n%n", ctx.device(), ctx.reps(), ctx.warmup(), ctx.naiveReps(),
                ctx.device().isCpu() ? "a multi-threaded read (fwd) / in-place read+write (bwd) of the logits' size" : "a device-to-device copy");
        System.out.println("| kernel | shape | align4j ms | kernel-only ms | naive ms | floor ms | MB moved | GB/s | of floor | vs naive | +MB align4j RSS / naive alloc |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : ctx.rows()) {
            System.out.printf(Locale.ROOT, "| %s %s | %s | %s | %s | %s | %s | %.3g | %.3g | %.3g%% | %s | %s / %s |%n",
                    r.family(), r.kernel(), r.shape(), fmt(r.ms()), fmt(r.nativeMs()), fmt(r.naiveMs()), fmt(r.floorMs()),
                    r.bytes() / 1e6, r.gbPerSecond(), 100 * r.ofFloor(),
                    Double.isNaN(r.naiveMs()) ? "-" : String.format(Locale.ROOT, "%.1f×", r.naiveMs() / r.ms()),
                    mb(r.extraPeakBytes()), mb(r.naiveExtraPeakBytes()));
        }
        if (ctx.rows().stream().anyMatch(r -> !Double.isNaN(r.nativeMs())))
            System.out.println("\nkernel-only: the same native kernel called through NativeKernels with preallocated scratch and "
                    + "no validation (stats still read back); align4j − kernel-only ≈ the public API's validation scans + scratch allocation.\n"
                    + "Small kernels (all but logprobs): times are the median of " + ctx.reps() + " samples, each the mean of a batch of calls "
                    + "lasting >= " + SmallKernels.MIN_SAMPLE_MS + " ms (after >= " + SmallKernels.WARMUP_MS + " ms of warm-up); "
                    + "floor = the bytes the kernel must read + write / the read bandwidth measured (Floor) on a buffer of that size, "
                    + "at least " + (SmallKernels.MIN_FLOOR_BYTES >> 20) + " MiB.");
    }

    static void writeCsv(List<Row> rows, Path path) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(path))) {
            w.println("family,kernel,shape,device,ms,naive_ms,floor_ms,bytes,extra_peak_bytes,naive_extra_peak_bytes,native_ms");
            for (Row r : rows)
                w.printf(Locale.ROOT, "%s,%s,%s,%s,%.6g,%.6g,%.6g,%d,%d,%d,%.6g%n", r.family(), r.kernel(), r.shape(),
                        r.device(), r.ms(), r.naiveMs(), r.floorMs(), r.bytes(), r.extraPeakBytes(), r.naiveExtraPeakBytes(),
                        r.nativeMs());
        }
    }

    /** ms to 3 significant digits (the small kernels take microseconds), at most 1 decimal from 100 ms up. */
    static String fmt(double ms) {
        if (Double.isNaN(ms)) return "-";
        return ms >= 100 ? String.format(Locale.ROOT, "%.1f", ms) : String.format(Locale.ROOT, "%.3g", ms);
    }

    private static String mb(long bytes) {
        return bytes < 0 ? "-" : String.valueOf(bytes >> 20);
    }

    /** {@code --key value}, {@code --key=value} and bare {@code --flag}. */
    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "' (try --help)");
            String key = a.substring(2);
            int eq = key.indexOf('=');
            if (eq >= 0) {
                m.put(key.substring(0, eq), key.substring(eq + 1));
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                m.put(key, args[++i]);
            } else {
                m.put(key, "true");
            }
        }
        return m;
    }
}
