package dev.align4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.function.IntConsumer;

/**
 * What the tokenizers share: their ids and specials, and decoding. Ids are ordinary tokens (each a byte string)
 * or specials (each a marker text). A run of ordinary ids between specials is decoded as ONE byte string,
 * because a character may span several tokens; a special ends the run, so a character split across it is
 * malformed, not glued back together.
 */
abstract class BaseTokenizer implements Tokenizer {
    private final String name;
    private final int vocabSize, eosId, bosId, padId;

    BaseTokenizer(String name, int vocabSize, int eosId, int bosId, int padId) {
        Ids.checkId("padId", padId, vocabSize);
        this.name = name;
        this.vocabSize = vocabSize;
        this.eosId = eosId;
        this.bosId = bosId;
        this.padId = padId;
    }

    @Override public final String name() { return name; }
    @Override public final int vocabSize() { return vocabSize; }
    @Override public final int eosId() { return eosId; }
    @Override public final int bosId() { return bosId; }
    @Override public final int padId() { return padId; }

    /** The bytes of {@code ids[from, to)}, all ordinary and in range. */
    abstract byte[] ordinaryBytes(int[] ids, int from, int to);

    /** {@link #isSpecial} without the range check. */
    abstract boolean special(int id);

    /** The marker text of the special {@code id}. */
    abstract String marker(int id);

    @Override
    public final boolean isSpecial(int id) {
        Ids.checkId("id", id, vocabSize());
        return special(id);
    }

    @Override
    public final String tokenText(int id) {
        Ids.checkId("id", id, vocabSize());
        return special(id) ? marker(id) : Ids.utf8(ordinaryBytes(new int[] {id}, 0, 1));
    }

    @Override
    public final String decode(int[] ids, boolean skipSpecial) {
        Ids.checkIds(ids, vocabSize());
        StringBuilder out = new StringBuilder(ids.length);
        forEachRun(ids, (from, to) -> out.append(Ids.utf8(ordinaryBytes(ids, from, to))),
                id -> out.append(skipSpecial ? "" : marker(id)));
        return out.toString();
    }

    @Override
    public final byte[] decodeBytes(int[] ids) {
        Ids.checkIds(ids, vocabSize());
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        forEachRun(ids, (from, to) -> out.writeBytes(ordinaryBytes(ids, from, to)), id -> { });
        return out.toByteArray();
    }

    /** Receives a run of ordinary ids {@code [from, to)}. */
    private interface Run {
        void accept(int from, int to);
    }

    /** Each non-empty run of ordinary ids and each special id, in order. */
    private void forEachRun(int[] ids, Run run, IntConsumer specialId) {
        int start = 0;
        for (int i = 0; i <= ids.length; i++) {
            if (i < ids.length && !special(ids[i])) continue;
            if (i > start) run.accept(start, i);
            if (i < ids.length) specialId.accept(ids[i]);
            start = i + 1;
        }
    }
}
