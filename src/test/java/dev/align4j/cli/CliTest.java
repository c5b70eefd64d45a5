package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.kernels.LogProbs;
import dev.align4j.model.Gpt;
import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.train.LmTrainConfig;
import dev.align4j.train.LmTrainer;
import dev.align4j.train.RunDirectory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The command line in-process ({@link Main#execute} with captured streams): help, the error contract (one line, exit
 * 2, no stack trace), --config precedence, and tiny end-to-end runs of every command on a 2-layer, 32-wide model.
 */
class CliTest {
    /** A tiny fresh model: context 64 so that the built-in tasks' prompts (≤ ~40 bytes) plus a short answer fit. */
    private static final String[] TINY = {"--layers", "2", "--heads", "2", "--embd", "32", "--ctx", "64"};

    @TempDir
    static Path tmp;
    private static Path sftRun, pcData, pairsData;
    private static Path rmRun;

    /** One run's exit code and streams. */
    record Run(int code, String out, String err) {
        Run ok() {
            assertEquals(0, code, "exit code; stderr: " + err + "\nstdout: " + out);
            return this;
        }

        /** Exit 2 with one line on stderr, no stack trace. */
        Run usageError() {
            assertEquals(2, code, "exit code; stderr: " + err + "\nstdout: " + out);
            oneLine();
            return this;
        }

        void oneLine() {
            assertEquals(1, err.strip().lines().count(), "one line on stderr: " + err);
            assertFalse(err.contains("Exception"), err);
            assertFalse(err.contains("at dev."), err);
            assertTrue(err.startsWith("align4j"), err);
        }
    }

    static Run run(Object... args) {
        String[] a = new String[args.length];
        for (int i = 0; i < args.length; i++) a[i] = String.valueOf(args[i]);
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.execute(a, o, e);
        }
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** {@code command}, the tiny model's size flags, then {@code args}. */
    static Object[] tiny(String command, Object... args) {
        Object[] r = new Object[1 + TINY.length + args.length];
        r[0] = command;
        System.arraycopy(TINY, 0, r, 1, TINY.length);
        System.arraycopy(args, 0, r, 1 + TINY.length, args.length);
        return r;
    }

    @BeforeAll
    static void sftModel() throws IOException {
        // prompt-completion examples and pairs of a toy "add" task
        List<String> pc = new ArrayList<>(), pairs = new ArrayList<>();
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 4; b++) {
                String prompt = "Q: " + a + "+" + b + "=?\\nA:";
                pc.add("{\"prompt\": \"" + prompt + "\", \"completion\": \" " + (a + b) + "\"}");
                pairs.add("{\"prompt\": \"" + prompt + "\", \"chosen\": \" " + (a + b) + "\", \"rejected\": \" " + (a + b + 1) + "\"}");
            }
        pcData = Files.write(tmp.resolve("pc.jsonl"), pc);
        pairsData = Files.write(tmp.resolve("pairs.jsonl"), pairs);
        sftRun = tmp.resolve("sft");
        run(tiny("sft", "--data", pcData, "--format", "prompt-completion", "--steps", 4, "--batch", 4, "--holdout", 0.2,
                "--eval-every", 2, "--out", sftRun, "--quiet")).ok();
    }

    /** A reward model trained once (rm's own test, and ppo's input). */
    private static synchronized Path rmRun() {
        if (rmRun == null) {
            Path dir = tmp.resolve("rm");
            Run r = run("rm", "--init", sftRun.resolve("model"), "--data", pairsData, "--format", "pairs", "--steps", 3,
                    "--batch", 4, "--holdout", 0.25, "--eval-every", 0, "--out", dir, "--quiet").ok();
            assertTrue(r.out().contains("held-out accuracy"), r.out());
            rmRun = dir;
        }
        return rmRun;
    }

    // ------------------------------------------------------------------------------------------ help and errors

    @Test
    void everyCommandHasHelp() {
        Run top = run("--help").ok();
        for (Supplier<Object> s : Main.COMMANDS) {
            String name = new CommandLine(s.get()).getCommandName();
            assertTrue(top.out().contains(name), name);
            Run r = run(name, "--help").ok();
            assertTrue(r.out().contains("Usage: align4j " + name), r.out());
            assertTrue(r.out().contains("--config"), name + " has --config");
            assertTrue(r.out().contains("--device"), name + " has --device");
        }
    }

    @Test
    void unknownFlagIsOneLineExit2() {
        Run r = run("sft", "--bogus", "3", "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("--bogus"), r.err());
        run("nosuchcommand").usageError();
    }

    @Test
    void missingDataFileIsNamed() {
        Path missing = tmp.resolve("does-not-exist.jsonl");
        Run r = run("sft", "--data", missing, "--format", "prompt-completion", "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains(missing.toString()), r.err());
        r = run("pretrain", "--data", missing, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains(missing.toString()), r.err());
        r = run("generate", "--model", tmp.resolve("no-model"), "--prompt", "hi").usageError();
        assertTrue(r.err().contains("no-model"), r.err());
        r = run("generate", "--model", tmp, "--prompt", "hi").usageError(); // a folder, but no model in it
        assertTrue(r.err().contains("neither a model directory"), r.err());
    }

    @Test
    void sftResumesExactlyFromTheLatestCheckpoint() throws IOException {
        Path dir = tmp.resolve("sft-resume");
        Object[] args = tiny("sft", "--data", pcData, "--format", "prompt-completion", "--steps", 6, "--batch", 4, "--holdout", 0.2,
                "--checkpoint-every", 2, "--eval-every", 3, "--seed", 9, "--out", dir, "--quiet");
        run(args).ok();
        List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertEquals(6, full.size());
        // a crash after step 2's checkpoint: latest points at step-2, the metric lines of steps 3..6 are from the lost run
        Files.writeString(dir.resolve("latest"), "step-2");
        Run r = run("sft", "--data", pcData, "--format", "prompt-completion", "--holdout", 0.2, "--resume", "--out", dir).ok();
        assertTrue(r.out().contains("resuming at step 2 of 6"), r.out());
        List<String> resumed = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertSameSteps(full, resumed, "sft");
        assertTrue(Files.isRegularFile(dir.resolve("model").resolve("model.safetensors")));
        // nothing to resume: one line, exit 2
        Run none = run("sft", "--data", pcData, "--format", "prompt-completion", "--resume", "--out", tmp.resolve("empty-run"))
                .usageError();
        assertTrue(none.err().contains("--resume"), none.err());
    }

    @Test
    void rmAndDpoResumeExactly() throws IOException {
        for (String cmd : new String[] {"rm", "dpo"}) {
            Path dir = tmp.resolve(cmd + "-resume");
            List<Object> common = new ArrayList<>(List.of(cmd, "--init", sftRun.resolve("model"), "--data", pairsData, "--format", "pairs",
                    "--holdout", 0.25));
            if (cmd.equals("dpo")) common.addAll(List.of("--loss", "ipo"));
            List<Object> first = new ArrayList<>(common);
            first.addAll(List.of("--steps", 4, "--batch", 4, "--checkpoint-every", 2, "--eval-every", 0, "--seed", 3, "--out", dir, "--quiet"));
            run(first.toArray()).ok();
            List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
            assertEquals(4, full.size(), cmd);
            Files.writeString(dir.resolve("latest"), "step-2"); // a crash after step 2's checkpoint
            List<Object> again = new ArrayList<>(common);
            again.addAll(List.of("--resume", "--out", dir));
            Run r = run(again.toArray()).ok();
            assertTrue(r.out().contains("resuming at step 2 of 4"), cmd + ": " + r.out());
            List<String> resumed = Files.readAllLines(dir.resolve("metrics.jsonl"));
            assertSameSteps(full, resumed, cmd);
            assertTrue(Files.isDirectory(dir.resolve("model")), cmd);
        }
    }

    @Test
    void pretrainResumesExactlyWithItsMixture() throws IOException {
        Path dir = tmp.resolve("pretrain-resume");
        run(tiny("pretrain", "--data", text(), "--tasks", 20, "--level", 1, "--mixture", "0:0,0.5:0.5", "--steps", 6, "--batch", 2,
                "--seq", 16, "--checkpoint-every", 2, "--eval-every", 3, "--eval-batches", 1, "--seed", 4, "--out", dir, "--quiet")).ok();
        List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertEquals(6, full.size());
        Files.writeString(dir.resolve("latest"), "step-2"); // a crash after step 2's checkpoint
        Run r = run("pretrain", "--data", text(), "--tasks", 20, "--level", 1, "--mixture", "0:0,0.5:0.5", "--resume", "--out", dir).ok();
        assertTrue(r.out().contains("resuming at step 2 of 6"), r.out());
        List<String> resumed = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertSameSteps(full, resumed, "pretrain");
        assertTrue(resumed.get(5).contains("\"mix_share\":0.5"), resumed.get(5));
    }

    @Test
    void ppoResumesExactly() throws IOException {
        Path dir = tmp.resolve("ppo-resume");
        Object[] common = {"ppo", "--policy", sftRun.resolve("model"), "--reward-model", rmRun(), "--tasks", 8, "--level", 1};
        List<Object> first = new ArrayList<>(List.of(common));
        first.addAll(List.of("--steps", 4, "--rollout", 4, "--mini-batch", 2, "--epochs", 1, "--max-new", 4, "--eval-tasks", 4,
                "--eval-every", 2, "--checkpoint-every", 2, "--seed", 6, "--out", dir, "--quiet"));
        Run r0 = run(first.toArray()).ok();
        assertTrue(r0.out().contains("ppo: reward"), r0.out());
        List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertEquals(4, full.size());
        Files.writeString(dir.resolve("latest"), "step-2"); // a crash after step 2's checkpoint
        List<Object> again = new ArrayList<>(List.of(common));
        again.addAll(List.of("--eval-tasks", 4, "--resume", "--out", dir));
        Run r = run(again.toArray()).ok();
        assertTrue(r.out().contains("resuming at step 2 of 4"), r.out());
        List<String> resumed = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertSameSteps(full, resumed, "ppo");
    }

    @Test
    void grpoWithVerifiableRewardsResumesExactly() throws IOException {
        Path dir = tmp.resolve("grpo-resume");
        Object[] common = {"grpo", "--policy", sftRun.resolve("model"), "--tasks", 8, "--level", 1, "--reward", "gold,format:0.2",
                "--families", "add_big,upper"};
        List<Object> first = new ArrayList<>(List.of(common));
        first.addAll(List.of("--steps", 4, "--prompts", 2, "--num-generations", 3, "--mini-batch", 3, "--micro-batch", 3, "--num-iterations", 2,
                "--max-new", 4, "--eval-tasks", 4, "--eval-every", 2, "--checkpoint-every", 2, "--loss-type", "dr-grpo", "--seed", 6,
                "--out", dir, "--quiet"));
        Run r0 = run(first.toArray()).ok();
        assertTrue(r0.out().contains("grpo: reward"), r0.out());
        List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
        assertEquals(4, full.size());
        JsonNode line = new ObjectMapper().readTree(full.get(1));
        for (String k : new String[] {"reward", "rewards/gold/mean", "rewards/format/mean", "reward_std", "frac_reward_zero_std",
                "completions/clipped_ratio", "clip_ratio/region_mean", "entropy", "eval/gold_accuracy"})
            assertTrue(line.has(k), k + " in " + line);
        Files.writeString(dir.resolve("latest"), "step-2"); // a crash after step 2's checkpoint
        List<Object> again = new ArrayList<>(List.of(common));
        again.addAll(List.of("--eval-tasks", 4, "--resume", "--out", dir));
        Run r = run(again.toArray()).ok();
        assertTrue(r.out().contains("resuming at step 2 of 4"), r.out());
        assertSameSteps(full, Files.readAllLines(dir.resolve("metrics.jsonl")), "grpo");
        // a bad reward spec is one line naming the flag and the item
        Run bad = run("grpo", "--policy", sftRun.resolve("model"), "--reward", "gold,magic:2", "--out", tmp.resolve("grpo-bad")).usageError();
        assertTrue(bad.err().contains("--reward") && bad.err().contains("magic"), bad.err());
    }

    /** The resumed run's metric lines equal the uninterrupted run's, line for line, but for the wall-clock keys. */
    static void assertSameSteps(List<String> full, List<String> resumed, String label) {
        assertEquals(full.size(), resumed.size(), label + ": metric lines after resume");
        String t = "\"(time_s|tokens_per_s)\":[^,}]*";
        for (int i = 0; i < full.size(); i++)
            assertEquals(full.get(i).replaceAll(t, ""), resumed.get(i).replaceAll(t, ""), label + " step " + (i + 1) + " after resume");
    }

    @Test
    void reportRedrawsARunFolder() throws IOException {
        // a folder holding one stage (the sft run's metrics as its sft/ stage); the other stages show as not run
        Path runs = Files.createDirectories(tmp.resolve("one-stage").resolve("sft"));
        Files.copy(sftRun.resolve("metrics.jsonl"), runs.resolve("metrics.jsonl"));
        Run r = run("report", runs.getParent()).ok();
        assertTrue(r.out().contains("report.html"), r.out());
        String html = Files.readString(runs.getParent().resolve("report.html"));
        assertTrue(html.contains("data:image/png;base64,") && html.contains("not run"), "report with the sft loss and not-run notes");
        run("report", tmp.resolve("no-such-run")).usageError();
        Path empty = Files.createDirectories(tmp.resolve("empty-folder"));
        run("report", empty).usageError(); // neither a summary nor any stage metrics
    }

    @Test
    void demoConfigurations() {
        // the command's sizes and smoke mode map onto the pipeline config; a bad size is a usage error
        assertEquals(dev.align4j.pipeline.PipelineConfig.demo(7), DemoCommand.config(7, "small", false, false));
        assertEquals(768, DemoCommand.config(1, "large", false, false).model().nEmbd());
        assertTrue(DemoCommand.config(1, "small", true, true).stages().overOptBeta() < 0);
        assertEquals(30, DemoCommand.config(1, "small", true, false).pretrain().lm().steps());
        Run r = run("demo", "--size", "huge", "--out", tmp.resolve("demo")).usageError();
        assertTrue(r.err().contains("--size"), r.err());
    }

    @Test
    void badValuesExit2() {
        run("sft", "--lr", "abc", "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        run("sft", "--device", "tpu", "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        run("dpo", "--loss", "nope", "--init", sftRun, "--tasks", 2, "--out", tmp.resolve("x")).usageError();
        // a value the config record rejects (IllegalArgumentException while setting up)
        Run r = run(tiny("sft", "--data", pcData, "--format", "prompt-completion", "--steps", 0, "--out",
                tmp.resolve("x"))).usageError();
        assertTrue(r.err().contains("steps"), r.err());
        run("sft", "--format", "prompt-completion", "--out", tmp.resolve("x")).usageError(); // neither --data nor --tasks
    }

    @Test
    void badRecordNamesFileAndLine() throws IOException {
        Path bad = Files.write(tmp.resolve("bad.jsonl"), List.of("{\"prompt\": \"a\", \"completion\": \" b\"}", "{\"prompt\": \"a\"}"));
        Run r = run(tiny("sft", "--data", bad, "--format", "prompt-completion", "--steps", 1, "--out",
                tmp.resolve("bad-run"))).usageError();
        assertTrue(r.err().contains("bad.jsonl:2"), r.err());
    }

    @Test
    void cudaWithoutGpuIsOneClearLine() {
        Assumptions.assumeFalse(Device.cudaAvailable(), "a GPU is present");
        Run r = run("generate", "--model", sftRun, "--prompt", "hi", "--device", "cuda").usageError();
        assertTrue(r.err().contains("CUDA"), r.err());
    }

    @Test
    void exitCodesByPhase() {
        assertEquals(2, Main.exitCode(new IllegalArgumentException("x"), false));
        assertEquals(1, Main.exitCode(new IllegalArgumentException("x"), true));
        assertEquals(1, Main.exitCode(new IllegalStateException("x"), false));
        assertEquals(2, Main.exitCode(CliException.usage("x"), true));
        assertEquals(2, Main.exitCode(new IOException("damaged model file"), false));
        assertEquals(1, Main.exitCode(new IOException("disk full"), true));
    }

    @Test
    void unknownCommandListsTheCommands() {
        Run r = run("train", "--data", "x.txt").usageError();
        assertTrue(r.err().contains("unknown command 'train'"), r.err());
        for (Supplier<Object> s : Main.COMMANDS) {
            String name = new CommandLine(s.get()).getCommandName();
            assertTrue(r.err().contains(name), name + " listed: " + r.err());
        }
    }

    // ------------------------------------------------------------------------------------------ selfcheck, train-lm, post-train

    @Test
    void selfcheckRunsInProcess() {
        Run r = run("selfcheck", "--quick").ok();
        assertTrue(r.out().contains("selfcheck passed"), r.out());
        assertTrue(r.out().contains("logprobs forward"), r.out());
        Run bad = run("selfcheck", "--bogus").usageError();
        assertTrue(bad.err().contains("--bogus"), bad.err());
    }

    @Test
    void trainLmTrainsAndResumesInProcess() throws IOException {
        Path dir = tmp.resolve("train-lm");
        Object[] common = {"train-lm", "--data", text(), "--out", dir, "--layers", 1, "--heads", 2, "--embd", 16, "--seq", 16,
                "--batch", 2, "--eval-every", 3, "--eval-batches", 1, "--checkpoint-every", 3, "--log-every", 1};
        Run r = run(concat(common, "--steps", 4)).ok();
        assertTrue(r.out().contains("step 4  lr"), r.out());
        assertTrue(r.out().contains("train-lm: done; checkpoint"), r.out());
        assertEquals("step-4", Files.readString(dir.resolve(LmTrainer.LATEST)).trim());
        assertEquals(4, LmTrainer.readMetrics(dir.resolve(LmTrainer.METRICS)).size());
        // nothing left to do after the last step: a resume says so and exits cleanly
        r = run(concat(common, "--resume")).ok();
        assertTrue(r.out().contains("from step 4 of 4"), r.out());
        // bad arguments: one line, exit 2 (a missing --data file included)
        run("train-lm", "--data", text()).usageError();
        assertTrue(run("train-lm", "--bogus", 1, "--data", text(), "--out", dir).usageError().err().contains("--bogus"));
        run(concat(common, "--steps", "x")).usageError();
        Path missing = tmp.resolve("missing.txt");
        assertTrue(run("train-lm", "--data", missing, "--out", dir).usageError().err().contains(missing.toString()));
    }

    @Test
    void postTrainParsesInProcess() {
        assertTrue(run("post-train", "--help").ok().out().contains("--out"));
        assertTrue(run("post-train", "--bogus", "--out", tmp.resolve("pt")).usageError().err().contains("--bogus"));
        assertTrue(run("post-train").usageError().err().contains("--out"));
        assertTrue(run("post-train", "--out", tmp.resolve("pt"), "--seed", "x").usageError().err().contains("--seed"));
    }

    private static Object[] concat(Object[] a, Object... b) {
        Object[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ------------------------------------------------------------------------------------------ bad inputs

    @Test
    void unwritableOutIsNamed() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "no /proc");
        Path out = Path.of("/proc/x/run");
        List<Run> runs = List.of(
                run(tiny("pretrain", "--data", text(), "--steps", 1, "--out", out)),
                run(tiny("sft", "--tasks", 4, "--steps", 1, "--out", out)),
                run("train-lm", "--data", text(), "--steps", 1, "--out", out),
                run("post-train", "--out", out));
        for (Run r : runs) {
            r.usageError();
            assertTrue(r.err().contains("--out") && r.err().contains(out.toString()) && r.err().contains("cannot create"), r.err());
            assertFalse(r.err().contains("no such file"), r.err());
        }
        // a file where the folder should be
        Path file = text();
        Run r = run(tiny("pretrain", "--data", text(), "--steps", 1, "--out", file.resolve("run"))).usageError();
        assertTrue(r.err().contains("--out") && r.err().contains(file.toString()), r.err());
    }

    @Test
    void tooShortCorpusIsAUsageErrorAndLeavesNoRunFolder() throws IOException {
        Path empty = Files.write(tmp.resolve("empty.txt"), new byte[0]);
        Path shortText = Files.writeString(tmp.resolve("short.txt"), "too short for one window");
        for (Path data : List.of(empty, shortText)) {
            for (String evalEvery : List.of("0", "100")) {
                Path out = tmp.resolve("short-run-" + evalEvery + "-" + data.getFileName());
                Run r = run(tiny("pretrain", "--data", data, "--eval-every", evalEvery, "--out", out)).usageError();
                assertTrue(r.err().contains("--data") && r.err().contains(data.toString()), r.err());
                assertFalse(Files.exists(out), "no run folder for bad input: " + out);
            }
        }
    }

    @Test
    void invalidUtf8NamesTheFileAndOffset() throws IOException {
        // "é" is fine; the byte 0xfe at offset `at` (on line 2) is never valid UTF-8
        byte[] good = "first line\nsecond \u00e9 line ".getBytes(StandardCharsets.UTF_8);
        int at = good.length;
        Path data = Files.write(tmp.resolve("binary.txt"), concat(good, new byte[] {(byte) 0xfe, 'x', '\n'}));
        Path out = tmp.resolve("utf8-run");
        Run r = run(tiny("pretrain", "--data", data, "--out", out)).usageError();
        assertTrue(r.err().contains(data.toString()) && r.err().contains("UTF-8") && r.err().contains("line 2"), r.err());
        assertTrue(r.err().contains("offset " + at), r.err());
        assertFalse(Files.exists(out));
        // the report's readers: metrics.jsonl and summary.json
        Path stage = Files.createDirectories(tmp.resolve("utf8-report").resolve("sft"));
        Files.write(stage.resolve("metrics.jsonl"), concat("{\"step\": 1, \"loss\": 1.0}\n{\"x\": \"".getBytes(StandardCharsets.UTF_8),
                new byte[] {(byte) 0xff, '"', '}', '\n'}));
        r = run("report", stage.getParent()).usageError();
        assertTrue(r.err().contains("metrics.jsonl") && r.err().contains("UTF-8") && r.err().contains("line 2"), r.err());
        Path summary = Files.createDirectories(tmp.resolve("utf8-summary"));
        Files.write(summary.resolve("summary.json"), new byte[] {'{', '"', 'a', (byte) 0xff, '"', ':', '1', '}'});
        r = run("report", summary).usageError();
        assertTrue(r.err().contains("summary.json") && r.err().contains("UTF-8") && r.err().contains("offset 3"), r.err());
    }

    @Test
    void duplicateConfigKeyIsRejected() throws IOException {
        Path yaml = Files.writeString(tmp.resolve("dup.yaml"), "steps: 3\nlr: 1e-3\nsteps: 5\n");
        Run r = run("sft", "--config", yaml, "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("dup.yaml") && r.err().contains("duplicate key 'steps'") && r.err().contains("line 3"), r.err());
        Path json = Files.writeString(tmp.resolve("dup.json"), "{\"lr\": 0.1,\n \"lr\": 0.2}");
        r = run("sft", "--config", json, "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("dup.json") && r.err().contains("duplicate key 'lr'") && r.err().contains("line 2"), r.err());
    }

    @Test
    void oversizedModelsAreRefusedBeforeAllocating() throws IOException {
        Path out = tmp.resolve("huge");
        Run r = run("pretrain", "--data", text(), "--ctx", 100_000_000, "--out", out).usageError();
        assertTrue(r.err().contains("--ctx") && r.err().contains(String.valueOf(ModelOptions.MAX_CTX)), r.err());
        // within the limits, but the activations of batch x context cannot fit: the sizes are named
        long t0 = System.nanoTime();
        r = run("pretrain", "--data", text(), "--ctx", 1 << 20, "--out", out).usageError();
        assertTrue(r.err().contains("--seq") && r.err().contains("--batch") && r.err().contains("memory"), r.err());
        assertTrue(r.err().matches("(?s).*\\d+(\\.\\d+)? [KMGTPE]iB.*"), "sizes in the message: " + r.err());
        r = run(tiny("sft", "--tasks", 4, "--batch", 1_000_000, "--out", out)).usageError();
        assertTrue(r.err().contains("--batch") && r.err().contains("memory"), r.err());
        r = run("pretrain", "--data", text(), "--layers", 100_000, "--embd", 4096, "--heads", 32, "--out", out).usageError();
        assertTrue(r.err().contains("--layers"), r.err());
        r = run("train-lm", "--data", text(), "--seq", 1 << 20, "--out", out).usageError();
        assertTrue(r.err().contains("--seq") && r.err().contains("memory"), r.err());
        assertTrue(System.nanoTime() - t0 < 20e9, "refused before allocating");
        assertFalse(Files.exists(out));
        // a model folder whose config.json describes a model too large to load: refused before the weights are read
        Path big = Files.createDirectories(tmp.resolve("big-model"));
        Files.writeString(big.resolve("config.json"), new dev.align4j.model.GptConfig(2000, 16, 16384, 1024, 50257).toJson());
        Files.write(big.resolve("model.safetensors"), new byte[16]);
        r = run("generate", "--model", big, "--prompt", "hi").usageError();
        assertTrue(r.err().contains("--model " + big) && r.err().contains("choose a smaller --model"), r.err());
    }

    // ------------------------------------------------------------------------------------------ --config

    private static Path text() throws IOException {
        Path f = tmp.resolve("corpus.txt");
        if (!Files.exists(f)) Files.writeString(f, "the quick brown fox jumps over the lazy dog. ".repeat(60));
        return f;
    }

    @Test
    void yamlConfigWithCommandLineOverride() throws IOException {
        Path cfg = Files.writeString(tmp.resolve("pre.yaml"), "steps: 5\nlr: 2e-3\nbatch: 3\nmin_lr: 1e-4\neval-every: 0\nlayers: 1\n");
        Path out = tmp.resolve("pre-yaml");
        run(tiny("pretrain", "--config", cfg, "--data", text(), "--steps", 2, "--out", out, "--quiet")).ok();
        LmTrainConfig c = LmTrainer.savedConfig(out);
        assertEquals(2, c.steps(), "the command line overrides the file");
        assertEquals(2e-3, c.optim().lr(), 1e-12, "from the file");
        assertEquals(1e-4, c.optim().minLr(), 1e-12, "min_lr from the file");
        assertEquals(3, c.batchSize(), "from the file");
        try (Gpt g = Gpt.load(out.resolve("model"), Device.cpu())) {
            assertEquals(2, g.config().nLayer(), "--layers 2 overrides layers: 1");
        }
        assertEquals(2, RunDirectory.readMetrics(out.resolve(RunDirectory.METRICS)).size());
    }

    @Test
    void jsonConfigAndMidTrainingMixture() throws IOException {
        Path cfg = Files.writeString(tmp.resolve("pre.json"),
                "{\"steps\": 3, \"batch\": 2, \"lr\": 0.004, \"eval-every\": 0, \"tasks\": 16, \"level\": 1, \"mixture\": \"0:0.5\"}");
        Path out = tmp.resolve("pre-json");
        run(tiny("pretrain", "--config", cfg, "--data", text(), "--lr", 0.003, "--out", out, "--quiet")).ok();
        LmTrainConfig c = LmTrainer.savedConfig(out);
        assertEquals(3, c.steps());
        assertEquals(2, c.batchSize());
        assertEquals(0.003, c.optim().lr(), 1e-12);
        JsonNode last = RunDirectory.readMetrics(out.resolve(RunDirectory.METRICS)).get(2);
        assertEquals(0.5, last.get("mix_share").asDouble(), 1e-12, "the --mixture schedule from the file");
    }

    @Test
    void unknownOrBadConfigKeyExit2() throws IOException {
        Path unknown = Files.writeString(tmp.resolve("unknown.yaml"), "steps: 3\nstepz: 4\n");
        Run r = run("sft", "--config", unknown, "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("unknown.yaml") && r.err().contains("stepz"), r.err());
        Path bad = Files.writeString(tmp.resolve("bad.json"), "{\"lr\": \"abc\"}");
        r = run("sft", "--config", bad, "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("bad.json") && r.err().contains("lr"), r.err());
        Path list = Files.writeString(tmp.resolve("list.yaml"), "prompt: [a, b]\n");
        run("generate", "--config", list, "--model", sftRun).usageError();
        r = run("sft", "--config", tmp.resolve("none.yaml"), "--tasks", 4, "--out", tmp.resolve("x")).usageError();
        assertTrue(r.err().contains("none.yaml"), r.err());
    }

    // ------------------------------------------------------------------------------------------ end to end

    @Test
    void sftWritesRunFolderAndModel() throws IOException {
        assertTrue(Files.isRegularFile(sftRun.resolve(RunDirectory.LATEST)));
        assertEquals(4, RunDirectory.readMetrics(sftRun.resolve(RunDirectory.METRICS)).size());
        try (Gpt g = Gpt.load(sftRun.resolve("model"), Device.cpu())) {
            assertEquals(2, g.config().nLayer());
            assertEquals(32, g.config().nEmbd());
            assertEquals(320, g.config().vocabSize());
        }
    }

    @Test
    void generateFromTheModel() {
        Run r = run("generate", "--model", sftRun.resolve("model"), "--prompt", "Q: 1+2=?\nA:", "--n", 2, "--max-new", 5,
                "--seed", 7).ok();
        assertTrue(r.out().contains("[1.1]") && r.out().contains("[1.2]"), r.out());
        Run greedy = run("generate", "--model", sftRun, "--prompt", "Q: 1+2=?\nA:", "--temperature", 0, "--max-new", 5).ok();
        assertEquals(greedy.out(), run("generate", "--model", sftRun, "--prompt", "Q: 1+2=?\nA:", "--temperature", 0,
                "--max-new", 5).ok().out(), "greedy decoding is deterministic");
    }

    @Test
    void scoreSumEqualsLogProbsOfTheLogits() throws IOException {
        String prompt = "Q: 1+2=?\nA:", text = " 3";
        // from the run folder: its latest checkpoint (the same weights as model/)
        Run r = run("score", "--model", sftRun, "--prompt", prompt, "--text", text, "--eos").ok();
        Matcher m = Pattern.compile("sum (-?[0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double sum = Double.parseDouble(m.group(1));

        ByteTokenizer tok = ByteTokenizer.padded(64);
        int[] p = tok.encode(prompt), x = tok.encode(text);
        int n = p.length + x.length + 1;
        int[] all = new int[n];
        System.arraycopy(p, 0, all, 0, p.length);
        System.arraycopy(x, 0, all, p.length, x.length);
        all[n - 1] = tok.eosId();
        int t = n - 1;
        try (Gpt g = Gpt.load(sftRun.resolve("model"), Device.cpu())) {
            g.forward(java.util.Arrays.copyOf(all, t), null, null, 1, t);
            float[] logits = g.logits().toFloatArray();
            int[] labels = java.util.Arrays.copyOfRange(all, 1, n);
            float[] logp = LogProbs.compute(logits, labels, null, g.config().vocabSize(), 1f)[0];
            double expected = 0;
            for (int j = p.length - 1; j < t; j++) expected += logp[j];
            assertEquals(expected, sum, 1e-4 + 1e-5 * Math.abs(expected), r.out());
        }
        // one table row per scored token (2 text bytes + EOS)
        assertTrue(r.out().contains("<|endoftext|>") || r.out().contains("256"), r.out());
    }

    @Test
    void evalPolicyAndRewardModel() throws IOException {
        Path out = tmp.resolve("eval");
        Run r = run("eval", "--model", sftRun.resolve("model"), "--tasks", 6, "--level", 1, "--samples", 2, "--sample-prompts", 2,
                "--max-new", 4, "--out", out).ok();
        assertTrue(r.out().contains("gold accuracy"), r.out());
        JsonNode j = new ObjectMapper().readTree(out.resolve("eval.json").toFile());
        assertTrue(j.has("gold/accuracy") && j.has("gold/ece") && j.has("gold/eos_rate") && j.has("sample/entropy"), j.toString());
        assertEquals("test", j.get("split").asText());
        // the training split: the instances the trainers draw from (SFT's own examples are among them)
        r = run("eval", "--model", sftRun.resolve("model"), "--tasks", 6, "--level", 1, "--samples", 0, "--split", "train",
                "--max-new", 4).ok();
        assertTrue(r.out().contains("6 train-split tasks"), r.out());
        assertTrue(run("eval", "--model", sftRun.resolve("model"), "--split", "dev").usageError().err().contains("--split"));
        run("eval", "--reward-model", sftRun, "--tasks", 2).usageError(); // a policy: no score head
        r = run("eval", "--reward-model", rmRun(), "--data", pairsData, "--format", "pairs").ok();
        assertTrue(r.out().contains("reward model accuracy"), r.out());
    }

    @Test
    void rewardModelLoads() throws IOException {
        try (RewardModel rm = RewardModel.load(rmRun().resolve("model"), Device.cpu())) {
            assertEquals(32, rm.config().hiddenSize());
        }
        assertTrue(Files.isRegularFile(rmRun().resolve(RunDirectory.LATEST)));
    }

    @Test
    void dpoTwoLossTypes() throws IOException {
        Path a = tmp.resolve("dpo-sigmoid");
        run("dpo", "--loss", "sigmoid", "--init", sftRun.resolve("model"), "--data", pairsData, "--format", "pairs", "--steps", 2,
                "--batch", 4, "--eval-every", 0, "--out", a, "--quiet").ok();
        try (Gpt g = Gpt.load(a.resolve("model"), Device.cpu())) {
            assertEquals(2, g.config().nLayer());
        }
        assertEquals(2, RunDirectory.readMetrics(a.resolve(RunDirectory.METRICS)).size());
        // SimPO on pairs sampled from the policy on the built-in tasks (the gold-ranked path)
        Path b = tmp.resolve("dpo-simpo");
        Run r = run("dpo", "--loss", "simpo", "--init", sftRun, "--tasks", 4, "--level", 1, "--samples", 4, "--pairs-per-prompt", 3,
                "--max-new", 4, "--holdout", 0, "--steps", 2, "--batch", 2, "--out", b).ok();
        assertTrue(r.out().contains("simpo"), r.out());
        Run bad = run("dpo", "--init", sftRun, "--tasks", 4, "--level", 1, "--pairs-per-prompt", 0, "--out", tmp.resolve("dpo-bad"))
                .usageError();
        assertTrue(bad.err().contains("--pairs-per-prompt must be >= 1"), bad.err());
        assertTrue(Files.isRegularFile(b.resolve("model").resolve("model.safetensors")));
    }

    @Test
    void ppoCoupleOfSteps() throws IOException {
        Path out = tmp.resolve("ppo");
        Run r = run("ppo", "--policy", sftRun.resolve("model"), "--reward-model", rmRun(), "--tasks", 8, "--level", 1, "--steps", 2,
                "--rollout", 4, "--mini-batch", 2, "--epochs", 1, "--max-new", 4, "--eval-tasks", 4, "--eval-every", 2,
                "--out", out, "--quiet").ok();
        assertTrue(r.out().contains("ppo: reward"), r.out());
        List<JsonNode> lines = RunDirectory.readMetrics(out.resolve(RunDirectory.METRICS));
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).has("objective/gold") && lines.get(1).has("eval/gold_accuracy"), lines.toString());
        try (Gpt g = Gpt.load(out.resolve("model"), Device.cpu())) {
            assertEquals(32, g.config().nEmbd());
        }
    }

    @Test
    void ppoWithTheGroupBaseline() throws IOException {
        Path out = tmp.resolve("ppo-group");
        Run r = run("ppo", "--policy", sftRun.resolve("model"), "--reward-model", rmRun(), "--tasks", 8, "--level", 1, "--steps", 2,
                "--rollout", 4, "--mini-batch", 2, "--epochs", 1, "--max-new", 4, "--eval-tasks", 0, "--baseline", "group",
                "--samples-per-prompt", 2, "--checkpoint-every", 1, "--out", out, "--quiet").ok();
        assertTrue(r.out().contains("ppo: reward"), r.out());
        List<JsonNode> lines = RunDirectory.readMetrics(out.resolve(RunDirectory.METRICS));
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).has("loss/policy") && !lines.get(0).has("loss/value"), lines.get(0).toString());
        assertTrue(!Files.exists(out.resolve("step-2").resolve("critic")), "no critic is trained or saved");
        Run bad = run("ppo", "--policy", sftRun.resolve("model"), "--reward-model", rmRun(), "--baseline", "group",
                "--out", tmp.resolve("ppo-group-bad")).usageError();
        assertTrue(bad.err().contains("--samples-per-prompt"), bad.err());
        bad = run("ppo", "--policy", sftRun.resolve("model"), "--reward-model", rmRun(), "--baseline", "value",
                "--out", tmp.resolve("ppo-group-bad")).usageError();
        assertTrue(bad.err().contains("'--baseline'") && bad.err().contains("expected critic|group, got 'value'"), bad.err());
    }

    @Test
    void sftOnSelfInstructTasks() throws IOException {
        assertTrue(run("sft", "--help").ok().out().contains("self-instruct"));
        assertTrue(run("pretrain", "--help").ok().out().contains("self-instruct"));
        // generated seed tasks: 3 instances over 2 tasks, and a task whose only instance has an empty output
        Path seed = Files.write(tmp.resolve("seed.jsonl"), List.of(
                "{\"id\": \"seed_task_0\", \"instruction\": \"Add.\", \"instances\": [{\"input\": \"1 2\", \"output\": \"3\"}, "
                        + "{\"input\": \"2 2\", \"output\": \"4\"}], \"is_classification\": false}",
                "{\"id\": \"seed_task_1\", \"instruction\": \"Say yes.\", \"instances\": [{\"input\": \"\", \"output\": \"\"}]}",
                "{\"id\": \"seed_task_2\", \"instruction\": \"Say no.\", \"instances\": [{\"input\": \"\", \"output\": \"no\"}]}"));
        Run r = run(tiny("sft", "--data", seed, "--format", "self-instruct", "--skip-bad", "--steps", 1, "--batch", 2,
                "--eval-every", 0, "--out", tmp.resolve("self-instruct"), "--quiet")).ok();
        assertTrue(r.out().contains("[self-instruct]: 3 read, 2 kept, 3 produced, 1 skipped"), r.out());
        r = run(tiny("sft", "--data", seed, "--format", "self_instruct", "--steps", 1, "--out", tmp.resolve("si-bad"))).usageError();
        assertTrue(r.err().contains("seed.jsonl:2") && r.err().contains("empty field 'output'"), r.err());
    }

    @Test
    void sftOnTheAlpacaSampleSkippingBadRecords() {
        Path alpaca = Path.of("/work/shared/data/alpaca_5000.json");
        if (!Files.exists(alpaca)) alpaca = Path.of("../shared/data/alpaca_5000.json");
        Assumptions.assumeTrue(Files.isRegularFile(alpaca), "the shared data folder is absent");
        Run r = run(tiny("sft", "--data", alpaca, "--format", "alpaca", "--skip-bad", "--steps", 1, "--batch", 2,
                "--eval-every", 0, "--out", tmp.resolve("alpaca"), "--quiet")).ok();
        Matcher m = Pattern.compile("(\\d+) skipped").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(Long.parseLong(m.group(1)) > 0, "the sample's empty records are skipped and counted: " + r.out());
    }
}
