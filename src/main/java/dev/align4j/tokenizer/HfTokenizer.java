package dev.align4j.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face tokenizer folder: {@code tokenizer.json} encoded and decoded by Hugging Face's own Rust
 * {@code tokenizers} library through DJL's binding ({@code ai.djl.huggingface:tokenizers}, whose jar carries the
 * native library; nothing is downloaded — see {@link #load(Path)}), plus what {@code tokenizer_config.json},
 * {@code generation_config.json} and {@code config.json} say about special tokens, stop tokens and the chat
 * template.
 *
 * <p><b>Two encodings.</b> {@link #encode(String)} keeps the {@link Tokenizer} contract: the text is plain text, so
 * the characters {@code "<|im_end|>"} in it are ordinary characters, never the special id (it runs a second copy of
 * the tokenizer whose <em>special</em> added tokens are removed; non-special added tokens such as Qwen3's
 * {@code <think>} stay single ids, as in transformers even with {@code split_special_tokens=True}).
 * {@link #encodeWithSpecials(String)} is transformers' default {@code tokenizer(text, add_special_tokens=False)}:
 * every added token written in the text becomes its id. Rendered chat templates are encoded that way, as
 * transformers' {@code apply_chat_template(tokenize=True)} does — which means that a user message containing the
 * text {@code <|im_end|>} gets the special id there too (transformers' default; see {@code ChatFormatter}).
 * Neither adds the post-processor's BOS/EOS: the chat template or {@code Encoder} writes them.
 *
 * <p><b>Ids.</b> {@link #vocabSize()} is the tokenizer's (largest id + 1) unless {@link #withVocabSize(int)} pads it
 * to the model's embedding rows (Qwen3: 151,669 ids, 151,936 rows); padding ids are special and read
 * {@code <|unused:ID|>}. EOS is {@code tokenizer_config.json}'s {@code eos_token} (else the first
 * {@code eos_token_id} of the generation config or config); PAD its {@code pad_token}, else EOS; BOS its
 * {@code bos_token}, else PAD (Qwen has no BOS). {@link #stopIds()} adds every {@code eos_token_id} of
 * {@code generation_config.json} and {@code config.json} (an int or a list).
 *
 * <p>Thread-safe: the Rust tokenizer is, and the lazily made plain copy is published safely.
 */
public final class HfTokenizer implements Tokenizer {
    /** The files of a tokenizer folder. */
    public static final String TOKENIZER_FILE = "tokenizer.json", CONFIG_FILE = "tokenizer_config.json",
            GENERATION_CONFIG_FILE = "generation_config.json", MODEL_CONFIG_FILE = "config.json",
            CHAT_TEMPLATE_FILE = "chat_template.jinja";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the files say; shared by copies that differ only in vocabulary size. */
    private static final class Shared {
        final String name;
        final Path dir;
        final String tokenizerJson;
        final HuggingFaceTokenizer full;
        volatile HuggingFaceTokenizer plain;
        final int size;                       // largest id + 1
        final Map<String, Integer> added = new HashMap<>();   // added token text -> id
        final Set<Integer> specialIds = new LinkedHashSet<>();
        final Map<Integer, String> specialText = new HashMap<>();
        final boolean byteLevelDecoder;
        volatile String[] vocab;              // id -> token string, made on first decodeBytes
        final Map<String, Object> specialTokensMap;   // bos_token, eos_token, ... for chat templates
        final Map<String, String> chatTemplates;      // name -> template ("default" first)
        final boolean splitSpecialTokens;
        int eos, bos, pad;
        final List<Integer> stops = new ArrayList<>();

        Shared(String name, Path dir, String tokenizerJson, HuggingFaceTokenizer full, int size, boolean byteLevelDecoder,
               Map<String, Object> specialTokensMap, Map<String, String> chatTemplates, boolean splitSpecialTokens) {
            this.name = name;
            this.dir = dir;
            this.tokenizerJson = tokenizerJson;
            this.full = full;
            this.size = size;
            this.byteLevelDecoder = byteLevelDecoder;
            this.specialTokensMap = specialTokensMap;
            this.chatTemplates = chatTemplates;
            this.splitSpecialTokens = splitSpecialTokens;
        }
    }

    private final Shared s;
    private final int vocabSize;

    private HfTokenizer(Shared s, int vocabSize) {
        this.s = s;
        this.vocabSize = vocabSize;
    }

    /** True when DJL's tokenizers binding is on the class path (the GPU bundle leaves it out). */
    public static boolean available() {
        try {
            Class.forName("ai.djl.huggingface.tokenizers.HuggingFaceTokenizer", false, HfTokenizer.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** True when {@code dir} holds a {@value #TOKENIZER_FILE}. */
    public static boolean isTokenizerDir(Path dir) {
        return dir != null && Files.isRegularFile(dir.resolve(TOKENIZER_FILE));
    }

    /**
     * Loads the tokenizer of a model folder: {@value #TOKENIZER_FILE} (required), {@value #CONFIG_FILE},
     * {@value #CHAT_TEMPLATE_FILE}, {@value #GENERATION_CONFIG_FILE} and {@value #MODEL_CONFIG_FILE} (each optional).
     *
     * <p>DJL copies its native library out of its jar into its cache folder ({@code ~/.djl.ai/tokenizers/…}, or
     * {@code $ENGINE_CACHE_DIR} / {@code $DJL_CACHE_DIR}) once; this method sets {@code ai.djl.offline=true} (unless
     * the caller set it) so that DJL never tries a download. A malformed file fails naming it.
     *
     * @throws IOException              when a file cannot be read or is not valid JSON
     * @throws IllegalArgumentException when a value is of the wrong kind (naming the file and key)
     * @throws IllegalStateException    when DJL's binding is not on the class path
     */
    public static HfTokenizer load(Path dir) throws IOException {
        Ids.notNull("dir", dir);
        Path tj = dir.resolve(TOKENIZER_FILE);
        if (!Files.isRegularFile(tj)) throw new IOException(dir + ": no " + TOKENIZER_FILE);
        if (!available())
            throw new IllegalStateException("reading " + tj + " needs DJL's ai.djl.huggingface:tokenizers on the class path");
        String json = Files.readString(tj);
        JsonNode root = readJson(tj, json);
        JsonNode cfg = optionalJson(dir.resolve(CONFIG_FILE));
        JsonNode gen = optionalJson(dir.resolve(GENERATION_CONFIG_FILE));
        JsonNode model = optionalJson(dir.resolve(MODEL_CONFIG_FILE));

        HuggingFaceTokenizer full = Native.create(json, tj);

        // ids: the model's vocabulary and the added tokens
        Map<String, Integer> added = new HashMap<>();
        Set<Integer> specialIds = new LinkedHashSet<>();
        Map<Integer, String> specialText = new HashMap<>();
        int size = 0;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (var it = vocab.fields(); it.hasNext(); ) size = Math.max(size, it.next().getValue().asInt() + 1);
        } else if (vocab.isArray()) {
            size = vocab.size(); // Unigram: [[piece, score], ...]
        }
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            String content = t.path("content").asText(null);
            if (id < 0 || content == null) throw new IOException(tj + ": added_tokens entry without id or content: " + t);
            added.put(content, id);
            size = Math.max(size, id + 1);
            if (t.path("special").asBoolean(false)) {
                specialIds.add(id);
                specialText.put(id, content);
            }
        }
        if (size == 0) throw new IOException(tj + ": no vocabulary");
        JsonNode dec = root.path("decoder");
        boolean byteLevel = "ByteLevel".equals(dec.path("type").asText())
                || ("Sequence".equals(dec.path("type").asText()) && hasByteLevel(dec.path("decoders")));

        Map<String, Object> stm = new LinkedHashMap<>();
        String where = dir.resolve(CONFIG_FILE).toString();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")) {
            String v = tokenText(cfg, key, where);
            if (v != null) stm.put(key, v);
        }
        JsonNode extra = cfg.path("additional_special_tokens");
        if (extra.isArray()) {
            List<Object> list = new ArrayList<>();
            for (JsonNode e : extra) list.add(e.isTextual() ? e.textValue() : e.path("content").asText());
            stm.put("additional_special_tokens", Collections.unmodifiableList(list));
        }
        Map<String, String> templates = chatTemplates(dir, cfg);
        boolean split = cfg.path("split_special_tokens").asBoolean(false);

        String name = "hf:" + (dir.getFileName() == null ? dir.toString() : dir.getFileName().toString());
        Shared sh = new Shared(name, dir, json, full, size, byteLevel, Collections.unmodifiableMap(stm),
                Collections.unmodifiableMap(templates), split);
        sh.added.putAll(added);
        sh.specialIds.addAll(specialIds);
        sh.specialText.putAll(specialText);

        List<Integer> eosIds = new ArrayList<>();
        addIds(eosIds, gen.get("eos_token_id"), dir.resolve(GENERATION_CONFIG_FILE) + ": eos_token_id", size);
        addIds(eosIds, model.get("eos_token_id"), dir.resolve(MODEL_CONFIG_FILE) + ": eos_token_id", size);
        Integer eos = idOf(sh, (String) stm.get("eos_token"), where + ": eos_token");
        if (eos == null && !eosIds.isEmpty()) eos = eosIds.get(0);
        if (eos == null) throw new IOException(dir + ": no EOS token (tokenizer_config.json eos_token, or eos_token_id in "
                + GENERATION_CONFIG_FILE + " or " + MODEL_CONFIG_FILE + ")");
        Integer pad = idOf(sh, (String) stm.get("pad_token"), where + ": pad_token");
        if (pad == null) pad = eos;
        Integer bos = idOf(sh, (String) stm.get("bos_token"), where + ": bos_token");
        if (bos == null) {
            Integer cfgBos = intOrNull(model.get("bos_token_id"));
            bos = cfgBos != null && cfgBos >= 0 && cfgBos < size ? cfgBos : pad;
        }
        sh.eos = eos;
        sh.pad = pad;
        sh.bos = bos;
        LinkedHashSet<Integer> stops = new LinkedHashSet<>();
        stops.add(eos);
        stops.addAll(eosIds);
        sh.stops.addAll(stops);
        return new HfTokenizer(sh, size);
    }

    /** The same tokenizer for a model of {@code modelVocab} embedding rows (≥ the tokenizer's own size). */
    public HfTokenizer withVocabSize(int modelVocab) {
        if (modelVocab < s.size)
            throw new IllegalArgumentException("the model's vocabulary of " + modelVocab + " is smaller than the tokenizer's "
                    + s.size + " ids (" + s.dir + ")");
        return modelVocab == vocabSize ? this : new HfTokenizer(s, modelVocab);
    }

    /** The tokenizer's own size: its largest id + 1. */
    public int tokenizerSize() {
        return s.size;
    }

    /** The folder it was read from. */
    public Path dir() {
        return s.dir;
    }

    @Override public String name() { return s.name; }
    @Override public int vocabSize() { return vocabSize; }
    @Override public int eosId() { return s.eos; }
    @Override public int bosId() { return s.bos; }
    @Override public int padId() { return s.pad; }

    /** EOS first, then every other {@code eos_token_id} of generation_config.json and config.json: generation stops at any. */
    @Override
    public int[] stopIds() {
        return s.stops.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The values transformers passes to a chat template besides the messages: {@code bos_token}, {@code eos_token},
     * {@code unk_token}, {@code pad_token}, ... (those set) and {@code additional_special_tokens}.
     */
    public Map<String, Object> specialTokensMap() {
        return s.specialTokensMap;
    }

    /**
     * {@code tokenizer_config.json}'s chat templates by name: a single string is named {@code "default"}; a list of
     * {@code {name, template}} keeps its names; {@value #CHAT_TEMPLATE_FILE} (newer transformers save the template
     * there) is {@code "default"} when the config has none. Empty when the tokenizer has no template.
     */
    public Map<String, String> chatTemplates() {
        return s.chatTemplates;
    }

    /** The default chat template, or null. */
    public String chatTemplate() {
        return s.chatTemplates.get("default");
    }

    /** The id of an added token's text (special or not), or -1. */
    public int addedTokenId(String text) {
        Integer id = s.added.get(text);
        return id == null ? -1 : id;
    }

    /** True when tokenizer_config.json sets {@code split_special_tokens} (special tokens in text are text). */
    public boolean splitSpecialTokens() {
        return s.splitSpecialTokens;
    }

    @Override
    public boolean isSpecial(int id) {
        Ids.checkId("id", id, vocabSize);
        return id >= s.size || s.specialIds.contains(id);
    }

    @Override
    public String tokenText(int id) {
        Ids.checkId("id", id, vocabSize);
        if (id >= s.size) return unused(id);
        String sp = s.specialText.get(id);
        if (sp != null) return sp;
        return s.full.decode(new long[] {id}, false);
    }

    private static String unused(int id) {
        return "<|unused:" + id + "|>";
    }

    @Override
    public int[] encode(String text) {
        Ids.notNull("text", text);
        if (text.isEmpty()) return new int[0];
        return Native.ids(plain(), text);
    }

    /**
     * transformers' {@code tokenizer(text, add_special_tokens=False)}: added tokens written in the text are their
     * ids (unless tokenizer_config.json sets {@code split_special_tokens}); no BOS/EOS is added.
     */
    public int[] encodeWithSpecials(String text) {
        Ids.notNull("text", text);
        if (text.isEmpty()) return new int[0];
        return Native.ids(s.splitSpecialTokens ? plain() : s.full, text);
    }

    /** Ids with each token's character span in {@code text} (UTF-16 indices, end exclusive). */
    public record Encoded(int[] ids, int[] start, int[] end) {}

    /** {@link #encodeWithSpecials(String)} with each token's span of {@code text}, as UTF-16 indices. */
    public Encoded encodeWithOffsets(String text) {
        Ids.notNull("text", text);
        if (text.isEmpty()) return new Encoded(new int[0], new int[0], new int[0]);
        HuggingFaceTokenizer t = s.splitSpecialTokens ? plain() : s.full;
        long enc = TokenizersLibrary.LIB.encode(t.getHandle(), text, false);
        int[] ids;
        CharSpan[] spans;
        try {
            ids = Native.ints(TokenizersLibrary.LIB.getTokenIds(enc));
            spans = TokenizersLibrary.LIB.getTokenCharSpans(enc);
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(enc);
        }
        // the Rust offsets count Unicode scalar values; Java strings count UTF-16 units
        int cps = text.codePointCount(0, text.length());
        int[] utf16 = new int[cps + 1];
        for (int i = 0, cp = 0; i < text.length(); cp++) {
            utf16[cp] = i;
            i += Character.charCount(text.codePointAt(i));
        }
        utf16[cps] = text.length();
        int[] st = new int[ids.length], en = new int[ids.length];
        for (int j = 0; j < ids.length; j++) {
            CharSpan c = spans == null || j >= spans.length ? null : spans[j];
            int a = c == null ? 0 : Math.max(0, Math.min(cps, c.getStart()));
            int b = c == null ? 0 : Math.max(a, Math.min(cps, c.getEnd()));
            st[j] = utf16[a];
            en[j] = utf16[b];
        }
        return new Encoded(ids, st, en);
    }


    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        Ids.checkIds(ids, vocabSize);
        StringBuilder out = new StringBuilder();
        int start = 0;
        for (int i = 0; i <= ids.length; i++) {
            if (i < ids.length && ids[i] < s.size) continue;
            if (i > start) out.append(s.full.decode(longs(ids, start, i), skipSpecial));
            if (i < ids.length && !skipSpecial) out.append(unused(ids[i]));
            start = i + 1;
        }
        return out.toString();
    }

    /**
     * The bytes of the ordinary tokens, specials skipped. Byte-level tokenizers (GPT-2 style: Qwen, Llama 3, SmolLM2)
     * give each token's exact bytes, so a character split over tokens can be streamed; others (SentencePiece style)
     * give the UTF-8 of the decoded text.
     */
    @Override
    public byte[] decodeBytes(int[] ids) {
        Ids.checkIds(ids, vocabSize);
        if (!s.byteLevelDecoder) {
            int[] ordinary = java.util.Arrays.stream(ids).filter(id -> !isSpecial(id)).toArray();
            return decode(ordinary, true).getBytes(StandardCharsets.UTF_8);
        }
        String[] v = vocabStrings();
        int[] byteOf = ByteLevel.CHAR_TO_BYTE;
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 3);
        for (int id : ids) {
            if (isSpecial(id)) continue;
            String t = v[id];
            if (t == null) continue;
            boolean added = s.added.containsKey(t) && s.added.get(t) == id;
            if (added) {
                out.writeBytes(t.getBytes(StandardCharsets.UTF_8)); // added tokens are stored as their text
                continue;
            }
            for (int k = 0; k < t.length(); k++) {
                char c = t.charAt(k);
                int b = c < byteOf.length ? byteOf[c] : -1;
                if (b >= 0) out.write(b);
                else out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toByteArray();
    }

    private String[] vocabStrings() {
        String[] v = s.vocab;
        if (v != null) return v;
        synchronized (s) {
            if (s.vocab != null) return s.vocab;
            String[] out = new String[s.size];
            try {
                JsonNode root = JSON.readTree(s.tokenizerJson);
                JsonNode vocab = root.path("model").path("vocab");
                for (var it = vocab.fields(); it.hasNext(); ) {
                    var e = it.next();
                    int id = e.getValue().asInt();
                    if (id >= 0 && id < out.length) out[id] = e.getKey();
                }
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            for (var e : s.added.entrySet()) out[e.getValue()] = e.getKey();
            s.vocab = out;
            return out;
        }
    }

    private static long[] longs(int[] ids, int from, int to) {
        long[] l = new long[to - from];
        for (int i = from; i < to; i++) l[i - from] = ids[i];
        return l;
    }

    /** The copy whose special added tokens are plain text (made on first use). */
    private HuggingFaceTokenizer plain() {
        HuggingFaceTokenizer p = s.plain;
        if (p != null) return p;
        synchronized (s) {
            if (s.plain == null) {
                try {
                    // Removing the special added tokens would renumber the others (tokenizers assigns the ids of added
                    // tokens that are not in the model's vocabulary in order), so each keeps its id under a text no
                    // input contains: a per-process random name between U+FFFF noncharacters.
                    ObjectNode root = (ObjectNode) JSON.readTree(s.tokenizerJson);
                    String nonce = java.util.UUID.randomUUID().toString();
                    for (JsonNode t : root.path("added_tokens")) {
                        if (t.path("special").asBoolean(false))
                            ((ObjectNode) t).put("content", "\uFFFFalign4j-" + nonce + "-" + t.path("id").asInt() + "\uFFFF");
                    }
                    s.plain = Native.create(JSON.writeValueAsString(root), s.dir.resolve(TOKENIZER_FILE));
                } catch (IOException e) {
                    throw new IllegalStateException(s.dir + ": " + e.getMessage(), e);
                }
            }
            return s.plain;
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer(" + s.dir + ", " + s.size + " ids" + (vocabSize != s.size ? ", padded to " + vocabSize : "")
                + ", eos=" + s.eos + ")";
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Creating DJL tokenizers: offline, from a JSON string, with SLF4J's "no provider" notice silenced. */
    private static final class Native {
        static {
            if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
            if (System.getProperty("slf4j.internal.verbosity") == null) System.setProperty("slf4j.internal.verbosity", "ERROR");
        }

        /**
         * The ids of {@code text} without special tokens, through the binding's low-level calls: DJL's
         * {@code encode()} also fetches the tokens' strings, type ids, masks and offsets, which costs ~3x.
         */
        static int[] ids(HuggingFaceTokenizer t, String text) {
            long enc = TokenizersLibrary.LIB.encode(t.getHandle(), text, false);
            try {
                return ints(TokenizersLibrary.LIB.getTokenIds(enc));
            } finally {
                TokenizersLibrary.LIB.deleteEncoding(enc);
            }
        }

        static int[] ints(long[] l) {
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) out[i] = Math.toIntExact(l[i]);
            return out;
        }

        static HuggingFaceTokenizer create(String json, Path where) throws IOException {
            Map<String, String> opts = new HashMap<>();
            opts.put("addSpecialTokens", "false");
            opts.put("truncation", "false");
            opts.put("padding", "false");
            opts.put("maxLength", "-1");
            try {
                return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), opts);
            } catch (RuntimeException e) {
                throw new IOException(where + ": Hugging Face tokenizers cannot load it: " + e.getMessage(), e);
            }
        }
    }

    /** GPT-2's byte-to-character table, inverted: the byte each character of a byte-level token stands for. */
    static final class ByteLevel {
        static final int[] CHAR_TO_BYTE = new int[512];

        static {
            java.util.Arrays.fill(CHAR_TO_BYTE, -1);
            int n = 0;
            for (int b = 0; b < 256; b++) {
                boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                int c = printable ? b : 256 + n++;
                CHAR_TO_BYTE[c] = b;
            }
        }
    }

    private static boolean hasByteLevel(JsonNode decoders) {
        for (JsonNode d : decoders) if ("ByteLevel".equals(d.path("type").asText())) return true;
        return false;
    }

    private static JsonNode readJson(Path p, String text) throws IOException {
        try {
            JsonNode n = JSON.readTree(text);
            if (n == null || !n.isObject()) throw new IOException(p + ": must be a JSON object");
            return n;
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            throw new IOException(p + (at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr()) + ": not valid JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    private static JsonNode optionalJson(Path p) throws IOException {
        if (!Files.isRegularFile(p)) return JSON.createObjectNode();
        return readJson(p, Files.readString(p));
    }

    /** A special token setting: a string, an AddedToken object ({@code {"content": ...}}), or absent/null. */
    private static String tokenText(JsonNode cfg, String key, String where) {
        JsonNode v = cfg.get(key);
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.textValue();
        if (v.isObject() && v.path("content").isTextual()) return v.path("content").textValue();
        throw new IllegalArgumentException(where + ": " + key + " must be a string or an object with \"content\", got " + v);
    }

    private static Integer idOf(Shared sh, String text, String what) throws IOException {
        if (text == null) return null;
        Integer id = sh.added.get(text);
        if (id != null) return id;
        Encoding e = sh.full.encode(text, false, false);
        long[] ids = e.getIds();
        if (ids.length != 1) throw new IOException(what + " \"" + text + "\" is not a single token (" + ids.length + " ids)");
        return Math.toIntExact(ids[0]);
    }

    private static Integer intOrNull(JsonNode v) {
        return v != null && v.isIntegralNumber() && v.canConvertToInt() ? v.intValue() : null;
    }

    private static void addIds(List<Integer> out, JsonNode v, String what, int size) {
        if (v == null || v.isNull()) return;
        List<JsonNode> items = new ArrayList<>();
        if (v.isArray()) v.forEach(items::add);
        else items.add(v);
        for (JsonNode x : items) {
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0)
                throw new IllegalArgumentException(what + " must be a token id or a list of them, got " + v);
            if (x.intValue() < size && !out.contains(x.intValue())) out.add(x.intValue());
        }
    }

    private static Map<String, String> chatTemplates(Path dir, JsonNode cfg) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        JsonNode t = cfg.get("chat_template");
        String where = dir.resolve(CONFIG_FILE) + ": chat_template";
        if (t != null && !t.isNull()) {
            if (t.isTextual()) out.put("default", t.textValue());
            else if (t.isArray()) {
                for (JsonNode e : t) {
                    if (!e.path("name").isTextual() || !e.path("template").isTextual())
                        throw new IllegalArgumentException(where + ": each entry must be {\"name\": ..., \"template\": ...}, got " + e);
                    out.put(e.path("name").textValue(), e.path("template").textValue());
                }
            } else throw new IllegalArgumentException(where + " must be a string or a list of {name, template}, got " + t.getNodeType());
        }
        Path file = dir.resolve(CHAT_TEMPLATE_FILE);
        if (!out.containsKey("default") && Files.isRegularFile(file)) out.put("default", Files.readString(file));
        // a list without "default": transformers then needs an explicit name; keep the names as given
        return out;
    }
}
