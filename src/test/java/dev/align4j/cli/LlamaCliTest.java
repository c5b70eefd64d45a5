package dev.align4j.cli;

import static dev.align4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.cli.CliTest.Run;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Llama;
import dev.align4j.model.LlamaConfig;
import dev.align4j.model.RewardModel;
import dev.align4j.model.SafeTensorsDType;
import dev.align4j.model.SaveOptions;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every training command on a Llama-family model from the command line: a tiny Llama (grouped-query attention,
 * untied head) and a tiny Qwen3 (q/k norms, tied head) in Hugging Face's layout, with the byte tokenizer's
 * vocabulary, go through {@code sft}, {@code rm}, {@code dpo}, {@code ppo}, {@code generate} and {@code score};
 * what they save loads back with bit-identical weights and is again a Llama-family folder.
 */
class LlamaCliTest {
    @TempDir
    static Path tmp;
    private static Path llama, qwen3;

    @BeforeAll
    static void models() throws IOException {
        llama = save("llama", new LlamaConfig("llama", 320, 32, 48, 2, 4, 2, 8, 1e-5, 10000.0, null, false, false, false, 64));
        qwen3 = save("qwen3", new LlamaConfig("qwen3", 320, 32, 48, 2, 4, 2, 16, 1e-6, 1e6, null, true, false, true, 64));
    }

    /** A fresh model saved as a sharded BF16 Hugging Face folder (shards of at most 16 KB: several of them). */
    private static Path save(String name, LlamaConfig c) throws IOException {
        Path dir = tmp.resolve(name + "-init");
        try (Llama m = Llama.create(c, Device.cpu(), 7)) {
            m.save(dir, SaveOptions.DEFAULT.withDtype(SafeTensorsDType.BF16).withMaxShardBytes(16 << 10));
        }
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors.index.json")), "sharded");
        assertTrue(Files.isRegularFile(dir.resolve("model-00002-of-" + shards(dir) + ".safetensors")), "several shards");
        assertTrue(Files.readString(dir.resolve("config.json")).contains("\"torch_dtype\": \"bfloat16\""));
        return dir;
    }

    private static String shards(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            long n = files.filter(f -> f.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count();
            return String.format("%05d", n);
        }
    }

    @Test
    void everyTrainerRunsOnLlamaAndQwen3() throws IOException {
        for (Path init : new Path[] {llama, qwen3}) {
            String name = init.getFileName().toString().replace("-init", "");
            Path sft = tmp.resolve(name + "-sft"), rm = tmp.resolve(name + "-rm"), dpo = tmp.resolve(name + "-dpo");
            Path ppo = tmp.resolve(name + "-ppo");
            Run r = run("sft", "--init", init, "--tasks", 16, "--level", 1, "--steps", 3, "--batch", 4, "--eval-every", 0,
                    "--out", sft).ok();
            assertTrue(r.out().contains("model " + name + ", 2 layers x 32 wide, 4 heads (2 key/value)"), r.out());
            assertModelDir(sft.resolve("model"));
            r = run("rm", "--init", sft.resolve("model"), "--tasks", 16, "--level", 1, "--steps", 3, "--batch", 4,
                    "--eval-every", 0, "--out", rm, "--quiet").ok();
            assertTrue(r.out().contains("held-out accuracy"), r.out());
            run("dpo", "--init", sft.resolve("model"), "--tasks", 16, "--level", 1, "--steps", 3, "--batch", 4, "--eval-every", 0,
                    "--save-dtype", "bfloat16", "--out", dpo, "--quiet").ok();
            r = run("ppo", "--policy", sft.resolve("model"), "--reward-model", rm, "--tasks", 8, "--level", 1, "--steps", 2,
                    "--rollout", 4, "--mini-batch", 2, "--epochs", 1, "--max-new", 4, "--eval-tasks", 4, "--eval-every", 0,
                    "--out", ppo, "--quiet").ok();
            assertTrue(r.out().contains("ppo: reward"), r.out());
            Object[] gen = {"generate", "--model", dpo.resolve("model"), "--prompt", "Q: 1+2=?\nA:", "--temperature", 0,
                    "--max-new", 4};
            assertEquals(run(gen).ok().out(), run(gen).ok().out(), "greedy decoding is deterministic");
            run("score", "--model", ppo.resolve("model"), "--prompt", "Q: 1+2=?\nA:", "--text", " 3").ok();
            assertReloadsBitIdentically(init, SafeTensorsDType.BF16, 16 << 10);
            assertReloadsBitIdentically(sft.resolve("model"), SafeTensorsDType.F32, SaveOptions.DEFAULT.maxShardBytes());
            assertReloadsBitIdentically(dpo.resolve("model"), SafeTensorsDType.BF16, SaveOptions.DEFAULT.maxShardBytes());
            assertReloadsBitIdentically(ppo.resolve("model"), SafeTensorsDType.F32, SaveOptions.DEFAULT.maxShardBytes());
            try (RewardModel m = RewardModel.load(rm.resolve("model"), Device.cpu())) {
                assertEquals(name, m.config().modelType());
            }
        }
    }

    /**
     * The end-to-end case: a sharded BF16 Qwen3-family folder with Qwen3's real tokenizer and chat template
     * (../shared/tokenizers/qwen3; skipped when absent) goes through sft (chat data rendered with the model's template,
     * assistant-only loss), rm, dpo and ppo from the command line on the CPU; every saved model carries the tokenizer
     * and re-saves byte for byte.
     */
    @Test
    void qwen3WithItsTokenizerThroughEveryTrainer() throws IOException {
        Path qwen = Path.of("../shared/tokenizers/qwen3");
        Assumptions.assumeTrue(dev.align4j.tokenizer.HfTokenizer.available() && Files.isRegularFile(qwen.resolve("tokenizer.json")),
                "needs ../shared/tokenizers/qwen3 and DJL's tokenizers");
        LlamaConfig c = new LlamaConfig("qwen3", 151680, 32, 48, 1, 4, 2, 16, 1e-6, 1e6, null, true, false, true, 128);
        Path init = tmp.resolve("qwen3tok-init");
        try (Llama m = Llama.create(c, Device.cpu(), 11)) {
            m.save(init, SaveOptions.DEFAULT.withDtype(SafeTensorsDType.BF16).withMaxShardBytes(4 << 20));
        }
        assertTrue(Files.isRegularFile(init.resolve("model.safetensors.index.json")), "sharded");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(qwen.resolve(f), init.resolve(f));
        Path chat = Files.write(tmp.resolve("qwen3-chat.jsonl"), List.of(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"3*3?\"}, {\"role\": \"assistant\", \"content\": \"9\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Red?\"}, {\"role\": \"assistant\", \"content\": \"A colour.\"}]}"));
        Path pairs = Files.write(tmp.resolve("qwen3-pairs.jsonl"), List.of(
                "{\"prompt\": \"2+2?\", \"chosen\": \" 4\", \"rejected\": \" 5\"}",
                "{\"prompt\": \"3*3?\", \"chosen\": \" 9\", \"rejected\": \" 6\"}",
                "{\"prompt\": \"1+1?\", \"chosen\": \" 2\", \"rejected\": \" 3\"}",
                "{\"prompt\": \"5-2?\", \"chosen\": \" 3\", \"rejected\": \" 4\"}"));
        Path sft = tmp.resolve("qwen3tok-sft"), rm = tmp.resolve("qwen3tok-rm"), dpo = tmp.resolve("qwen3tok-dpo");
        Path ppo = tmp.resolve("qwen3tok-ppo");
        Run r = run("sft", "--init", init, "--data", chat, "--format", "messages", "--steps", 2, "--batch", 2, "--eval-every", 0,
                "--out", sft).ok();
        String said = r.out() + r.err();
        assertTrue(said.contains("chat template") && said.contains("qwen3"), said);
        run("rm", "--init", sft.resolve("model"), "--data", pairs, "--format", "pairs", "--steps", 2, "--batch", 2,
                "--holdout", 0.25, "--eval-every", 0, "--out", rm, "--quiet").ok();
        run("dpo", "--init", sft.resolve("model"), "--data", pairs, "--format", "pairs", "--steps", 2, "--batch", 2,
                "--eval-every", 0, "--save-dtype", "bfloat16", "--out", dpo, "--quiet").ok();
        run("ppo", "--policy", sft.resolve("model"), "--reward-model", rm, "--tasks", 4, "--level", 1, "--steps", 1,
                "--rollout", 2, "--mini-batch", 2, "--epochs", 1, "--max-new", 3, "--eval-tasks", 2, "--eval-every", 0,
                "--out", ppo, "--quiet").ok();
        for (Path saved : List.of(sft.resolve("model"), rm.resolve("model"), dpo.resolve("model"), ppo.resolve("model")))
            assertTrue(Files.isRegularFile(saved.resolve("tokenizer.json")), saved + " carries the tokenizer");
        assertReloadsBitIdentically(dpo.resolve("model"), SafeTensorsDType.BF16, SaveOptions.DEFAULT.maxShardBytes());
        assertReloadsBitIdentically(ppo.resolve("model"), SafeTensorsDType.F32, SaveOptions.DEFAULT.maxShardBytes());
        Run g = run("generate", "--model", dpo, "--prompt", "2+2?", "--chat", "--max-new", 3, "--temperature", 0).ok();
        assertEquals(g.out(), run("generate", "--model", dpo, "--prompt", "2+2?", "--chat", "--max-new", 3, "--temperature", 0)
                .ok().out());
    }

    /**
     * stories260K (a real pretrained Llama, GQA) from the command line with token ids: greedy {@code generate --ids 1}
     * (through the KV cache) reproduces llama2.c's 64 ids, and {@code score} their log-probs within 1e-4.
     */
    @Test
    void stories260KByIdsMatchesLlama2c() throws IOException {
        Path stories = Path.of("../shared/models/stories260K");
        Assumptions.assumeTrue(Files.isDirectory(stories), "../shared/models/stories260K is absent");
        JsonNode ref = new ObjectMapper().readTree(stories.resolve("reference_greedy.json").toFile());
        StringBuilder want = new StringBuilder();
        for (JsonNode id : ref.get("greedy_continuation")) want.append(want.length() == 0 ? "" : ",").append(id.asInt());
        Run g = run("generate", "--model", stories, "--ids", "1", "--temperature", 0, "--max-new", 64).ok();
        assertEquals(want.toString(), g.out().strip());
        Run s = run("score", "--model", stories, "--prompt-ids", "1", "--ids", want).ok();
        List<String> rows = s.out().strip().lines().toList();
        for (int i = 0; i < 64; i++) {
            String[] cols = rows.get(i + 1).strip().split("\\s+");
            assertEquals(ref.get("greedy_continuation").get(i).asInt(), Integer.parseInt(cols[0]), "row " + i);
            assertEquals(ref.get("logprob_of_each").get(i).asDouble(), Double.parseDouble(cols[1]), 1e-4, "log p of token " + i);
        }
        run("score", "--model", stories, "--ids", "1,512").usageError();
        run("generate", "--model", stories, "--ids", "1,x").usageError();
    }

    @Test
    void sftOnLlamaResumesExactly() throws IOException {
        Path dir = tmp.resolve("llama-sft-resume");
        Object[] common = {"sft", "--init", llama, "--tasks", 16, "--level", 1, "--seed", 3};
        run(concat(common, "--steps", 4, "--batch", 4, "--checkpoint-every", 2, "--eval-every", 0, "--out", dir, "--quiet")).ok();
        List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
        Files.writeString(dir.resolve("latest"), "step-2");  // a crash after step 2's checkpoint
        Run r = run(concat(common, "--resume", "--out", dir)).ok();
        assertTrue(r.out().contains("resuming at step 2 of 4"), r.out());
        List<String> resumed = Files.readAllLines(dir.resolve("metrics.jsonl"));
        CliTest.assertSameSteps(full, resumed, "sft on llama");
    }

    private static Object[] concat(Object[] a, Object... b) {
        Object[] r = new Object[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void assertModelDir(Path modelDir) {
        assertTrue(Files.isRegularFile(modelDir.resolve("config.json")), modelDir + " has a config.json");
    }

    /**
     * {@code dir} loads back bit-identically: loaded and saved again in its own dtype and sharding, every file of the
     * new folder equals the old one byte for byte, and the reloaded weights equal the loaded ones.
     */
    private static void assertReloadsBitIdentically(Path dir, SafeTensorsDType dtype, long shardBytes) throws IOException {
        try (CausalLm a = CausalLm.load(dir, Device.cpu())) {
            assertTrue(a instanceof Llama, dir + " loads as a Llama-family model");
            Path again = tmp.resolve("again-" + dir.getParent().getFileName() + "-" + dir.getFileName());
            a.save(again, SaveOptions.DEFAULT.withDtype(dtype).withMaxShardBytes(shardBytes));
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator)
                    assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(again.resolve(f.getFileName())), f.toString());
            }
            try (CausalLm b = CausalLm.load(again, Device.cpu())) {
                assertArrayEquals(a.params().toFloatArray(), b.params().toFloatArray(), dir.toString());
            }
        }
    }
}
