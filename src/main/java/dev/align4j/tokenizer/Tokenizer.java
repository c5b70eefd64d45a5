package dev.align4j.tokenizer;

/**
 * Text ⇄ token ids, with explicit special tokens.
 *
 * <p><b>Ids.</b> Valid ids are {@code 0 .. vocabSize()-1}; that is the row count a model's embedding and
 * output layer must have. {@link #eosId()}, {@link #bosId()} and {@link #padId()} are explicit and may
 * coincide (GPT-2 uses one id for all three by default). Padding must therefore be found through the
 * attention/loss masks, never by comparing ids with {@code padId()}.
 *
 * <p><b>Encoding</b> is of plain text only: a special token's marker written in the text (for example the
 * characters {@code "<|endoftext|>"}) is encoded as ordinary text, never as the special id. Special ids are
 * added by the caller (prompt builders, data loaders), so untrusted text cannot inject an EOS. (A rendered Hugging
 * Face chat template is the exception, encoded as transformers encodes it by {@link HfTokenizer#encodeWithSpecials}
 * through {@link ChatFormatter}.) It follows
 * that {@code decode(encode(s)).equals(s)} for every well-formed string {@code s} (unpaired surrogates
 * are not representable in UTF-8 and come back as {@code ?}), while {@code encode(decode(ids))}
 * differs from {@code ids} when {@code ids} contains special ids.
 *
 * <p><b>Decoding</b> renders each special id as its marker text ({@link #tokenText(int)}, for example
 * {@code "<|endoftext|>"}) unless {@code skipSpecial} is set, in which case it contributes nothing. The
 * bytes of the ordinary tokens between specials are decoded as UTF-8 with malformed or incomplete sequences
 * replaced by U+FFFD (a byte tokenizer, or a truncated generation, can end in the middle of a character);
 * decoding never throws for that reason. Use {@link #decodeBytes(int[])} to stream output byte-exactly.
 * An id outside {@code 0 .. vocabSize()-1} throws {@link IllegalArgumentException} naming its index.
 *
 * <p>Null arguments throw {@link IllegalArgumentException} naming the argument. Implementations are
 * immutable and thread-safe.
 */
public interface Tokenizer {

    /** A short name, the one {@link Tokenizers#byName(String)} accepts for the default configuration. */
    String name();

    /** Number of ids, including special and unused ids: the model's vocabulary size V. */
    int vocabSize();

    /** End of sequence: generation stops at it; SFT responses end with it. */
    int eosId();

    /** Beginning of sequence / document separator (may equal {@link #eosId()}). */
    int bosId();

    /** The id written into padded positions (may equal {@link #eosId()}; masks, not ids, mark padding). */
    int padId();

    /**
     * The ids generation stops at: EOS, and for Hugging Face models every {@code eos_token_id} of
     * {@code generation_config.json} and {@code config.json} (e.g. Llama 3's {@code <|eot_id|>}).
     */
    default int[] stopIds() {
        return new int[] {eosId()};
    }

    /** True for ids that carry no text of their own (EOS, BOS, PAD, unused vocabulary-padding ids). */
    boolean isSpecial(int id);

    /**
     * The text of one id: the marker for a special id, otherwise the token's bytes decoded as UTF-8 (a token
     * that holds part of a character shows U+FFFD). For display and debugging.
     */
    String tokenText(int id);

    /** Ids of {@code text}, treated as plain text (special markers in it are ordinary characters). */
    int[] encode(String text);

    /** {@code decode(ids, false)}: special ids appear as their marker text. */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Text of {@code ids}. Special ids give their marker text, or nothing when {@code skipSpecial}; ordinary
     * bytes are decoded as UTF-8 with U+FFFD for malformed or incomplete sequences (no exception).
     */
    String decode(int[] ids, boolean skipSpecial);

    /**
     * The raw bytes of the ordinary tokens in {@code ids}, specials skipped. For streaming: a caller may hold
     * back an incomplete trailing UTF-8 sequence until the next token completes it.
     */
    byte[] decodeBytes(int[] ids);
}
