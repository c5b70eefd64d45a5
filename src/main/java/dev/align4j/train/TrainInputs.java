package dev.align4j.train;

import dev.align4j.data.TokenizedPair;
import dev.align4j.data.TokenizedSft;
import dev.align4j.model.LmConfig;
import java.util.List;

/**
 * The checks every trainer runs on its encoded data before any native code sees it: each row fits the model's
 * context and every id is in its vocabulary; messages name the list, the row, the part and the position.
 */
final class TrainInputs {
    private TrainInputs() {}

    static void padId(int padId, LmConfig c) {
        if (padId < 0 || padId >= c.vocabSize())
            throw new IllegalArgumentException("padId " + padId + " is outside the vocabulary [0, " + c.vocabSize() + ")");
    }

    /** {@code what} must be non-empty unless {@code mayBeEmpty}; null is allowed only when it may be empty. */
    static void sft(String what, List<TokenizedSft> xs, boolean mayBeEmpty, LmConfig c) {
        if (!nonEmpty(what, xs, mayBeEmpty)) return;
        for (int i = 0; i < xs.size(); i++) {
            TokenizedSft e = xs.get(i);
            if (e == null) throw new IllegalArgumentException(what + "[" + i + "] is null");
            if (e.length() > c.nCtx())
                throw new IllegalArgumentException(what + "[" + i + "] has " + e.length() + " tokens, more than the context nCtx = "
                        + c.nCtx() + " (encode with Encoder maxTokens <= nCtx)");
            ids(what + "[" + i + "]", e.tokens(), c);
        }
    }

    static void pairs(String what, List<TokenizedPair> xs, boolean mayBeEmpty, LmConfig c) {
        if (!nonEmpty(what, xs, mayBeEmpty)) return;
        for (int i = 0; i < xs.size(); i++) {
            TokenizedPair p = xs.get(i);
            if (p == null) throw new IllegalArgumentException(what + "[" + i + "] is null");
            int len = p.prompt().length + Math.max(p.chosen().length, p.rejected().length);
            if (len > c.nCtx())
                throw new IllegalArgumentException(what + "[" + i + "] has " + len + " tokens (prompt " + p.prompt().length
                        + " + chosen " + p.chosen().length + " / rejected " + p.rejected().length + "), more than the context nCtx = "
                        + c.nCtx() + " (encode with Encoder maxTokens <= nCtx)");
            ids(what + "[" + i + "].prompt", p.prompt(), c);
            ids(what + "[" + i + "].chosen", p.chosen(), c);
            ids(what + "[" + i + "].rejected", p.rejected(), c);
        }
    }

    private static boolean nonEmpty(String what, List<?> xs, boolean mayBeEmpty) {
        if (xs == null || xs.isEmpty()) {
            if (mayBeEmpty) return false;
            throw new IllegalArgumentException(what + " must hold at least one example");
        }
        return true;
    }

    private static void ids(String where, int[] ids, LmConfig c) {
        for (int j = 0; j < ids.length; j++)
            if (ids[j] < 0 || ids[j] >= c.vocabSize())
                throw new IllegalArgumentException(where + "[" + j + "] = " + ids[j] + " is outside the vocabulary [0, "
                        + c.vocabSize() + ")");
    }
}
