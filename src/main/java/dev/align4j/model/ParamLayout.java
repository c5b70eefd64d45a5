package dev.align4j.model;

import dev.align4j.kernels.AdamW;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each parameter of a model lives in its one flat F32 buffer: names (Hugging Face's), offsets and shapes,
 * in the order given. Linear weights are {@code [out, in]} (PyTorch Linear, llm.c; GPT-2's HF Conv1D
 * {@code [in, out]} is transposed at load, see {@link #gpt2}). The gradient buffer, and AdamW's moments, use the
 * same offsets.
 */
public final class ParamLayout {
    /** One parameter: name, element offset in the flat buffer, model-layout shape. */
    public record Entry(String name, long offset, long[] shape) {
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        /** llm.c / nanoGPT: weight decay on every 2-D tensor (matrices and embeddings), not on biases or norms. */
        public boolean decayed() {
            return shape.length == 2;
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    private final Map<String, Entry> entries;
    private final long total;

    /** The parameters {@code shapes} (name → shape), laid out one after the other in iteration order. */
    public ParamLayout(Map<String, long[]> shapes) {
        Map<String, Entry> m = new LinkedHashMap<>();
        long off = 0;
        for (Map.Entry<String, long[]> p : shapes.entrySet()) {
            Entry e = new Entry(p.getKey(), off, p.getValue().clone());
            m.put(p.getKey(), e);
            off += e.numel();
        }
        this.entries = Collections.unmodifiableMap(m);
        this.total = off;
    }

    /** GPT-2: HF's names and order ({@link HfGpt2Layout#params}), Conv1D weights as {@code [out, in]}. */
    public static ParamLayout gpt2(GptConfig config) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (HfGpt2Layout.Param p : HfGpt2Layout.params(config)) {
            long[] s = p.longShape();
            m.put(p.name(), p.conv1d() ? new long[] {s[1], s[0]} : s); // [in, out] -> [out, in]
        }
        return new ParamLayout(m);
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
        if (e == null) throw new IllegalArgumentException("no parameter '" + name + "' in this model");
        return e;
    }

    /** Whether the layout has a parameter {@code name}. */
    public boolean has(String name) {
        return entries.containsKey(name);
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
