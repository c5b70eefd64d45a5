package dev.align4j.data;

/**
 * How a data file is read (see {@link Datasets}).
 *
 * @param skipBad    {@code false} (the default): the first bad record throws a {@link DataFormatException} naming
 *                   the file and line. {@code true}: bad records are skipped and counted by reason in the
 *                   {@link ReadReport} — never dropped silently.
 * @param language   OpenAssistant only: keep messages whose {@code lang} is this tag or a sub-tag of it
 *                   ({@code "pt"} keeps {@code "pt-BR"}), case-insensitive; {@code null} keeps all. Other formats
 *                   carry no language and refuse a filter (IllegalArgumentException) rather than ignore it.
 * @param maxRecords read at most this many records (lines or array elements, bad ones included), then stop;
 *                   {@link Long#MAX_VALUE} for all
 */
public record ReadOptions(boolean skipBad, String language, long maxRecords) {
    public ReadOptions {
        if (maxRecords < 1) throw new IllegalArgumentException("maxRecords must be >= 1, got " + maxRecords);
        if (language != null && language.isBlank()) throw new IllegalArgumentException("language must be null or non-blank");
    }

    /** Strict, all languages, all records. */
    public static ReadOptions defaults() {
        return new ReadOptions(false, null, Long.MAX_VALUE);
    }

    /** Bad records skipped and counted, all languages, all records. */
    public static ReadOptions skippingBad() {
        return new ReadOptions(true, null, Long.MAX_VALUE);
    }

    public ReadOptions withSkipBad(boolean skip) {
        return new ReadOptions(skip, language, maxRecords);
    }

    public ReadOptions withLanguage(String lang) {
        return new ReadOptions(skipBad, lang, maxRecords);
    }

    public ReadOptions withMaxRecords(long max) {
        return new ReadOptions(skipBad, language, max);
    }

    /** True when a message tagged {@code lang} passes the language filter. */
    boolean acceptsLanguage(String lang) {
        if (language == null) return true;
        if (lang == null) return false;
        return lang.equalsIgnoreCase(language)
                || (lang.length() > language.length() && lang.regionMatches(true, 0, language, 0, language.length())
                        && lang.charAt(language.length()) == '-');
    }
}
