package dev.align4j.cli;

import dev.align4j.model.CausalLm;
import dev.align4j.model.LoraAdapters;
import dev.align4j.model.LoraConfig;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The LoRA flags of the training commands: with {@code --lora-r R} the starting model's base is frozen and LoRA
 * adapters of rank R train instead; checkpoints and the final model are then PEFT adapter folders that point at the
 * base's folder. A starting model that is itself an adapter folder trains its own adapters (no flag needed).
 */
public final class LoraOptions {
    @Option(names = "--lora-r", paramLabel = "R", description = "train LoRA adapters of rank R on the frozen model (PEFT format)"
            + " instead of every weight")
    Integer r;

    @Option(names = "--lora-alpha", paramLabel = "A", description = "LoRA alpha: the update is scaled by alpha / r (default 8, PEFT's)")
    Double alpha;

    @Option(names = "--lora-dropout", paramLabel = "P", description = "LoRA dropout: only 0 (align4j trains without dropout)")
    Double dropout;

    @Option(names = "--lora-targets", paramLabel = "M[,M...]", split = ",", description = "modules that get adapters, by name as PEFT"
            + " matches them (q_proj,v_proj; c_attn,c_fc; attn.c_proj) or all-linear (default: PEFT's for the family: GPT-2 c_attn,"
            + " Llama q_proj,v_proj)")
    List<String> targets;

    @Option(names = "--lora-rslora", description = "rank-stabilised LoRA: scale by alpha / sqrt(r)")
    boolean rslora;

    /** The settings of the flags, or null without --lora-r (other LoRA flags alone are an error). */
    LoraConfig config() {
        if (r == null) {
            if (alpha != null || dropout != null || targets != null || rslora)
                throw CliException.usage("--lora-alpha, --lora-dropout, --lora-targets and --lora-rslora need --lora-r");
            return null;
        }
        try {
            LoraConfig c = LoraConfig.defaults(r);
            if (alpha != null) c = c.withAlpha(alpha);
            c = new LoraConfig(c.r(), c.alpha(), dropout == null ? 0 : dropout, rslora, targets == null ? List.of() : targets);
            c.requireNoDropout();
            return c;
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--lora-*: " + e.getMessage());
        }
    }

    /**
     * Attaches the flags' adapters to {@code model} (A from {@code seed}) when --lora-r is given, and says what trains;
     * {@code option} names the model's flag in messages. Returns whether the model trains adapters.
     */
    boolean apply(CausalLm model, String option, long seed, BaseCommand cmd) {
        LoraConfig c = config();
        if (c != null) {
            if (model.lora() != null)
                throw CliException.usage(option + " is a LoRA adapter folder, which trains its own adapters: drop --lora-r, or merge it"
                        + " first (align4j merge)");
            try {
                model.attachLora(c, seed);
            } catch (IllegalArgumentException e) {
                throw CliException.usage("--lora-targets: " + e.getMessage());
            }
        }
        LoraAdapters l = model.lora();
        if (l == null) return false;
        try {
            l.config().requireNoDropout();
        } catch (IllegalArgumentException e) {
            throw CliException.usage(option + ": its adapter_config.json has " + e.getMessage());
        }
        long total = model.layout().size();
        cmd.info("LoRA r %d, alpha %s (scaling %.4g%s) on %d modules: %d trainable parameters, %.3f%% of the frozen %d",
                l.config().r(), fmt(l.config().alpha()), l.scaling(), l.config().rslora() ? ", rsLoRA" : "", l.sites().size(),
                l.size(), 100.0 * l.size() / total, total);
        return true;
    }

    /** --resume continues the run's own model, adapters or not: LoRA flags then are an error. */
    void refuseOnResume() {
        if (r != null || alpha != null || dropout != null || targets != null || rslora)
            throw CliException.usage("--resume continues the run's own model (and its adapters, if any): drop the --lora-* flags");
    }

    /**
     * Whether the policy trains adapters: on a resume, whether the run's latest checkpoint in {@code out} is an adapter
     * folder (the flags refused); otherwise {@link #apply} on {@code policy} (--policy).
     */
    boolean trainsAdapters(CausalLm policy, boolean resume, java.nio.file.Path out, long seed, BaseCommand cmd) {
        if (!resume) return apply(policy, "--policy", seed, cmd);
        refuseOnResume();
        return BaseCommand.resumed(out, () -> dev.align4j.model.PeftAdapter.isAdapterFolder(dev.align4j.train.RunDirectory.latest(out)));
    }

    private static String fmt(double x) {
        return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
    }
}
