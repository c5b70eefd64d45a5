package dev.align4j.data;

import java.util.List;

/** What a reader returns: the examples (or pairs) in file order, and the report of what reading did. */
public record ReadResult<T>(List<T> items, ReadReport report) {
    public ReadResult {
        if (items == null || report == null) throw new IllegalArgumentException("items and report must not be null");
        items = List.copyOf(items);
    }

    public int size() {
        return items.size();
    }
}
