package dev.align4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.io.AtomicFiles;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * LoRA adapters in Hugging Face PEFT's folder format, which {@code PeftModel.from_pretrained(base, dir)} loads:
 * {@value #CONFIG} ({@code peft_type} LORA, {@code r}, {@code lora_alpha}, {@code lora_dropout},
 * {@code target_modules}, {@code use_rslora}, {@code base_model_name_or_path}, ...) and {@value #WEIGHTS} with
 * PEFT's key names: {@code base_model.model.<module>.lora_A.weight [r, in]} and {@code ....lora_B.weight [out, r]},
 * the module path as transformers names it ({@code transformer.h.0.attn.c_attn} in GPT2LMHeadModel,
 * {@code model.layers.0.self_attn.q_proj} in LlamaForCausalLM). GPT-2's Conv1D modules keep those shapes (PEFT's
 * {@code fan_in_fan_out} transposes only the base weight), and the config says {@code fan_in_fan_out: true}.
 *
 * <p>{@code base_model_name_or_path} is the base's folder as an absolute path when align4j writes it. On reading,
 * a relative path is looked up against the adapter's folder, then the working directory; a Hugging Face hub id
 * (which needs a download) fails naming the field.
 */
public final class PeftAdapter {
    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";

    private PeftAdapter() {}

    /**
     * A new model: {@code adapted}'s base with its adapters merged in ({@code W += s·B·A} on each adapted module; PEFT's
     * {@code merge_and_unload}), no adapters, the same carried files; {@code adapted} is unchanged.
     */
    public static CausalLm merge(CausalLm adapted) {
        LoraAdapters lora = adapted.lora();
        if (lora == null) throw new IllegalArgumentException("the model has no LoRA adapters to merge");
        CausalLmBase<?> m = ((CausalLmBase<?>) adapted).copyBase();
        try {
            lora.mergeInto(m);
            return m;
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /** Whether {@code dir} holds a PEFT adapter ({@value #CONFIG}). */
    public static boolean isAdapterFolder(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** The prefix of every key of {@code model}'s family: PEFT's wrapper names plus the causal-LM class's own. */
    static String keyPrefix(CausalLm model) {
        return model instanceof Gpt ? "base_model.model.transformer." : "base_model.model.";
    }

    /**
     * Writes {@code model}'s adapters into {@code dir} as a whole (an interrupted save leaves the previous folder
     * intact): {@value #CONFIG}, {@value #WEIGHTS} (the options' dtype and metadata) and the model's carried tokenizer
     * files, so the folder serves wherever a model folder's tokenizer is read. The base must have been loaded from a
     * folder ({@link CausalLm#source()}): that folder is the pointer.
     */
    static void save(CausalLm model, Path dir, SaveOptions options) throws IOException {
        LoraAdapters lora = model.lora();
        if (lora == null) throw new IllegalStateException("the model has no LoRA adapters");
        Path base = model.source();
        if (base == null)
            throw new IllegalStateException("LoRA adapters point at their base's folder, but this base was not loaded from one:"
                    + " save the base first (saveBase) and load it from there");
        String configText = configJson(model, lora, base);
        String prefix = keyPrefix(model);
        SafeTensorsWriter w = new SafeTensorsWriter();
        w.metadata("format", "pt");
        for (Map.Entry<String, String> m : options.metadata().entrySet()) w.metadata(m.getKey(), m.getValue());
        for (ParamLayout.Entry e : lora.layout().entries())
            w.putFloats(prefix + e.name(), lora.layout().view(lora.params(), e.name()).toFloatArray(), options.dtype(), e.shape());
        Map<String, byte[]> files = new java.util.LinkedHashMap<>(model.carriedFiles());
        files.putAll(options.files());
        AtomicFiles.replaceDirectory(dir, name -> name.equals(CONFIG) || name.equals(WEIGHTS) || files.containsKey(name), tmp -> {
            write(tmp.resolve(WEIGHTS), w::writeTo);
            write(tmp.resolve(CONFIG), ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(configText.getBytes(StandardCharsets.UTF_8))));
            for (Map.Entry<String, byte[]> f : files.entrySet())
                write(tmp.resolve(f.getKey()), ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(f.getValue())));
        });
    }

    private static void write(Path path, AtomicFiles.Body body) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            body.writeTo(ch);
        }
    }

    /** PEFT's adapter_config.json for these adapters (keys sorted, 2-space indent, as PEFT's json.dumps). */
    static String configJson(CausalLm model, LoraAdapters lora, Path base) {
        LoraConfig c = lora.config();
        ObjectNode o = ConfigJson.JSON.createObjectNode();
        o.put("base_model_name_or_path", base.toString());
        o.put("bias", "none");
        o.put("fan_in_fan_out", model instanceof Gpt);
        o.put("inference_mode", true);
        o.put("init_lora_weights", true);
        if (c.alpha() == Math.rint(c.alpha()) && Math.abs(c.alpha()) < 1e9) o.put("lora_alpha", (long) c.alpha());
        else o.put("lora_alpha", c.alpha());
        o.put("lora_dropout", c.dropout());
        o.putNull("modules_to_save");
        o.put("peft_type", "LORA");
        o.put("r", c.r());
        ArrayNode t = o.putArray("target_modules");
        // "all-linear" is resolved as PEFT resolves it before saving: the names of the modules it chose
        Set<String> names = new TreeSet<>();
        if (c.targets().contains(LoraConfig.ALL_LINEAR)) {
            for (LoraAdapters.Site s : lora.sites()) names.add(s.module().substring(s.module().lastIndexOf('.') + 1));
        } else {
            names.addAll(c.targets());
        }
        names.forEach(t::add);
        o.put("task_type", "CAUSAL_LM");
        o.put("use_dora", false);
        o.put("use_rslora", c.rslora());
        return ConfigJson.toText(o, Map.of());
    }

    /** The LoRA settings of an {@value #CONFIG}; what align4j cannot run (DoRA, bias training, regex targets) fails naming the field. */
    public static LoraConfig readConfig(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG);
        JsonNode root = ConfigJson.read(file);
        try {
            String type = ConfigJson.text(root, "peft_type", null);
            if (!"LORA".equals(type)) throw new IllegalArgumentException("peft_type is " + type + ", only LORA adapters are supported");
            if (ConfigJson.bool(root, "use_dora", false)) throw new IllegalArgumentException("use_dora: DoRA adapters are not supported");
            String bias = ConfigJson.text(root, "bias", "none");
            if (!bias.equals("none")) throw new IllegalArgumentException("bias is '" + bias + "': only 'none' is supported");
            JsonNode mts = root.get("modules_to_save");
            if (mts != null && !mts.isNull() && !(mts.isArray() && mts.isEmpty()))
                throw new IllegalArgumentException("modules_to_save " + mts + ": fully trained extra modules are not supported");
            for (String k : List.of("rank_pattern", "alpha_pattern")) {
                JsonNode p = root.get(k);
                if (p != null && !p.isNull() && !p.isEmpty()) throw new IllegalArgumentException(k + " " + p + ": per-module ranks and alphas are not supported");
            }
            int r = ConfigJson.integer(root, "r", 8);
            double alpha = ConfigJson.number(root, "lora_alpha", 8);
            double dropout = ConfigJson.number(root, "lora_dropout", 0);
            boolean rslora = ConfigJson.bool(root, "use_rslora", false);
            JsonNode tm = root.get("target_modules");
            List<String> targets = new ArrayList<>();
            if (tm == null || tm.isNull()) throw new IllegalArgumentException("target_modules is missing");
            if (tm.isTextual()) {
                if (!tm.textValue().equals(LoraConfig.ALL_LINEAR))
                    throw new IllegalArgumentException("target_modules '" + tm.textValue() + "': a regular expression is not supported; list the module names");
                targets.add(LoraConfig.ALL_LINEAR);
            } else if (tm.isArray()) {
                for (JsonNode n : tm) {
                    if (!n.isTextual()) throw new IllegalArgumentException("target_modules must hold strings, got " + n);
                    targets.add(n.textValue());
                }
            } else {
                throw new IllegalArgumentException("target_modules must be a list of names, got " + tm);
            }
            return new LoraConfig(r, alpha, dropout, rslora, targets);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** The base folder an adapter folder points at ({@code base_model_name_or_path}), resolved (class comment). */
    public static Path basePath(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG);
        String ref;
        try {
            ref = ConfigJson.text(ConfigJson.read(file), "base_model_name_or_path", null);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        if (ref == null || ref.isBlank()) throw new IOException(file + ": base_model_name_or_path is missing: pass the base model's folder");
        List<Path> tried = new ArrayList<>();
        Path p = Path.of(ref);
        if (p.isAbsolute()) tried.add(p);
        else {
            tried.add(dir.resolve(p));
            tried.add(p.toAbsolutePath());
        }
        for (Path t : tried) if (Files.isRegularFile(t.resolve("config.json"))) return t.normalize();
        throw new IOException(file + ": base_model_name_or_path '" + ref + "' is not a model folder here (looked in " + tried
                + "); a Hugging Face hub id must be downloaded first: pass its folder");
    }

    /**
     * The model of an adapter folder: {@code base} (which becomes the returned model's; null: loaded from
     * {@link #basePath}) with the adapters attached and read from {@value #WEIGHTS}. Every key must be one PEFT
     * writes for the config's targets, with its shape; a missing, extra or mis-shaped tensor fails naming it.
     */
    public static CausalLm load(Path dir, CausalLm base, Device device) throws IOException {
        LoraConfig config = readConfig(dir);
        if (base != null && base.lora() != null) throw new IllegalArgumentException("the base model already has adapters");
        CausalLm model = base != null ? base : CausalLm.load(basePath(dir), device);
        try {
            // (a base given by the caller that fails below is left without adapters again)
            LoraAdapters lora;
            try {
                lora = model.attachLora(config, 0);
            } catch (IllegalArgumentException e) {
                throw new IOException(dir.resolve(CONFIG) + ": " + e.getMessage(), e);
            }
            Path wf = dir.resolve(WEIGHTS);
            String prefix = keyPrefix(model);
            try (SafeTensorsFile f = SafeTensorsFile.open(wf)) {
                Set<String> expected = new HashSet<>();
                for (ParamLayout.Entry e : lora.layout().entries()) {
                    String key = prefix + e.name();
                    expected.add(key);
                    if (!f.contains(key))
                        throw new IOException(wf + ": no tensor " + key + " (the config targets " + config.targets() + ")");
                    lora.layout().view(lora.params(), e.name()).copyFrom(f.finiteFloats(key, e.shape()));
                }
                for (String k : f.names())
                    if (!expected.contains(k))
                        throw new IOException(wf + ": tensor " + k + " is not a LoRA weight of the targeted modules " + config.targets()
                                + " of this " + model.config().getClass().getSimpleName().replace("Config", "") + " base");
            }
            if (model instanceof CausalLmBase<?> b) b.carryAdapterFiles(dir);
            return model;
        } catch (IOException | RuntimeException | Error e) {
            if (base == null) model.close();
            else if (base.lora() != null && base instanceof CausalLmBase<?> b) b.detachLora();
            throw e;
        }
    }
}
