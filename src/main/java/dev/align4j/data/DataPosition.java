package dev.align4j.data;

/**
 * Where a trainer's data stands. Every draw is a function of the seed and the position, so {@link #position()} is
 * the whole state a resume needs ({@link #seek}).
 */
public interface DataPosition {
    long position();

    void seek(long position);
}
