package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model folder with Qwen3's tokenizer and chat template (../shared/tokenizers/qwen3; skipped when absent) through
 * {@code sft --format messages}, {@code generate --chat} and {@code score --chat}: a tiny random GPT with Qwen3's
 * vocabulary stands in for the model (the CLI loads GPT-2-layout folders here).
 */
class ChatCliTest {
    @TempDir
    Path tmp;

    @Test
    void sftGenerateAndScoreWithTheModelsChatTemplate() throws Exception {
        Path qwen = Path.of("../shared/tokenizers/qwen3");
        assumeTrue(HfTokenizer.available() && Files.isRegularFile(qwen.resolve("tokenizer.json")), "needs ../shared/tokenizers/qwen3 and DJL");
        Path model = tmp.resolve("model");
        try (Gpt g = Gpt.create(new GptConfig(1, 2, 32, 128, 151680), Device.cpu(), 1)) {
            g.save(model);
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(qwen.resolve(f), model.resolve(f));
        Path data = Files.write(tmp.resolve("chat.jsonl"), List.of(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"2+2?\"},"
                        + " {\"role\": \"assistant\", \"content\": \"4\"}, {\"role\": \"user\", \"content\": \"3*3?\"},"
                        + " {\"role\": \"assistant\", \"content\": \"9\"}]}"));
        Path out = tmp.resolve("run");
        CliTest.Run sft = CliTest.run("sft", "--init", model, "--data", data, "--format", "messages", "--steps", "2", "--batch", "2",
                "--out", out);
        assertEquals(0, sft.code(), sft.err());
        String said = sft.out() + sft.err();
        assertTrue(said.contains("rendered with the model's chat template"), said);
        assertTrue(said.contains("3 train / 0 held-out examples") && said.contains("1 conversations split into one example per reply"), said);
        assertTrue(Files.isRegularFile(out.resolve("model/tokenizer.json")), "the tokenizer travels with the trained model");
        CliTest.Run gen = CliTest.run("generate", "--model", out, "--prompt", "Hello", "--chat", "--max-new", "3",
                "--temperature", "0", "--quiet");
        assertEquals(0, gen.code(), gen.err());
        CliTest.Run score = CliTest.run("score", "--model", out.resolve("model"), "--prompt", "Hi", "--text", "Hello!", "--chat", "--quiet");
        assertEquals(0, score.code(), score.err());
        assertTrue(score.out().contains("perplexity"), score.out());
        CliTest.Run noTemplate = CliTest.run("score", "--model", tmp.resolve("none"), "--text", "x", "--chat", "--quiet");
        assertEquals(2, noTemplate.code());
    }
}
