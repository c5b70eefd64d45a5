package dev.align4j.reference;

/** The attention layout changes by their index formulas, one element at a time. */
public final class AttentionPermuteReference {
    private AttentionPermuteReference() {}

    /** qkv [B,T,3,NH,HS] -> {q, k, v} each [B,NH,T,HS]. */
    public static double[][] split(float[] qkv, int b, int t, int nh, int hs) {
        int c = nh * hs;
        double[][] out = new double[3][b * nh * t * hs];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int w = 0; w < 3; w++)
                    for (int h = 0; h < nh; h++)
                        for (int d = 0; d < hs; d++)
                            out[w][((bi * nh + h) * t + ti) * hs + d] = qkv[((bi * t + ti) * 3 + w) * c + h * hs + d];
        return out;
    }

    /** y [B,NH,T,HS] -> out [B,T,NH·HS]. */
    public static double[] merge(float[] y, int b, int nh, int t, int hs) {
        double[] out = new double[b * t * nh * hs];
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < nh; h++)
                for (int ti = 0; ti < t; ti++)
                    for (int d = 0; d < hs; d++)
                        out[(bi * t + ti) * nh * hs + h * hs + d] = y[((bi * nh + h) * t + ti) * hs + d];
        return out;
    }
}
