package dev.align4j.testing;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedSft;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.Schedule;
import dev.align4j.train.SftConfig;
import dev.align4j.train.SftTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A small GPT-2 fine-tuned in full on the level-1 task suite and saved as a model folder: a base that already knows the
 * task format, for the tests of what trains on top of one (LoRA's adapters learn little on a random-init base: its
 * frozen embeddings and tied head are noise).
 */
public final class TaskBase {
    private TaskBase() {}

    /** SFT of a fresh {@code config} model ({@code seed}) for {@code steps} steps on 512 tasks, saved into {@code dir}. */
    public static Path sft(Path dir, GptConfig config, long seed, int steps) throws IOException {
        Encoder enc = new Encoder(new ByteTokenizer(), config.nCtx());
        List<TokenizedSft> train = new ArrayList<>();
        for (Task t : TaskSuite.level(1).generate(512, seed, Split.TRAIN)) train.add(enc.encode(t.toSft()));
        SftConfig cfg = SftConfig.defaults().withSchedule(new Schedule(steps, 0, 0, seed)).withOptim(OptimConfig.cosine(3e-3, 3e-4, 10));
        try (Gpt m = Gpt.create(config, Device.cpu(), seed);
             SftTrainer t = SftTrainer.create(m, cfg, train, List.of(), ByteTokenizer.PAD, dir.resolve("sft-run"))) {
            t.train();
            m.save(dir.resolve("base"));
        }
        return dir.resolve("base");
    }
}
