package dev.align4j.cli;

import static dev.align4j.cli.CliTest.assertSameSteps;
import static dev.align4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.cli.CliTest.Run;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.Llama;
import dev.align4j.model.LlamaConfig;
import dev.align4j.model.PeftAdapter;
import dev.align4j.model.RewardModel;
import dev.align4j.model.SafeTensorsFile;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA from the command line, on GPT-2 and on a Llama (GQA, untied head): {@code sft}, {@code dpo}, {@code grpo}
 * (β &gt; 0: the reference is the policy with its adapters off), {@code rm} and {@code ppo} with {@code --lora-r 8}
 * write PEFT adapter folders (PEFT's key names and shapes, pointing at the base) and leave the base untouched;
 * {@code merge} gives the adapter model's log-probs; a LoRA run resumes exactly.
 */
class LoraCliTest {
    @TempDir
    static Path tmp;
    private static Path gpt2, llama;

    @BeforeAll
    static void bases() throws IOException {
        gpt2 = tmp.resolve("gpt2-base");
        try (Gpt m = Gpt.create(new GptConfig(2, 2, 32, 64, 320), Device.cpu(), 5)) {
            m.save(gpt2);
        }
        llama = tmp.resolve("llama-base");
        try (Llama m = Llama.create(new LlamaConfig("llama", 320, 32, 48, 2, 4, 2, 8, 1e-5, 10000.0, null, false, false, false, 64),
                Device.cpu(), 7)) {
            m.save(llama);
        }
    }

    @Test
    void everyTrainerWritesPeftAdaptersOnGpt2AndLlama() throws IOException {
        for (Path base : new Path[] {gpt2, llama}) {
            String name = base.getFileName().toString().replace("-base", "");
            byte[] baseWeights = Files.readAllBytes(base.resolve("model.safetensors"));
            Path sft = tmp.resolve(name + "-sft");
            Run r = run("sft", "--init", base, "--lora-r", 8, "--lora-targets", "all-linear", "--tasks", 16, "--level", 1, "--steps", 3,
                    "--batch", 4, "--eval-every", 0, "--out", sft).ok();
            assertTrue(r.out().contains("LoRA r 8, alpha 8"), r.out());
            assertAdapter(sft.resolve("model"), base, 8, name.equals("gpt2") ? "base_model.model.transformer.h.1.mlp.c_proj" :
                    "base_model.model.model.layers.1.mlp.down_proj");
            // dpo from the base with new adapters; grpo continuing the sft adapters with a KL to the base (adapters off)
            Path dpo = tmp.resolve(name + "-dpo"), grpo = tmp.resolve(name + "-grpo");
            run("dpo", "--init", base, "--lora-r", 8, "--tasks", 16, "--level", 1, "--steps", 3, "--batch", 4, "--eval-every", 0,
                    "--out", dpo, "--quiet").ok();
            assertAdapter(dpo.resolve("model"), base, 8, name.equals("gpt2") ? "base_model.model.transformer.h.0.attn.c_attn"
                    : "base_model.model.model.layers.0.self_attn.v_proj");
            r = run("grpo", "--policy", base, "--lora-r", 8, "--lora-alpha", 16, "--beta", 0.1, "--tasks", 8, "--level", 1,
                    "--steps", 2, "--prompts", 2, "--num-generations", 3, "--max-new", 4, "--eval-tasks", 0, "--out", grpo).ok();
            assertTrue(r.out().contains("grpo: reward"), r.out());
            JsonNode last = new ObjectMapper().readTree(Files.readAllLines(grpo.resolve("metrics.jsonl")).get(1));
            assertTrue(last.has("kl") && last.get("kl").asDouble() >= 0, last.toString());
            assertAdapter(grpo.resolve("model"), base, 8, null);
            // rm: adapters plus the score head in full; ppo against it with adapters on the policy
            Path rm = tmp.resolve(name + "-rm"), ppo = tmp.resolve(name + "-ppo");
            run("rm", "--init", base, "--lora-r", 4, "--tasks", 16, "--level", 1, "--steps", 3, "--batch", 4, "--eval-every", 0,
                    "--out", rm, "--quiet").ok();
            assertAdapter(rm.resolve("model"), base, 4, null);
            assertTrue(Files.isRegularFile(rm.resolve("model").resolve(RewardModel.HEAD_FILE)));
            run("ppo", "--policy", base, "--lora-r", 4, "--reward-model", rm.resolve("model"), "--tasks", 8, "--level", 1, "--steps", 2,
                    "--rollout", 4, "--mini-batch", 2, "--epochs", 1, "--max-new", 4, "--eval-tasks", 0, "--out", ppo, "--quiet").ok();
            assertAdapter(ppo.resolve("model"), base, 4, null);
            assertArrayEquals(baseWeights, Files.readAllBytes(base.resolve("model.safetensors")), name + ": the base is untouched");

            // merge: a plain model folder with the adapter model's log-probs
            Path merged = tmp.resolve(name + "-merged");
            r = run("merge", "--adapter", sft, "--out", merged).ok();
            assertTrue(r.out().contains("merged into"), r.out());
            assertFalse(PeftAdapter.isAdapterFolder(merged));
            try (CausalLm a = CausalLm.load(sft.resolve("model"), Device.cpu()); CausalLm m = CausalLm.load(merged, Device.cpu())) {
                assertNotNull(a.lora());
                assertNull(m.lora());
                Random rnd = new Random(3);
                int b = 3, t = 20;
                int[] tok = new int[b * t], tgt = new int[b * t];
                for (int i = 0; i < tok.length; i++) {
                    tok[i] = rnd.nextInt(259);
                    tgt[i] = rnd.nextInt(259);
                }
                a.forward(tok, tgt, null, b, t);
                m.forward(tok, tgt, null, b, t);
                float[] x = a.logProbs().toFloatArray(), y = m.logProbs().toFloatArray();
                for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 1e-4, name + " merged logp[" + i + "]");
            }
            // the adapter model scores like the merged one from the command line too
            String s1 = run("score", "--model", sft.resolve("model"), "--text", "abc", "--prompt", "Q: x").ok().out();
            String s2 = run("score", "--model", merged, "--text", "abc", "--prompt", "Q: x").ok().out();
            assertEquals(lastLine(s1).replaceAll("\\d{4}\\b", ""), lastLine(s2).replaceAll("\\d{4}\\b", ""), name);
        }
    }

    private static String lastLine(String s) {
        String[] l = s.strip().split("\n");
        return l[l.length - 1];
    }

    /** A PEFT adapter folder of rank r pointing at {@code base}, holding {@code key}'s A [r, in] and B [out, r] when given. */
    private static void assertAdapter(Path dir, Path base, int r, String key) throws IOException {
        assertTrue(PeftAdapter.isAdapterFolder(dir), dir + " is an adapter folder");
        assertFalse(Files.exists(dir.resolve("model.safetensors")), "no base weights in " + dir);
        JsonNode c = new ObjectMapper().readTree(dir.resolve(PeftAdapter.CONFIG).toFile());
        assertEquals("LORA", c.get("peft_type").textValue());
        assertEquals(r, c.get("r").intValue());
        assertEquals(base.toAbsolutePath().normalize().toString(), c.get("base_model_name_or_path").textValue());
        try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve(PeftAdapter.WEIGHTS))) {
            for (String n : f.names()) assertTrue(n.startsWith("base_model.model.") && n.matches(".*\\.lora_[AB]\\.weight"), n);
            if (key != null) {
                assertEquals(r, f.info(key + ".lora_A.weight").shape()[0], key);
                assertEquals(r, f.info(key + ".lora_B.weight").shape()[1], key);
            }
        }
    }

    @Test
    void loraRunsResumeExactlyAndBadFlagsAreOneLine() throws IOException {
        for (String cmd : new String[] {"sft", "dpo"}) {
            Path dir = tmp.resolve(cmd + "-lora-resume");
            List<Object> common = new ArrayList<>(List.of(cmd, "--init", llama, "--tasks", 16, "--level", 1));
            List<Object> first = new ArrayList<>(common);
            first.addAll(List.of("--lora-r", 4, "--lora-rslora", "--steps", 4, "--batch", 4, "--checkpoint-every", 2, "--eval-every", 0,
                    "--seed", 3, "--out", dir, "--quiet"));
            run(first.toArray()).ok();
            List<String> full = Files.readAllLines(dir.resolve("metrics.jsonl"));
            assertTrue(PeftAdapter.isAdapterFolder(dir.resolve("step-2")), "checkpoints hold the adapters");
            byte[] adapters = Files.readAllBytes(dir.resolve("step-4").resolve(PeftAdapter.WEIGHTS));
            Files.writeString(dir.resolve("latest"), "step-2"); // a crash after step 2's checkpoint
            List<Object> again = new ArrayList<>(common);
            again.addAll(List.of("--resume", "--out", dir));
            Run r = run(again.toArray()).ok();
            assertTrue(r.out().contains("resuming at step 2 of 4"), cmd + ": " + r.out());
            assertSameSteps(full, Files.readAllLines(dir.resolve("metrics.jsonl")), cmd + " with LoRA");
            assertArrayEquals(adapters, Files.readAllBytes(dir.resolve("step-4").resolve(PeftAdapter.WEIGHTS)), cmd + ": same adapters");
        }
        Run bad = run("sft", "--init", gpt2, "--lora-r", 4, "--lora-targets", "q_proj", "--tasks", 8, "--out", tmp.resolve("bad1")).usageError();
        assertTrue(bad.err().contains("--lora-targets") && bad.err().contains("q_proj") && bad.err().contains("c_attn"), bad.err());
        bad = run("sft", "--init", gpt2, "--lora-alpha", 4, "--tasks", 8, "--out", tmp.resolve("bad2")).usageError();
        assertTrue(bad.err().contains("need --lora-r"), bad.err());
        bad = run("sft", "--init", gpt2, "--lora-r", 4, "--lora-dropout", 0.1, "--tasks", 8, "--out", tmp.resolve("bad3")).usageError();
        assertTrue(bad.err().contains("dropout"), bad.err());
        bad = run("merge", "--adapter", gpt2, "--out", tmp.resolve("bad4")).usageError();
        assertTrue(bad.err().contains("--adapter") && bad.err().contains("adapter_config.json"), bad.err());
    }
}
