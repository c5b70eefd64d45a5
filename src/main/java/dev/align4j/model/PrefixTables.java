package dev.align4j.model;

import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.kernels.Embedding;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Tensor;

/**
 * What a family's shared-prefix forward ({@link CausalLm#forward(SharedPrefixBatch)}) keeps besides its two passes'
 * states: per layer, one table of key rows and one of value rows — the prefixes' {@code [NG, Hkv, Tp, D]} (pass 1,
 * right-padded) ahead of the own rows' {@code [B, Hkv, Tc, D]} (pass 2) — the gathered keys and values of every row
 * {@code [B, Hkv, Tp + Tc, D]} (its prefix left-padded to Tp, then its own), the gather's indices, the attention's
 * {@code keyStart} (Tp − the row's prefix length), each row's prefix length, and the tables' gradients. The gather
 * and its backward are the embedding kernel's forward and (deterministic) scatter.
 */
final class PrefixTables {
    final long ng, tp, b, tc, s, heads, d;
    /** The prefixes' tokens {@code [NG, Tp]} (right-padded with 0), null when every prefix is empty. */
    final Tensor tokens;
    final Tensor keyStart, ids, zeroD, dk, dv;
    final Tensor[] kTable, vTable, dkTable, dvTable, k, v;
    /** Row q's prefix length (its own token t sits at position prefixLength[q] + t). */
    final int[] prefixLength;

    PrefixTables(CausalLmBase.Buffers buf, SharedPrefixBatch sp, long b, long tc, long heads, long d, int layers) {
        int[][] prefixes = sp.prefixes();
        int[] group = sp.group();
        this.ng = prefixes.length;
        this.tp = sp.maxPrefix();
        this.b = b;
        this.tc = tc;
        this.s = tp + tc;
        this.heads = heads;
        this.d = d;
        int[] tok = new int[Math.toIntExact(ng * tp)];
        for (int g = 0; g < ng; g++) System.arraycopy(prefixes[g], 0, tok, (int) (g * tp), prefixes[g].length);
        tokens = tp == 0 ? null : buf.alloc(DType.I32, ng, tp).copyFrom(tok);
        int[] ks = new int[(int) b];
        prefixLength = new int[(int) b];
        long prefixRows = ng * heads * tp;
        int[] id = new int[Math.toIntExact(b * heads * s)];
        for (int q = 0; q < b; q++) {
            int len = prefixes[group[q]].length;
            prefixLength[q] = len;
            ks[q] = (int) tp - len;
            for (int h = 0; h < heads; h++) {
                int base = (int) ((q * heads + h) * s);
                long own = prefixRows + (q * heads + h) * tc;
                for (int j = 0; j < s; j++) {
                    long r;
                    if (j < ks[q]) r = own;                                           // masked (key_start): never read
                    else if (j < tp) r = (group[q] * heads + h) * tp + (j - ks[q]);   // the prefix's key j − ks
                    else r = own + (j - tp);                                          // the row's own key
                    id[base + j] = (int) r;
                }
            }
        }
        keyStart = buf.alloc(DType.I32, b).copyFrom(ks);
        ids = buf.alloc(DType.I32, b * heads * s, 1).copyFrom(id);
        zeroD = buf.f32(1, d).zero();
        kTable = new Tensor[layers];
        vTable = new Tensor[layers];
        dkTable = new Tensor[layers];
        dvTable = new Tensor[layers];
        k = new Tensor[layers];
        v = new Tensor[layers];
        long rows = prefixRows + b * heads * tc;
        for (int l = 0; l < layers; l++) {
            kTable[l] = buf.f32(rows, d);
            vTable[l] = buf.f32(rows, d);
            dkTable[l] = buf.f32(rows, d);
            dvTable[l] = buf.f32(rows, d);
            k[l] = buf.f32(b, heads, s, d);
            v[l] = buf.f32(b, heads, s, d);
        }
        dk = buf.f32(b, heads, s, d);
        dv = buf.f32(b, heads, s, d);
    }

    /** The own tokens' positions {@code [B, Tc]}: |prefix| + t (padding, which nothing reads, at 0). */
    int[] positions(int[] endIndex) {
        int[] ps = new int[Math.toIntExact(b * tc)];
        for (int q = 0; q < b; q++)
            for (int t = 0; t <= endIndex[q]; t++) ps[(int) (q * tc) + t] = prefixLength[q] + t;
        return ps;
    }

    /** The prefixes' part of a table as pass 1's k or v {@code [NG, Hkv, Tp, D]}. */
    Tensor prefixRows(Tensor table) {
        return table.view(0, ng, heads, tp, d);
    }

    /** The own rows' part of a table as pass 2's k or v {@code [B, Hkv, Tc, D]}. */
    Tensor ownRows(Tensor table) {
        return table.view(ng * heads * tp * d, b, heads, tc, d);
    }

    /** Layer l's keys and values of every row, gathered from the tables (the attention's k, v of pass 2). */
    void gather(int l) {
        Embedding.forward(ids, kTable[l], zeroD, gatherView(k[l]));
        Embedding.forward(ids, vTable[l], zeroD, gatherView(v[l]));
    }

    /** The gathered keys' and values' gradients ({@link #dk}, {@link #dv}) summed back into layer l's table gradients. */
    void scatter(int l) {
        dkTable[l].zero();
        dvTable[l].zero();
        Embedding.backward(gatherView(dk), ids, dkTable[l], null);
        Embedding.backward(gatherView(dv), ids, dvTable[l], null);
    }

    /** A gathered {@code [B, Hkv, S, D]} as the embedding kernel's {@code [B·Hkv·S, 1, D]}. */
    private Tensor gatherView(Tensor x) {
        return x.view(0, b * heads * s, 1, d);
    }
}
