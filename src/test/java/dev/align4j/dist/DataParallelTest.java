package dev.align4j.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.model.CausalLm;
import dev.align4j.tensor.Device;
import dev.align4j.train.RunDirectory;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data parallelism over Open MPI, as a user runs it: {@code mpirun -np 2 java ... dev.align4j.cli.Main <command>}, over
 * shared memory and over TCP on loopback. Skipped (with the reason) where {@code mpirun} is not on PATH; CI installs
 * Open MPI from Debian's packages. Each rank runs with one OpenMP thread (two ranks on two cores).
 */
class DataParallelTest {
    @TempDir
    static Path tmp;
    static final ObjectMapper JSON = new ObjectMapper();
    /** Open MPI's shared-memory transport (vader in 4.1) and TCP on the loopback interface. */
    static final List<List<String>> TRANSPORTS = List.of(List.of("--mca", "btl", "self,vader"),
            List.of("--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"));

    @BeforeAll
    static void needsMpirun() {
        Assumptions.assumeTrue(onPath("mpirun"), "mpirun is not on PATH (install openmpi-bin; .ci/run does)");
    }

    static boolean onPath(String exe) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, exe))) return true;
        return false;
    }

    record Result(int code, String out, long millis) {}

    /** {@code java -cp <this test's class path> main args}, under {@code mpirun -np n} with {@code transport} when n > 0. */
    static Result run(int n, List<String> transport, String main, Object... args) throws Exception {
        return run(n, transport, false, main, args);
    }

    /** As {@link #run(int, List, String, Object...)}; {@code overlap}: the gradient all-reduce overlapped with the backward. */
    static Result run(int n, List<String> transport, boolean overlap, String main, Object... args) throws Exception {
        return run(n, transport, List.of("-Dalign4j.dp.overlap=" + overlap), main, args);
    }

    /** As {@link #run(int, List, String, Object...)} with JVM options {@code jvm}. */
    static Result run(int n, List<String> transport, List<String> jvm, String main, Object... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (n > 0) cmd.addAll(mpirun(transport, "-np", Integer.toString(n)));
        cmd.addAll(java(jvm, main));
        for (Object a : args) cmd.add(a.toString());
        ProcessBuilder pb = process(cmd);
        long t0 = System.nanoTime();
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(out), (System.nanoTime() - t0) / 1_000_000);
    }

    /** mpirun with one OpenMP thread per rank, as root where CI runs, over {@code transport}, then {@code more}. */
    static List<String> mpirun(List<String> transport, String... more) {
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--oversubscribe", "--allow-run-as-root", "-x", "OMP_NUM_THREADS"));
        cmd.addAll(transport);
        cmd.addAll(List.of(more));
        return cmd;
    }

    /** This JVM's java with the test class path and {@code jvm} options, running {@code main}. */
    static List<String> java(List<String> jvm, String main) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
        return cmd;
    }

    /** {@code cmd} with stderr in stdout and the environment mpirun needs here. */
    static ProcessBuilder process(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("OMPI_ALLOW_RUN_AS_ROOT", "1");
        pb.environment().put("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        return pb;
    }

    @Test
    void collectivesOverSharedMemoryAndTcp() throws Exception {
        for (List<String> transport : TRANSPORTS) {
            Result r = run(2, transport, CollectivesCheck.class.getName());
            assertEquals(0, r.code(), transport + ":\n" + r.out());
            assertTrue(r.out().contains("collectives ok rank 0 of 2") && r.out().contains("collectives ok rank 1 of 2"), r.out());
        }
    }

    static final Object[] SFT = {"sft", "--layers", 2, "--heads", 2, "--embd", 32, "--ctx", 64, "--tasks", 64, "--level", 1,
            "--batch", 8, "--eval-every", 0, "--checkpoint-every", 2, "--seed", 3, "--quiet"};

    /**
     * SFT on two ranks (each half of every batch) against one process with the same global batch: the same metric lines
     * to within fp32 reduction order (measured: see the README's data-parallel section), and the same model.
     */
    @Test
    void sftOnTwoRanksIsTheSingleProcessRun() throws Exception {
        Path one = tmp.resolve("sft-1");
        Result r1 = run(0, List.of(), "dev.align4j.cli.Main", with(SFT, "--steps", 4, "--out", one));
        assertEquals(0, r1.code(), r1.out());
        List<JsonNode> a = RunDirectory.readMetrics(one.resolve(RunDirectory.METRICS));
        // shared memory with the all-reduce after the backward and overlapped with it; TCP overlapped
        int[][] cases = {{0, 0}, {0, 1}, {1, 1}};
        for (int[] c : cases) {
            List<String> transport = TRANSPORTS.get(c[0]);
            boolean overlap = c[1] == 1;
            Path two = tmp.resolve("sft-2-" + transport.get(2).replace(',', '-') + (overlap ? "-overlap" : ""));
            Result r2 = run(2, transport, overlap, "dev.align4j.cli.Main", with(SFT, "--steps", 4, "--out", two));
            assertEquals(0, r2.code(), r2.out());
            List<JsonNode> b = RunDirectory.readMetrics(two.resolve(RunDirectory.METRICS));
            assertEquals(a.size(), b.size(), "one metrics line per step, written by rank 0 only");
            for (int i = 0; i < a.size(); i++)
                for (String k : new String[] {"loss", "grad_norm", "tokens"})
                    assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(), 1e-5 * Math.max(1, Math.abs(a.get(i).get(k).asDouble())),
                            transport + (overlap ? " overlapped" : "") + " step " + (i + 1) + " " + k);
            try (CausalLm m1 = CausalLm.load(one.resolve("model"), Device.cpu()); CausalLm m2 = CausalLm.load(two.resolve("model"), Device.cpu())) {
                float[] x = m1.params().toFloatArray(), y = m2.params().toFloatArray();
                double max = 0;
                for (int i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
                assertTrue(max < 1e-5, transport + ": final weights differ by " + max);
            }
        }
    }

    /** DPO on two ranks (each half of every batch of pairs) against one process: the same metric lines. */
    @Test
    void dpoOnTwoRanksIsTheSingleProcessRun() throws Exception {
        Path sft = tmp.resolve("dpo-init");
        assertEquals(0, run(0, List.of(), "dev.align4j.cli.Main", with(SFT, "--steps", 2, "--out", sft)).code());
        Object[] dpo = {"dpo", "--init", sft.resolve("model"), "--tasks", 32, "--level", 1, "--steps", 3, "--batch", 4, "--nll", 0.5,
                "--eval-every", 0, "--seed", 5, "--quiet"};
        Path one = tmp.resolve("dpo-1"), two = tmp.resolve("dpo-2");
        Result r1 = run(0, List.of(), "dev.align4j.cli.Main", with(dpo, "--out", one));
        assertEquals(0, r1.code(), r1.out());
        Result r2 = run(2, TRANSPORTS.get(0), "dev.align4j.cli.Main", with(dpo, "--out", two));
        assertEquals(0, r2.code(), r2.out());
        List<JsonNode> a = RunDirectory.readMetrics(one.resolve(RunDirectory.METRICS)), b = RunDirectory.readMetrics(two.resolve(RunDirectory.METRICS));
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++)
            // (not rewards/accuracies: the sign of a margin near 0, as at step 1 where it is ~1e-7, flips with the summation order)
            for (String k : new String[] {"loss", "rewards/margins", "logps/chosen", "nll_loss", "grad_norm"})
                assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(), 1e-5 * Math.max(1, Math.abs(a.get(i).get(k).asDouble())),
                        "step " + (i + 1) + " " + k);
        // the reward model: micro-batches of whole pairs dealt out, the head's gradient summed like the backbone's
        Object[] rm = {"rm", "--init", sft.resolve("model"), "--tasks", 32, "--level", 1, "--steps", 3, "--batch", 8, "--micro-batch", 2,
                "--eval-every", 0, "--seed", 5, "--quiet"};
        // (AdamW's steps amplify the order of the sums in small gradient components: the scores' mean, near 0 here, moved
        // 2.4e-5 apart after two updates; 1e-4 absolute)
        assertSameLines(rm, tmp.resolve("rm-1"), tmp.resolve("rm-2"), true, 1e-4, "loss", "margin", "rewards/chosen", "grad_norm");
        // PPO with a critic: micro-batches dealt out, the policy's, critic's and value head's gradients summed
        Object[] ppo = {"ppo", "--policy", sft.resolve("model"), "--reward-model", tmp.resolve("rm-1").resolve("model"), "--tasks", 8,
                "--level", 1, "--steps", 2, "--rollout", 8, "--mini-batch", 4, "--micro-batch", 1, "--epochs", 2, "--max-new", 4,
                "--baseline", "critic", "--lr", 1e-3, "--eval-tasks", 0, "--seed", 6, "--quiet"};
        assertSameLines(ppo, tmp.resolve("ppo-1"), tmp.resolve("ppo-2"), true, 1e-4, "objective/scores", "loss/policy", "loss/value",
                "policy/approxkl", "grad_norm");
    }

    /** SFT with LoRA adapters on two ranks, the adapters' layer ranges all-reduced during the backward: one process's run. */
    @Test
    void loraOnTwoRanksIsTheSingleProcessRun() throws Exception {
        Path base = tmp.resolve("lora-base");
        assertEquals(0, run(0, List.of(), "dev.align4j.cli.Main", with(SFT, "--steps", 2, "--out", base)).code());
        Object[] lora = {"sft", "--init", base.resolve("model"), "--lora-r", 4, "--lora-targets", "all-linear", "--tasks", 64, "--level", 1,
                "--steps", 4, "--batch", 8, "--eval-every", 0, "--seed", 3, "--quiet"};
        assertSameLines(lora, tmp.resolve("lora-1"), tmp.resolve("lora-2"), true, 1e-5, "loss", "grad_norm");
    }

    /** Pre-training on two ranks (rows of each batch dealt out) against one process. */
    @Test
    void pretrainOnTwoRanksIsTheSingleProcessRun() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 400; i++) text.append("the cat sat on mat number ").append(i % 37).append(". ");
        Path data = Files.writeString(tmp.resolve("text.txt"), text.toString());
        Object[] pre = {"pretrain", "--data", data, "--layers", 2, "--heads", 2, "--embd", 32, "--ctx", 64, "--seq", 32, "--batch", 6,
                "--steps", 4, "--eval-every", 0, "--seed", 2, "--quiet"};
        assertSameLines(pre, tmp.resolve("pre-1"), tmp.resolve("pre-2"), false, 1e-5, "loss", "grad_norm", "masked_tokens");
    }

    /** Runs {@code args} on one process into {@code one} and on two ranks into {@code two}; the metric lines agree on {@code keys} to {@code tol}. */
    static void assertSameLines(Object[] args, Path one, Path two, boolean overlap, double tol, String... keys) throws Exception {
        Result r1 = run(0, List.of(), "dev.align4j.cli.Main", with(args, "--out", one));
        assertEquals(0, r1.code(), r1.out());
        Result r2 = run(2, TRANSPORTS.get(0), overlap, "dev.align4j.cli.Main", with(args, "--out", two));
        assertEquals(0, r2.code(), r2.out());
        List<JsonNode> a = RunDirectory.readMetrics(one.resolve(RunDirectory.METRICS)), b = RunDirectory.readMetrics(two.resolve(RunDirectory.METRICS));
        assertEquals(a.size(), b.size(), args[0] + ": metric lines");
        for (int i = 0; i < a.size(); i++)
            for (String k : keys)
                assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(), tol * Math.max(1, Math.abs(a.get(i).get(k).asDouble())),
                        args[0] + " step " + (i + 1) + " " + k);
    }

    /**
     * GRPO on two ranks (whole micro-batches dealt out, gradients summed; the rollout the same on every rank) against
     * one process: the same metric lines, with a KL to the reference and DAPO's minibatch-token normaliser.
     */
    @Test
    void grpoOnTwoRanksIsTheSingleProcessRun() throws Exception {
        Path sft = tmp.resolve("grpo-init");
        assertEquals(0, run(0, List.of(), "dev.align4j.cli.Main", with(SFT, "--steps", 2, "--out", sft)).code());
        Object[] grpo = {"grpo", "--policy", sft.resolve("model"), "--tasks", 16, "--level", 1, "--reward", "gold,length:-0.2", "--lr", 1e-3, "--steps", 3,
                "--prompts", 4, "--num-generations", 4, "--mini-batch", 8, "--micro-batch", 2, "--num-iterations", 2, "--beta", 0.05,
                "--max-new", 6, "--eval-tasks", 0, "--seed", 7, "--quiet"};
        Path one = tmp.resolve("grpo-1"), two = tmp.resolve("grpo-2");
        Result r1 = run(0, List.of(), "dev.align4j.cli.Main", with(grpo, "--out", one));
        assertEquals(0, r1.code(), r1.out());
        Result r2 = run(2, TRANSPORTS.get(1), true, "dev.align4j.cli.Main", with(grpo, "--out", two));
        assertEquals(0, r2.code(), r2.out());
        List<JsonNode> a = RunDirectory.readMetrics(one.resolve(RunDirectory.METRICS)), b = RunDirectory.readMetrics(two.resolve(RunDirectory.METRICS));
        assertEquals(a.size(), b.size());
        // the completions' lengths vary, so do the rewards: the updates are real (a rank that skipped the all-reduce fails)
        assertTrue(a.get(0).get("reward_std").asDouble() > 0 && a.get(0).get("grad_norm").asDouble() > 0, a.get(0).toString());
        for (int i = 0; i < a.size(); i++)
            for (String k : new String[] {"reward", "reward_std", "loss", "kl", "objective/kl", "entropy", "grad_norm", "tokens",
                    "clip_ratio/region_mean"})
                assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(), 1e-5 * Math.max(1, Math.abs(a.get(i).get(k).asDouble())),
                        "step " + (i + 1) + " " + k + "\n" + a.get(i) + "\n" + b.get(i));
    }

    /**
     * SFT on the emulated GPU ({@code --device cuda}: each rank's "cuda" is its local rank's GPU, here the one emulated
     * GPU): the emulated GPU has no NCCL, so the gradients go through the host, and the run equals one process's.
     */
    @Test
    void sftOnTwoEmulatedGpusGoesThroughTheHost() throws Exception {
        Path emu = Path.of("target/native/libalign4j_cuda_emu.so").toAbsolutePath();
        Assumptions.assumeTrue(Files.isRegularFile(emu), "no emulated GPU built (" + emu + ")");
        List<String> jvm = List.of("-Dalign4j.cudaLibrary=" + emu);
        Object[] sft = with(SFT, "--steps", 2, "--device", "cuda");
        Path one = tmp.resolve("emu-1"), two = tmp.resolve("emu-2");
        Result r1 = run(0, List.of(), jvm, "dev.align4j.cli.Main", with(sft, "--out", one));
        assertEquals(0, r1.code(), r1.out());
        Result r2 = run(2, TRANSPORTS.get(0), jvm, "dev.align4j.cli.Main", with(sft, "--out", two));
        assertEquals(0, r2.code(), r2.out());
        List<JsonNode> a = RunDirectory.readMetrics(one.resolve(RunDirectory.METRICS)), b = RunDirectory.readMetrics(two.resolve(RunDirectory.METRICS));
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++)
            for (String k : new String[] {"loss", "grad_norm"})
                assertEquals(a.get(i).get(k).asDouble(), b.get(i).get(k).asDouble(), 1e-5 * Math.max(1, Math.abs(a.get(i).get(k).asDouble())),
                        "emulated GPU step " + (i + 1) + " " + k);
    }

    /**
     * A rank that gets bad data (Open MPI's MPMD launch: rank 1 runs with another data file) fails the whole job with
     * its own message, naming its rank, the file and the line, and no rank hangs.
     */
    @Test
    void badDataOnOneRankFailsTheJobWithThatRanksMessage() throws Exception {
        Path good = Files.writeString(tmp.resolve("good.jsonl"), "{\"prompt\": \"Q: a\", \"completion\": \" b\"}\n".repeat(8));
        Path bad = Files.writeString(tmp.resolve("bad.jsonl"), "{\"prompt\": \"Q: a\", \"completion\": \" b\"}\n{\"prompt\": 3\n");
        List<String> cmd = mpirun(TRANSPORTS.get(0));
        for (Path data : new Path[] {good, bad}) {
            if (data == bad) cmd.add(":");
            cmd.addAll(List.of("-np", "1"));
            cmd.addAll(java(List.of(), "dev.align4j.cli.Main"));
            cmd.addAll(List.of("sft", "--data", data.toString(), "--format", "prompt-completion", "--layers", "2", "--heads", "2",
                    "--embd", "32", "--ctx", "64", "--steps", "3", "--batch", "4", "--out", tmp.resolve("bad-data").toString()));
        }
        ProcessBuilder pb = process(cmd);
        long t0 = System.nanoTime();
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the job ends");
        String log = new String(out);
        assertTrue(p.exitValue() != 0, log);
        assertTrue(log.contains("(rank 1 of 2)") && log.contains("bad.jsonl") && log.contains(":2"), "rank 1's own message: " + log);
        System.out.printf("DataParallelTest: bad data on rank 1 ended the job in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }

    static Object[] with(Object[] base, Object... more) {
        Object[] out = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, out, base.length, more.length);
        return out;
    }

    /**
     * A rank killed mid-run ends the job within a bounded time (mpirun stops the others and names the rank), the last
     * checkpoint stays intact, and {@code --resume} continues from it with another number of processes (one).
     */
    @Test
    void aKilledRankEndsTheJobAndTheRunResumes() throws Exception {
        Path out = tmp.resolve("killed");
        List<String> cmd = mpirun(TRANSPORTS.get(0), "-np", "2");
        cmd.addAll(java(List.of(), "dev.align4j.cli.Main"));
        for (Object a : with(SFT, "--steps", 400, "--out", out)) cmd.add(a.toString());
        ProcessBuilder pb = process(cmd).redirectOutput(tmp.resolve("killed.log").toFile());
        Process p = pb.start();
        try {
            Path latest = out.resolve(RunDirectory.LATEST);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(latest) && System.nanoTime() < deadline && p.isAlive()) Thread.sleep(100);
            assertTrue(Files.exists(latest), "a first checkpoint: " + Files.readString(tmp.resolve("killed.log")));
            ProcessHandle rank1 = p.descendants().filter(h -> environ(h).contains("OMPI_COMM_WORLD_RANK=1")).findFirst()
                    .orElseThrow(() -> new AssertionError("rank 1's process not found"));
            long t0 = System.nanoTime();
            rank1.destroyForcibly();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the job ends after a rank is killed");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            String log = Files.readString(tmp.resolve("killed.log"));
            assertTrue(p.exitValue() != 0, log);
            assertTrue(log.contains("rank 1"), "mpirun names the rank: " + log);
            System.out.printf("DataParallelTest: the job ended %d ms after rank 1 was killed%n", ms);
        } finally {
            p.destroyForcibly();
        }
        // the checkpoint latest names loads, and the run resumes from it on one process
        Path ck = RunDirectory.latest(out);
        try (CausalLm m = CausalLm.load(ck, Device.cpu())) {
            assertTrue(m.params().numel() > 0);
        }
        long done = Long.parseLong(ck.getFileName().toString().substring("step-".length()));
        Result r = run(0, List.of(), "dev.align4j.cli.Main", "sft", "--tasks", 64, "--level", 1, "--resume", "--out", out);
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("resuming at step " + done + " of 400 (the checkpoint is from a job of 2 ranks, this one has 1"), r.out());
    }

    private static String environ(ProcessHandle h) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "environ"))).replace('\0', '\n');
        } catch (IOException e) {
            return "";
        }
    }
}
