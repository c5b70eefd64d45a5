package dev.align4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.model.CausalLm;
import dev.align4j.model.HfGpt2Layout;
import dev.align4j.model.PeftAdapter;
import dev.align4j.model.SafeTensorsFile;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A trainer's checkpoint as it is read back: one format for every trainer. {@code step-N/} holds the trained model
 * in Hugging Face's GPT-2 layout (loadable by {@link CausalLm#load}) with the step in its metadata, and
 * {@value #STATE_FILE}: the optimizer moments as tensors and, in its metadata, the trainer's name, the step, the data
 * position (the whole data RNG state: every draw is a function of seed and position), the trainer's config as JSON,
 * and whatever the trainer adds ({@link PostTrainer#saveExtras}). A resume refuses a model and a state from different
 * steps, and a run of another trainer.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String STATE_FILE = "train_state.safetensors";
    static final String FORMAT = "align4j-train-state-v2";
    static final String TRAINER = "trainer", STEP = "step", DATA_POSITION = "data_position", CONFIG = "config";
    /** The ranks of the data-parallel job that wrote it (absent before: one). */
    static final String WORLD_SIZE = "world_size";
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final SafeTensorsFile state;
    private final long step;

    private Checkpoint(Path dir, SafeTensorsFile state, long step) {
        this.dir = dir;
        this.state = state;
        this.step = step;
    }

    /** The latest checkpoint of the run in {@code runDir}, which must be a run of {@code trainer} ("sft", "ppo", ...). */
    public static Checkpoint latest(Path runDir, String trainer) throws IOException {
        Path ck = RunDirectory.latest(runDir);
        SafeTensorsFile f = SafeTensorsFile.open(ck.resolve(STATE_FILE));
        try {
            String format = f.metadata().get("format");
            if (!FORMAT.equals(format))
                throw new IOException(f.path() + ": format '" + format + "', expected '" + FORMAT + "' (a checkpoint of another "
                        + "align4j version cannot be resumed)");
            String kind = require(f, TRAINER);
            if (!kind.equals(trainer)) throw new IOException(runDir + " holds a " + kind + " run, not a " + trainer + " run");
            return new Checkpoint(ck, f, Long.parseLong(require(f, STEP)));
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** The config saved with the latest checkpoint of the {@code trainer} run in {@code runDir}. */
    public static <C> C savedConfig(Path runDir, String trainer, Class<C> type) throws IOException {
        try (Checkpoint c = latest(runDir, trainer)) {
            return c.config(type);
        }
    }

    public <C> C config(Class<C> type) throws IOException {
        return JSON.readValue(require(CONFIG), type);
    }

    /** The checkpoint's folder ({@code step-N/}). */
    public Path dir() {
        return dir;
    }

    public long step() {
        return step;
    }

    public long dataPosition() throws IOException {
        return Long.parseLong(require(DATA_POSITION));
    }

    /** A metadata value the trainer saved; missing is an error naming the file and the key. */
    public String require(String key) throws IOException {
        return require(state, key);
    }

    /** A float tensor the trainer saved, of exactly {@code n} values. */
    public float[] floats(String name, long n) throws IOException {
        return state.floats(name, n);
    }

    SafeTensorsFile state() {
        return state;
    }

    /** The GPT saved in {@code dir()/sub} ("" for the trained model itself), checked to be from this step. */
    public CausalLm loadModel(String sub, Device device) throws IOException {
        Path d = sub.isEmpty() ? dir : dir.resolve(sub);
        if (PeftAdapter.isAdapterFolder(d)) {
            // LoRA: the adapters (from this step) on the base they point at
            try (SafeTensorsFile w = SafeTensorsFile.open(d.resolve(PeftAdapter.WEIGHTS))) {
                checkStep(w);
            }
        } else {
            try (dev.align4j.model.SafeTensorsCheckpoint ck = dev.align4j.model.SafeTensorsCheckpoint.open(d)) {
                for (SafeTensorsFile w : ck.files()) checkStep(w);
            }
        }
        return CausalLm.load(d, device);
    }

    private void checkStep(SafeTensorsFile w) throws IOException {
        String ws = w.metadata().get(STEP);
        if (!Long.toString(step).equals(ws))
            throw new IOException(w.path() + " is from step " + ws + " but " + state.path() + " from step " + step);
    }

    /**
     * Saves {@code model} into {@code dir} in its family's Hugging Face layout with {@code step} in its metadata; with
     * LoRA adapters, the adapters only, in PEFT's format, pointing at the base's folder.
     */
    public static void saveModel(Path dir, CausalLm model, long step) throws IOException {
        model.save(dir, dev.align4j.model.SaveOptions.DEFAULT.withMetadata(STEP, Long.toString(step)));
    }

    private static String require(SafeTensorsFile f, String key) throws IOException {
        String s = f.metadata().get(key);
        if (s == null) throw new IOException(f.path() + ": metadata has no '" + key + "'");
        return s;
    }

    @Override
    public void close() throws IOException {
        state.close();
    }
}
