package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.config.Knob;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.model.GenerationConfig;
import dev.align4j.rl.PpoConfig;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.SftConfig;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/** The options of the training commands come from their config records: every default is the record's. */
class ConfigOptionsTest {
    /** Options a command declares itself for a knob (its own meaning of the default), with why. */
    private static final Set<String> OWN = Set.of(
            "--seed", // common to every command; "default: the trainer's"
            "--seq"); // pretrain: the model's context; train-lm: the model's context is --seq

    private record Bound(BaseCommand command, CommandSpec spec) {}

    private static List<Bound> trainingCommands() {
        List<Bound> out = new ArrayList<>();
        for (Supplier<Object> s : Main.COMMANDS) {
            if (!(s.get() instanceof BaseCommand c) || c.configDefaults() == null) continue;
            CommandLine cl = new CommandLine(c);
            cl.getCommandSpec().parser().collectErrors(true); // no --out etc.: only the config options matter here
            out.add(new Bound(c, cl.getCommandSpec()));
        }
        return out;
    }

    @Test
    void everyKnobIsAnOptionShowingTheRecordsDefault() {
        List<Bound> cs = trainingCommands();
        assertEquals(Set.of("pretrain", "sft", "rm", "ppo", "grpo", "dpo", "train-lm", "generate"),
                Set.copyOf(cs.stream().map(b -> b.spec().name()).toList()));
        int checked = 0;
        for (Bound b : cs) {
            for (Object[] leaf : leaves(b.command().configDefaults())) {
                RecordComponent rc = (RecordComponent) leaf[0];
                String name = "--" + ConfigOptions.name(rc, rc.getAnnotation(Knob.class));
                OptionSpec o = b.spec().findOption(name);
                assertNotNull(o, b.spec().name() + " has no " + name);
                if (OWN.contains(name)) continue;
                String help = String.join(" ", o.description());
                assertTrue(help.endsWith("(default: " + ConfigOptions.show(leaf[1]) + ")"),
                        b.spec().name() + " " + name + ": '" + help + "' does not show the record's default " + leaf[1]);
                checked++;
            }
        }
        assertTrue(checked > 60, "checked " + checked + " options");
    }

    @Test
    void noOptionGivenIsTheRecordsDefaults() {
        for (Bound b : trainingCommands()) {
            b.spec().commandLine().parseArgs();
            Record d = b.command().configDefaults();
            assertEquals(d, ConfigOptions.apply(b.spec(), d), b.spec().name());
        }
    }

    @Test
    void givenOptionsReplaceTheirDefaultsAndMinLrKeepsItsRatio() {
        SftCommand sft = new SftCommand();
        CommandLine cl = new CommandLine(sft);
        cl.parseArgs("--out", "x", "--steps", "7", "--lr", "0.01", "--batch", "3", "--all-tokens", "--seed", "5");
        SftConfig c = ConfigOptions.apply(sft.spec, SftConfig.defaults());
        SftConfig d = SftConfig.defaults();
        assertEquals(7, c.steps());
        assertEquals(5, c.seed());
        assertEquals(0.01, c.optim().lr());
        assertEquals(d.optim().minLr() * (0.01 / d.optim().lr()), c.optim().minLr(), 1e-15, "--lr alone keeps min-lr's ratio");
        assertEquals(3, c.batchSize());
        assertTrue(c.allTokens());
        assertEquals(d.optim().warmupSteps(), c.optim().warmupSteps());

        PpoCommand ppo = new PpoCommand();
        new CommandLine(ppo).parseArgs("--policy", "p", "--reward-model", "r", "--out", "x", "--kl-estimator", "k3",
                "--baseline", "group", "--samples-per-prompt", "4", "--whiten", "false", "--clip-high", "0.28");
        PpoConfig p = ppo.config();
        assertEquals(KlShaping.Estimator.K3, p.kl().estimator());
        assertEquals(PpoConfig.Baseline.GROUP, p.advantage().baseline());
        assertEquals(4, p.rollout().samplesPerPrompt());
        assertEquals(false, p.advantage().whiten());
        assertEquals(0.28f, p.objective().policyLoss().epsHigh());
        assertEquals(PpoConfig.defaults().objective().policyLoss().epsLow(), p.objective().policyLoss().epsLow());
    }

    @Test
    void lossDefaultsComeFromTheLossConfigNotTheCommand() {
        assertEquals(PreferenceLoss.Config.DEFAULT_LABEL_SMOOTHING, PreferenceLoss.Config.of(PreferenceLoss.Type.CDPO).labelSmoothing());
        assertEquals(PreferenceLoss.Config.DEFAULT_LABEL_SMOOTHING, PreferenceLoss.Config.of(PreferenceLoss.Type.ROBUST).labelSmoothing());
        for (String[] args : new String[][] {{"--loss", "cdpo"}, {"--loss", "simpo", "--beta", "3"}, {"--loss", "lndpo"}}) {
            DpoCommand dpo = new DpoCommand();
            List<String> a = new ArrayList<>(List.of("--init", "m", "--out", "x"));
            a.addAll(List.of(args));
            new CommandLine(dpo).parseArgs(a.toArray(String[]::new));
            DpoConfig c = dpo.config();
            PreferenceLoss.Config want = PreferenceLoss.Config.of(c.loss().type());
            if (args.length > 2) want = want.withBeta(3f).withGamma(3f * PreferenceLoss.Config.SIMPO_GAMMA_BETA_RATIO);
            assertEquals(want, c.loss(), String.join(" ", args));
        }
    }

    @Test
    void aRecordsErrorNamesTheOptions() {
        SftCommand sft = new SftCommand();
        new CommandLine(sft).parseArgs("--out", "x", "--lr", "0.001", "--min-lr", "0.01");
        CliException e = assertThrows(CliException.class, () -> ConfigOptions.apply(sft.spec, SftConfig.defaults()));
        assertTrue(e.getMessage().startsWith("--min-lr must be in [0, --lr]"), e.getMessage());
        TrainLmCommand lm = new TrainLmCommand();
        new CommandLine(lm).parseArgs("--data", "d", "--out", "x", "--batch", "0");
        e = assertThrows(CliException.class, () -> LmRunOptions.config(lm, 16));
        assertTrue(e.getMessage().startsWith("--batch must be >= 1"), e.getMessage());
        GenerateCommand gen = new GenerateCommand();
        new CommandLine(gen).parseArgs("--model", "m", "--prompt", "p", "--top-p", "2");
        e = assertThrows(CliException.class, () -> gen.config((GenerationConfig) gen.configDefaults()));
        assertTrue(e.getMessage().startsWith("--top-p must be in (0, 1]"), e.getMessage());
    }

    /** {component, default value} of every knob of {@code r}, walked into unannotated nested records. */
    private static List<Object[]> leaves(Record r) {
        List<Object[]> out = new ArrayList<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
            if (c.getAnnotation(Knob.class) != null) out.add(new Object[] {c, v});
            else if (v instanceof Record nested) out.addAll(leaves(nested));
        }
        return out;
    }
}
