package dev.align4j.cli;

import dev.align4j.model.CausalLm;
import dev.align4j.model.PeftAdapter;
import dev.align4j.model.RewardModel;
import dev.align4j.model.SafeTensorsDType;
import dev.align4j.model.SaveOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code align4j merge}: a LoRA adapter folder merged into its base ({@code W += s·B·A}, PEFT's
 * {@code merge_and_unload}), written as a plain Hugging Face model folder; a reward model's score head goes with it.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Merge LoRA adapters into their base model: W += (alpha/r)·B·A on each adapted module.",
                "Writes --out as a Hugging Face model folder (with the adapter's tokenizer files and, for a",
                "reward model, its score head) that loads without the adapters."})
public final class MergeCommand extends BaseCommand {
    @Option(names = "--adapter", paramLabel = "DIR", required = true,
            description = "the LoRA adapter folder (adapter_config.json + adapter_model.safetensors), or a run folder of one")
    Path adapterPath;

    @Option(names = "--base", paramLabel = "DIR", description = "the base model (default: the adapter's base_model_name_or_path)")
    Path basePath;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "the merged model's folder (written as a whole)")
    Path out;

    @Option(names = "--save-dtype", paramLabel = "float32|bfloat16|float16", description = "dtype of the merged weights (default float32)")
    String saveDtype = "float32";

    @Override
    protected int run() throws Exception {
        RunOptions dtype = new RunOptions();
        dtype.saveDtype = saveDtype;
        SafeTensorsDType d = dtype.saveDtype();
        Path adapter = ModelPaths.modelDir(adapterPath, "--adapter");
        if (!PeftAdapter.isAdapterFolder(adapter))
            throw CliException.usage("--adapter: " + adapter + " has no " + PeftAdapter.CONFIG + " (not a LoRA adapter folder)");
        Path base = basePath != null ? ModelPaths.modelDir(basePath, "--base") : PeftAdapter.basePath(adapter);
        if (PeftAdapter.isAdapterFolder(base)) throw CliException.usage("--base: " + base + " is itself an adapter folder");
        if (Files.exists(out) && out.toAbsolutePath().normalize().equals(base.toAbsolutePath().normalize()))
            throw CliException.usage("--out must not be the base model's folder " + base);
        try (CausalLm adapted = PeftAdapter.load(adapter, ModelPaths.loadGpt(base, "--base", device()), device());
             CausalLm merged = PeftAdapter.merge(adapted)) {
            SaveOptions o = SaveOptions.DEFAULT.withDtype(d);
            Path head = adapter.resolve(RewardModel.HEAD_FILE);
            if (Files.isRegularFile(head)) o = o.withFile(RewardModel.HEAD_FILE, Files.readAllBytes(head));
            merged.save(out, o);
            result("merge: %d adapted modules of %s (r %d, scaling %.4g) merged into %s; saved to %s", adapted.lora().sites().size(),
                    ModelPaths.describe(adapted.config()), adapted.lora().config().r(), adapted.lora().scaling(), base, out);
        }
        return 0;
    }
}
