package dev.align4j.model;

import dev.align4j.kernels.AdamW;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each GPT-2 parameter lives in the model's one flat F32 buffer: HF's names and order
 * ({@link HfGpt2Layout#params}), but linear weights stored {@code [out, in]} (PyTorch Linear, llm.c) rather
 * than HF's Conv1D {@code [in, out]}. The gradient buffer uses the same offsets.
 */
public final class GptParams {
    /** One parameter: HF name, element offset in the flat buffer, model-layout shape, whether it is decayed. */
    public record Entry(String name, long offset, long[] shape, boolean conv1d) {
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        /** llm.c / nanoGPT: weight decay on every 2-D tensor (matrices and embeddings), not on biases or LayerNorm. */
        public boolean decayed() {
            return shape.length == 2;
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    private final GptConfig config;
    private final Map<String, Entry> entries;
    private final long total;

    public GptParams(GptConfig config) {
        this.config = config;
        Map<String, Entry> m = new LinkedHashMap<>();
        long off = 0;
        for (HfGpt2Layout.Param p : HfGpt2Layout.params(config)) {
            long[] s = p.longShape();
            if (p.conv1d()) s = new long[] {s[1], s[0]}; // [in, out] -> [out, in]
            Entry e = new Entry(p.name(), off, s, p.conv1d());
            m.put(p.name(), e);
            off += e.numel();
        }
        this.entries = Collections.unmodifiableMap(m);
        this.total = off;
    }

    public GptConfig config() {
        return config;
    }

    /** Total number of parameters. */
    public long size() {
        return total;
    }

    /** Every entry in buffer order. */
    public List<Entry> entries() {
        return new ArrayList<>(entries.values());
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("no parameter '" + name + "' in the GPT-2 layout");
        return e;
    }

    /** The named view of {@code flat} (the parameter or gradient buffer). */
    public Tensor view(Tensor flat, String name) {
        Entry e = entry(name);
        return flat.view(e.offset(), e.shape);
    }

    /** The ranges AdamW decays: the 2-D entries, merged where adjacent. */
    public List<AdamW.Range> decayRanges() {
        List<AdamW.Range> out = new ArrayList<>();
        long start = -1, end = -1;
        for (Entry e : entries.values()) {
            if (!e.decayed()) continue;
            if (e.offset() == end) {
                end += e.numel();
            } else {
                if (start >= 0) out.add(new AdamW.Range(start, end - start));
                start = e.offset();
                end = start + e.numel();
            }
        }
        if (start >= 0) out.add(new AdamW.Range(start, end - start));
        return out;
    }
}
