package dev.align4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.model.Gpt;
import dev.align4j.model.HfGpt2Layout;
import dev.align4j.model.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Files shared by the trainers' checkpoints: a model in Hugging Face's GPT-2 layout (loadable by
 * {@link Gpt#load}) with the step in its metadata, and {@code train_state.safetensors} with the optimizer moments
 * and, in its metadata, the step, the data position and the trainer's config as JSON. A resume refuses a model and
 * a state from different steps.
 */
final class TrainState {
    static final String STATE_FILE = "train_state.safetensors";
    static final String STEP = "step";
    static final ObjectMapper JSON = new ObjectMapper();

    private TrainState() {}

    static void saveModel(Path dir, Gpt model, long step) throws IOException {
        HfGpt2Layout.save(dir, model.config(), model.toHf(), Map.of(STEP, Long.toString(step)));
    }

    /** Loads the model in {@code dir} and checks it was saved at {@code step}. */
    static Gpt loadModel(Path dir, long step, dev.align4j.tensor.Device device) throws IOException {
        try (SafeTensorsFile w = SafeTensorsFile.open(dir.resolve(HfGpt2Layout.WEIGHTS_FILE))) {
            String ws = w.metadata().get(STEP);
            if (!Long.toString(step).equals(ws))
                throw new IOException(w.path() + " is from step " + ws + " but " + STATE_FILE + " from step " + step);
        }
        return Gpt.load(dir, device);
    }

    /** The trainer config saved as JSON under {@code key} in the latest checkpoint of the run in {@code runDir}. */
    static <T> T savedConfig(Path runDir, String key, Class<T> type) throws IOException {
        try (SafeTensorsFile f = SafeTensorsFile.open(RunDirectory.latest(runDir).resolve(STATE_FILE))) {
            return JSON.readValue(require(f, key), type);
        }
    }

    static String require(SafeTensorsFile f, String key) throws IOException {
        String s = f.metadata().get(key);
        if (s == null) throw new IOException(f.path() + ": metadata has no '" + key + "'");
        return s;
    }
}
