package dev.align4j.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * GPT-2's byte-level BPE: JTokkit's {@code r50k_base}, the exact encoding of OpenAI's GPT-2 (merges and
 * vocabulary bundled in the JTokkit jar, nothing downloaded). 50257 ids: 0..50255 ordinary tokens and 50256
 * {@code <|endoftext|>}, which serves as EOS and BOS (GPT-2 separates documents with it).
 *
 * <p>GPT-2 has no padding token. By default {@link #padId()} is EOS, as in Hugging Face practice
 * ({@code tokenizer.pad_token = tokenizer.eos_token}); padding is then told apart from a real EOS only by
 * the attention/loss mask, which the trainers always carry. {@link #withPadId(int)} picks another id.
 */
public final class Gpt2Tokenizer extends BaseTokenizer {
    public static final int VOCAB_SIZE = 50257;
    public static final int END_OF_TEXT = 50256;
    private static final String END_OF_TEXT_MARKER = "<|endoftext|>";

    /** Loaded on first use (parsing the ranks takes ~100 ms) and shared: JTokkit encodings are thread-safe. */
    private static final class Holder {
        static final Encoding R50K = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    /** PAD = EOS = BOS = 50256. */
    public Gpt2Tokenizer() {
        this(END_OF_TEXT);
    }

    private Gpt2Tokenizer(int padId) {
        super("gpt2", VOCAB_SIZE, END_OF_TEXT, END_OF_TEXT, padId);
    }

    /** The same tokenizer with {@code padId} as PAD (any id in the vocabulary). */
    public Gpt2Tokenizer withPadId(int padId) {
        return new Gpt2Tokenizer(padId);
    }

    @Override
    boolean special(int id) {
        return id == END_OF_TEXT;
    }

    @Override
    String marker(int id) {
        return END_OF_TEXT_MARKER;
    }

    @Override
    public int[] encode(String text) {
        Ids.notNull("text", text);
        // encodeOrdinary: "<|endoftext|>" in the text is plain characters (JTokkit's encode() would throw).
        return Holder.R50K.encodeOrdinary(text).toArray();
    }

    @Override
    byte[] ordinaryBytes(int[] ids, int from, int to) {
        IntArrayList list = new IntArrayList(to - from);
        for (int i = from; i < to; i++) list.add(ids[i]);
        return Holder.R50K.decodeBytes(list);
    }

    @Override
    public String toString() {
        return "Gpt2Tokenizer(r50k_base, pad=" + padId() + ")";
    }
}
