package dev.align4j.data;

/**
 * A record that fails validation, inside a reader. {@code key} is the stable reason (the skip-count key, no
 * record-specific text); {@code detail} adds specifics for the error message.
 */
final class BadRecord extends Exception {
    final String key;
    final String detail;

    BadRecord(String key, String detail) {
        super(detail == null ? key : key + ": " + detail, null, false, false);
        this.key = key;
        this.detail = detail;
    }

    BadRecord(String key) {
        this(key, null);
    }
}
