package dev.align4j.cli;

import dev.align4j.model.CausalLm;
import dev.align4j.model.HfGpt2Layout;
import dev.align4j.model.LmConfig;
import dev.align4j.model.PeftAdapter;
import dev.align4j.model.SafeTensorsCheckpoint;
import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import dev.align4j.train.RunDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model is: {@code --init}, {@code --model}, {@code --policy} and {@code --reward-model} take either a model
 * directory ({@code config.json} + {@code model.safetensors} or a sharded {@code model.safetensors.index.json}, in
 * Hugging Face's layout for its {@code model_type}: gpt2, llama, mistral, qwen2 or qwen3; what
 * {@link CausalLm#save} writes, a {@code DIR/model/} of a training command, or a downloaded HF model; a reward model also has
 * {@value RewardModel#HEAD_FILE}; or a LoRA adapter folder in PEFT's format, loaded on the base it points at), or a run
 * folder, whose {@code latest} checkpoint is used. And which tokenizer
 * goes with a model: {@code --tokenizer byte|gpt2}, or inferred from the vocabulary (259 or 320: byte, 50257: gpt2).
 */
public final class ModelPaths {
    /** The folder a training command writes its final model to, inside its run folder. */
    public static final String FINAL_MODEL = "model";

    private ModelPaths() {}

    /** The model directory {@code path} names (itself, or a run folder's latest checkpoint). */
    public static Path modelDir(Path path, String option) throws IOException {
        if (path == null) throw CliException.usage(option + " is required");
        if (!Files.exists(path)) throw CliException.usage(option + ": no such file or directory: " + path);
        if (isModelDir(path)) return path;
        if (Files.isDirectory(path) && RunDirectory.hasCheckpoint(path)) return latestModelDir(path, option);
        throw CliException.usage(option + ": " + path + " is neither a model directory (" + HfGpt2Layout.CONFIG_FILE + " + "
                + SafeTensorsCheckpoint.SINGLE_FILE + " or " + SafeTensorsCheckpoint.INDEX_FILE + ") nor a run folder with a '" + RunDirectory.LATEST + "' checkpoint");
    }

    /** The checkpoint a run folder's {@code latest} names, which must be a model directory. */
    private static Path latestModelDir(Path run, String option) {
        Path ck;
        try {
            ck = RunDirectory.latest(run);
        } catch (IOException e) {
            throw CliException.usage(option + ": " + e.getMessage());
        }
        if (!isModelDir(ck))
            throw CliException.usage(option + ": " + run.resolve(RunDirectory.LATEST) + " names " + ck + ", which is not a model"
                    + " directory (" + HfGpt2Layout.CONFIG_FILE + " + " + HfGpt2Layout.WEIGHTS_FILE + ")");
        return ck;
    }

    static boolean isModelDir(Path p) {
        if (PeftAdapter.isAdapterFolder(p)) return true;
        return Files.isRegularFile(p.resolve(HfGpt2Layout.CONFIG_FILE))
                && (Files.isRegularFile(p.resolve(SafeTensorsCheckpoint.SINGLE_FILE))
                    || Files.isRegularFile(p.resolve(SafeTensorsCheckpoint.INDEX_FILE)));
    }

    /** The shape of the model {@code path} names: its config.json (any supported model_type), read without the weights. */
    static LmConfig readConfig(Path path, String option) throws IOException {
        return LmConfig.read(configDir(modelDir(path, option)).resolve(HfGpt2Layout.CONFIG_FILE));
    }

    /** The folder of a model directory's config.json: itself, or for a LoRA adapter folder the base it points at. */
    static Path configDir(Path dir) throws IOException {
        return PeftAdapter.isAdapterFolder(dir) ? PeftAdapter.basePath(dir) : dir;
    }

    /** Loads the GPT {@code path} names onto {@code device}; a model too large to fit is refused before its weights are read. */
    public static CausalLm loadGpt(Path path, String option, Device device) throws IOException {
        return CausalLm.load(fitting(path, option, device), device);
    }

    /** Loads the reward model (backbone + scalar head) {@code path} names onto {@code device}. */
    public static RewardModel loadRewardModel(Path path, String option, Device device) throws IOException {
        Path dir = fitting(path, option, device);
        if (!Files.isRegularFile(dir.resolve(RewardModel.HEAD_FILE)))
            throw CliException.usage(option + ": " + dir + " has no " + RewardModel.HEAD_FILE
                    + " (a policy, not a reward model? train one with align4j rm)");
        return RewardModel.load(dir, device);
    }

    /** The model directory of {@code path}, once its config says the model fits in memory ({@link MemoryBudget}). */
    private static Path fitting(Path path, String option, Device device) throws IOException {
        Path dir = modelDir(path, option);
        MemoryBudget.requireModel(readConfig(dir, option), device, option + " " + path);
        return dir;
    }

    /**
     * The tokenizer {@code name} (null: inferred from {@code vocab}: 259 or 320 byte, 50257 gpt2), checked against
     * the model's vocabulary.
     */
    public static Tokenizer tokenizer(String name, int vocab) {
        if (name == null) {
            if (vocab == ByteTokenizer.BASE_VOCAB) return new ByteTokenizer();
            if (vocab == 320) return ByteTokenizer.padded(64);
            if (vocab == 50257) return Tokenizers.byName("gpt2");
            throw CliException.usage("cannot infer the tokenizer from the model's vocabulary of " + vocab
                    + " (259 or 320: byte, 50257: gpt2); pass --tokenizer byte|gpt2");
        }
        Tokenizer t;
        switch (name) {
            case "byte" -> {
                if (vocab < ByteTokenizer.BASE_VOCAB)
                    throw CliException.usage("--tokenizer byte needs a vocabulary of at least " + ByteTokenizer.BASE_VOCAB
                            + ", the model has " + vocab);
                t = ByteTokenizer.padded(vocab); // exactly vocab ids: 259 plus unused padding ids
            }
            case "gpt2" -> t = Tokenizers.byName("gpt2");
            default -> throw CliException.usage("--tokenizer: expected byte or gpt2, got '" + name + "'");
        }
        if (t.vocabSize() > vocab)
            throw CliException.usage("--tokenizer " + name + " has " + t.vocabSize() + " ids, more than the model's vocabulary "
                    + vocab);
        return t;
    }

    /** The tokenizer of a fresh model: byte (vocabulary padded to 320, a multiple of 64) or gpt2. */
    public static Tokenizer freshTokenizer(String name) {
        if (name == null || name.equals("byte")) return ByteTokenizer.padded(64);
        if (name.equals("gpt2")) return Tokenizers.byName("gpt2");
        throw CliException.usage("--tokenizer: expected byte or gpt2, got '" + name + "'");
    }

    /** A short description of a model's shape: "gpt2, 2 layers x 32 wide, 2 heads, context 64, vocabulary 320". */
    public static String describe(dev.align4j.model.LmConfig c) {
        return c.describe();
    }

    /** Saves {@code model} as {@code out/model/} in --save-dtype (rank 0 of a data-parallel job); returns that folder. */
    public static Path saveFinal(CausalLm model, RunOptions run) throws IOException {
        Path dir = run.out.resolve(FINAL_MODEL);
        if (Launch.primary()) model.save(dir, dev.align4j.model.SaveOptions.DEFAULT.withDtype(run.saveDtype()));
        return dir;
    }

    /** Saves {@code rm} as {@code out/model/} (backbone + score head; rank 0); returns that folder. */
    public static Path saveFinal(RewardModel rm, RunOptions run) throws IOException {
        Path dir = run.out.resolve(FINAL_MODEL);
        if (Launch.primary()) rm.save(dir, run.saveDtype());
        return dir;
    }

    /** The model config of the latest checkpoint of the run folder {@code out} (for --resume). */
    static LmConfig checkpointConfig(Path out) {
        return BaseCommand.resumed(out, () -> LmConfig.read(
                configDir(dev.align4j.train.RunDirectory.latest(out)).resolve(HfGpt2Layout.CONFIG_FILE)));
    }
}
