package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads the real-data formats by name: the entry point of the command line and of user code.
 *
 * <pre>{@code
 * ReadResult<SftExample> sft = Datasets.readSft(Path.of("alpaca_data.json"), SftFormat.ALPACA, ReadOptions.defaults());
 * ReadResult<PreferencePair> hh = Datasets.readPairs(Path.of("test.jsonl.gz"), PairFormat.HH, ReadOptions.skippingBad());
 * ReadResult<SftExample> en = Datasets.readSft(trees, SftFormat.OASST, ReadOptions.defaults().withLanguage("en"));
 * log.info(hh.report().toString());
 * }</pre>
 *
 * <p>Every format reads JSONL or a JSON array (decided by the file's first non-blank character), plain or
 * gzipped ({@code .gz} suffix), as strict UTF-8. The first bad record throws a {@link DataFormatException} naming
 * the file and the 1-based line (and "record N" in a JSON array); with {@link ReadOptions#skipBad()} bad records
 * are skipped and counted by reason in {@link ReadResult#report()}. Format rules: {@link AlpacaFormat},
 * {@link SelfInstructFormat}, {@link PromptCompletionFormat}, {@link MessagesFormat} and {@link ChatTemplate}, {@link OasstFormat},
 * {@link HhRlhfFormat}, {@link PairsFormat}.
 */
public final class Datasets {
    private Datasets() {
    }

    /** Formats that give SFT examples. */
    public enum SftFormat {
        ALPACA, OASST, MESSAGES, PROMPT_COMPLETION, SELF_INSTRUCT;

        /** Case-insensitive, '-' or '_': "alpaca", "oasst", "messages", "prompt-completion", "self-instruct". */
        public static SftFormat parse(String name) {
            return Datasets.parse(SftFormat.class, name);
        }
    }

    /** Formats that give preference pairs. */
    public enum PairFormat {
        HH, OASST, PAIRS;

        /** Case-insensitive: "hh", "oasst", "pairs". */
        public static PairFormat parse(String name) {
            return Datasets.parse(PairFormat.class, name);
        }
    }

    public static ReadResult<SftExample> readSft(Path file, SftFormat format, ReadOptions options, ChatTemplate template)
            throws IOException {
        if (format == null) throw new IllegalArgumentException("format must not be null");
        return switch (format) {
            case ALPACA -> AlpacaFormat.read(file, options);
            case OASST -> OasstFormat.readSft(file, options, template);
            case MESSAGES -> MessagesFormat.read(file, options, template);
            case PROMPT_COMPLETION -> PromptCompletionFormat.read(file, options);
            case SELF_INSTRUCT -> SelfInstructFormat.read(file, options);
        };
    }

    /** With {@link ChatTemplate#DEFAULT} for the chat formats. */
    public static ReadResult<SftExample> readSft(Path file, SftFormat format, ReadOptions options) throws IOException {
        return readSft(file, format, options, ChatTemplate.DEFAULT);
    }

    public static ReadResult<PreferencePair> readPairs(Path file, PairFormat format, ReadOptions options,
                                                       ChatTemplate template) throws IOException {
        if (format == null) throw new IllegalArgumentException("format must not be null");
        return switch (format) {
            case HH -> HhRlhfFormat.read(file, options);
            case OASST -> OasstFormat.readPairs(file, options, template);
            case PAIRS -> PairsFormat.read(file, options);
        };
    }

    /** With {@link ChatTemplate#DEFAULT} for OpenAssistant prompts. */
    public static ReadResult<PreferencePair> readPairs(Path file, PairFormat format, ReadOptions options) throws IOException {
        return readPairs(file, format, options, ChatTemplate.DEFAULT);
    }

    private static <E extends Enum<E>> E parse(Class<E> type, String name) {
        if (name == null) throw new IllegalArgumentException("format name must not be null");
        String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) if (e.name().equals(n)) return e;
        StringBuilder known = new StringBuilder();
        for (E e : type.getEnumConstants())
            known.append(known.length() == 0 ? "" : ", ").append(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        throw new IllegalArgumentException("unknown format '" + name + "' (known: " + known + ")");
    }
}
