package dev.align4j.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.Encoder;
import dev.align4j.data.SequenceBatch;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.Responses;
import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** RewardScale: the reward model's scores standardised on the policy's own samples, and a critic head on that scale. */
class RewardScaleTest {
    static final ByteTokenizer TOK = new ByteTokenizer();
    static final GptConfig MICRO = new GptConfig(1, 2, 16, 64, TOK.vocabSize());

    @Test
    void theScaleStandardisesThePolicysOwnSamplesAndTheCriticHeadOutputsIt() {
        long seed = System.nanoTime();
        Encoder enc = new Encoder(TOK, MICRO.nCtx());
        // 70 prompts: two scoring batches, the second one partial
        List<Task> tasks = TaskSuite.level(1).generate(70, seed, Split.TRAIN);
        PpoConfig cfg = PpoConfig.defaults().withGeneration(8, 1.0, 0);
        try (Gpt policy = Gpt.create(MICRO, Device.cpu(), seed); RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed + 1)) {
            List<String> log = new ArrayList<>();
            RewardScale scale = RewardScale.fit(rm, policy, enc, tasks, cfg, seed + 2, log::add);
            assertTrue(scale.std() > 1e-6 && log.size() == 1 && log.get(0).contains("on 70 SFT samples"), seed + ": " + log);
            // the same samples again (same seed and batch): standardised, their mean is 0 and their sample std 1
            List<String> prompts = tasks.stream().map(Task::prompt).toList();
            List<int[]> p = new ArrayList<>(), r = new ArrayList<>();
            for (Responses.Response x : Responses.generate(policy, enc, prompts, 64, 8, 1.0, seed + 2, false)) r.add(x.tokens());
            for (String s : prompts) p.add(enc.encodePrompt(s));
            SequenceBatch batch = SequenceBatch.ofResponses(p, r, TOK.padId());
            float[] raw = rm.score(batch), standard = scale.score(batch);
            double mean = 0, var = 0;
            for (float x : standard) mean += x / 70.0;
            for (float x : standard) var += (x - mean) * (x - mean) / 69.0;
            assertEquals(0, mean, 1e-3, "seed " + seed);
            assertEquals(1, Math.sqrt(var), 1e-3, "seed " + seed);
            for (int i = 0; i < raw.length; i++)
                assertEquals((raw[i] - scale.mean()) / scale.std(), standard[i], 1e-4 * (1 + Math.abs(standard[i])), "row " + i);
            // the critic starts on the returns' scale: its head on the reward model's backbone outputs the standardised score
            try (RewardModel critic = new RewardModel(rm.backbone().copy(), scale.criticHead())) {
                float[] v = critic.score(batch);
                for (int i = 0; i < v.length; i++)
                    assertEquals(standard[i], v[i], 1e-4 * (1 + Math.abs(standard[i])), "seed " + seed + " row " + i);
            }
        }
    }

    @Test
    void onlyTheFirstPromptsFixTheScale() {
        long seed = System.nanoTime();
        Encoder enc = new Encoder(TOK, MICRO.nCtx());
        List<Task> tasks = TaskSuite.level(1).generate(RewardScale.PROMPTS + 30, seed, Split.TRAIN);
        PpoConfig cfg = PpoConfig.defaults().withGeneration(4, 1.0, 0);
        try (Gpt policy = Gpt.create(MICRO, Device.cpu(), seed); RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed + 1)) {
            RewardScale all = RewardScale.fit(rm, policy, enc, tasks, cfg, seed, line -> {});
            RewardScale first = RewardScale.fit(rm, policy, enc, tasks.subList(0, RewardScale.PROMPTS), cfg, seed, line -> {});
            assertEquals(first, all, "seed " + seed);
        }
    }
}
