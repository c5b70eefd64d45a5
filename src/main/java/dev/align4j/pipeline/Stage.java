package dev.align4j.pipeline;

import dev.align4j.model.CausalLm;
import java.io.IOException;

/** One step of {@link PostTrainingPipeline}: it trains something from what earlier stages left in the context. */
interface Stage {
    /** The stage's name: its run folder, progress listener, evaluation and summary entry. */
    String name();

    /**
     * Runs the stage on what earlier stages left in {@code ctx} (and leaves there what later ones need). Returns the
     * policy it trained, which the pipeline then evaluates and closes unless {@code ctx} holds it; or null for a
     * stage that trains no policy to evaluate.
     */
    CausalLm run(PipelineContext ctx) throws IOException;

    /** Training of a policy in place. */
    @FunctionalInterface
    interface Training {
        void train(CausalLm policy) throws IOException;
    }

    /** A copy of {@code from} after {@code training}; the copy is closed when training fails. */
    static CausalLm trainCopy(CausalLm from, Training training) throws IOException {
        CausalLm policy = from.copy();
        try {
            training.train(policy);
            return policy;
        } catch (RuntimeException | IOException | Error e) {
            policy.close();
            throw e;
        }
    }
}
