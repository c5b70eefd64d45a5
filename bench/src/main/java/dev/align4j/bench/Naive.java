package dev.align4j.bench;

/**
 * The unfused baselines of the small-kernel families: single-threaded plain Java that does what TRL's
 * PyTorch code does, op by op, each op materialising a fresh array (ratio = exp(new − old), two loss
 * arrays, their max, masked means as (x·m).sum() / m.sum(), ...), and for the losses the gradient built
 * the way autograd builds it (one array per backward op). Sums in double (what plain Java would write).
 * Each returns its outputs so that nothing is optimised away; scalar metrics go to {@code stats}.
 */
final class Naive {
    private Naive() {}

    // ---------------------------------------------------------------- element-wise ops (a new array each)

    static float[] sub(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] - b[i];
        return o;
    }

    static float[] add(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] + b[i];
        return o;
    }

    static float[] mul(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] * b[i];
        return o;
    }

    static float[] div(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] / b[i];
        return o;
    }

    static float[] scale(float[] a, float s) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] * s;
        return o;
    }

    static float[] shift(float[] a, float s) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] + s;
        return o;
    }

    static float[] exp(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = (float) Math.exp(a[i]);
        return o;
    }

    static float[] square(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] * a[i];
        return o;
    }

    static float[] clamp(float[] a, float lo, float hi) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = Math.min(Math.max(a[i], lo), hi);
        return o;
    }

    static float[] clamp(float[] a, float[] lo, float[] hi) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = Math.min(Math.max(a[i], lo[i]), hi[i]);
        return o;
    }

    static float[] max(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = Math.max(a[i], b[i]);
        return o;
    }

    /** (a > b) as 0/1 floats. */
    static float[] greater(float[] a, float[] b) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] > b[i] ? 1f : 0f;
        return o;
    }

    /** where(cond ≠ 0, a, 0). */
    static float[] where(float[] cond, float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = cond[i] != 0 ? a[i] : 0f;
        return o;
    }

    static float[] logSigmoid(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = (float) logSigmoid((double) a[i]);
        return o;
    }

    static float[] sigmoid(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = (float) (1 / (1 + Math.exp(-a[i])));
        return o;
    }

    static double logSigmoid(double x) {
        return x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x));
    }

    static double sum(float[] a) {
        double s = 0;
        for (float x : a) s += x;
        return s;
    }

    static double mean(float[] a) {
        return a.length == 0 ? 0 : sum(a) / a.length;
    }

    /** TRL's masked_mean: (values · mask).sum() / mask.sum(). */
    static double maskedMean(float[] values, float[] mask) {
        return sum(mul(values, mask)) / sum(mask);
    }

    // ---------------------------------------------------------------- PPO

    /**
     * TRL's PPO policy loss: ratio, pg_losses, pg_losses2, max, masked_mean, clipfrac, approxkl (k1 and
     * k3 here, as the kernel), then the gradient w.r.t. the new log-probs as autograd computes it.
     * stats = {loss, clipfrac, k1, k3}.
     */
    static float[] policyLoss(float[] lpNew, float[] lpOld, float[] adv, float[] mask, float eps, double[] stats) {
        float[] diff = sub(lpNew, lpOld);
        float[] ratio = exp(diff);
        float[] negAdv = scale(adv, -1f);
        float[] pg1 = mul(negAdv, ratio);
        float[] clipped = clamp(ratio, 1 - eps, 1 + eps);
        float[] pg2 = mul(negAdv, clipped);
        float[] pgMax = max(pg1, pg2);
        stats[0] = maskedMean(pgMax, mask);
        stats[1] = maskedMean(greater(pg2, pg1), mask);
        float[] negDiff = scale(diff, -1f);
        stats[2] = maskedMean(negDiff, mask);
        stats[3] = maskedMean(sub(shift(ratio, -1f), diff), mask); // k3 of d = old − new: e^{−d} − 1 + d = ρ − 1 − diff
        // backward of masked_mean(max(pg1, pg2)): d/dpgMax = m / Σm, routed to the larger branch
        float[] gMax = scale(mask, (float) (1 / sum(mask)));
        float[] take1 = where(greater(pg2, pg1), gMax);       // gradient for pg2
        float[] g1 = sub(gMax, take1);                         // the rest for pg1 (ties to the unclipped branch)
        float[] dRatio1 = mul(g1, negAdv);
        float[] inRange = inRange(ratio, 1 - eps, 1 + eps);
        float[] dRatio2 = mul(mul(take1, negAdv), inRange);
        return mul(add(dRatio1, dRatio2), ratio);              // dratio/dnew = ratio
    }

    /** 1 where lo ≤ x ≤ hi (clamp passes the gradient), else 0. */
    static float[] inRange(float[] x, float lo, float hi) {
        float[] o = new float[x.length];
        for (int i = 0; i < o.length; i++) o[i] = x[i] >= lo && x[i] <= hi ? 1f : 0f;
        return o;
    }

    static float[] inRange(float[] x, float[] lo, float[] hi) {
        float[] o = new float[x.length];
        for (int i = 0; i < o.length; i++) o[i] = x[i] >= lo[i] && x[i] <= hi[i] ? 1f : 0f;
        return o;
    }

    /** TRL's clipped value loss, 0.5·masked_mean(max(l1, l2)), its clipfrac, and dL/dV. stats = {loss, clipfrac}. */
    static float[] valueLoss(float[] v, float[] vOld, float[] ret, float[] mask, float eps, double[] stats) {
        float[] lo = shift(vOld, -eps), hi = shift(vOld, eps);
        float[] vClip = clamp(v, lo, hi);
        float[] e1 = sub(v, ret), e2 = sub(vClip, ret);
        float[] l1 = square(e1), l2 = square(e2);
        float[] lMax = max(l1, l2);
        stats[0] = 0.5 * maskedMean(lMax, mask);
        float[] clip = greater(l2, l1);
        stats[1] = maskedMean(clip, mask);
        float[] gMax = scale(mask, (float) (0.5 / sum(mask)));
        float[] g2 = where(clip, gMax);
        float[] g1 = sub(gMax, g2);
        float[] d1 = mul(g1, scale(e1, 2f));
        float[] d2 = mul(mul(g2, scale(e2, 2f)), inRange(v, lo, hi));
        return add(d1, d2);
    }

    // ---------------------------------------------------------------- GAE, whitening, KL shaping

    /**
     * TRL's GAE: padding zeroed (masked_fill), then the reversed loop over t, each step a [B]-vector op on
     * fresh arrays (nextvalues, delta, lastgaelam), the columns stacked; returns = advantages + values.
     * Returns {advantages, returns}.
     */
    static float[][] gae(float[] r, float[] v, float[] mask, int b, int t, float gamma, float lambda) {
        float[] rr = mul(r, mask), vv = mul(v, mask);
        float[] adv = new float[r.length];
        float[] last = new float[b];
        for (int s = t - 1; s >= 0; s--) last = gaeStep(rr, vv, last, adv, b, t, s, gamma, lambda);
        return new float[][] {adv, add(adv, vv)};
    }

    /** One step of TRL's loop at column s (a method so the JIT compiles it normally, not as OSR code). */
    private static float[] gaeStep(float[] r, float[] v, float[] last, float[] adv, int b, int t, int s, float gamma,
                                   float lambda) {
        float[] next = new float[b];
        if (s < t - 1) for (int i = 0; i < b; i++) next[i] = v[i * t + s + 1];
        float[] delta = new float[b];
        for (int i = 0; i < b; i++) delta[i] = r[i * t + s] + gamma * next[i] - v[i * t + s];
        float[] lastNew = new float[b];
        for (int i = 0; i < b; i++) lastNew[i] = delta[i] + gamma * lambda * last[i];
        for (int i = 0; i < b; i++) adv[i * t + s] = lastNew[i];
        return lastNew;
    }

    /** TRL's masked_whiten (mean, unbiased var, (x − mean)·rsqrt(var + 1e-8)) then masked_fill(padding, 0). */
    static float[] whiten(float[] x, float[] mask) {
        double mean = maskedMean(x, mask);
        double mean2 = maskedMean(x, mask); // masked_var computes the mean again
        float[] centered = shift(x, (float) -mean2);
        double n = sum(mask);
        double var = maskedMean(square(centered), mask) * (n / (n - 1));
        float[] whitened = scale(shift(x, (float) -mean), (float) (1 / Math.sqrt(var + 1e-8)));
        return mul(whitened, mask);
    }

    /**
     * TRL's GRPO advantages (scale_rewards "group"): rewards.view(−1, G).mean(1) and .std(1) (unbiased), each
     * repeat_interleave'd back to [N], isclose(std, 0), then (r − mean) / (std + 1e-4). Returns the advantages.
     */
    static float[] groupAdvantage(float[] rewards, int g) {
        int groups = rewards.length / g;
        float[] mean = new float[groups], std = new float[groups];
        for (int k = 0; k < groups; k++) {
            double s = 0;
            for (int j = 0; j < g; j++) s += rewards[k * g + j];
            mean[k] = (float) (s / g);
            double ss = 0;
            for (int j = 0; j < g; j++) ss += (rewards[k * g + j] - mean[k]) * (double) (rewards[k * g + j] - mean[k]);
            std[k] = (float) Math.sqrt(ss / (g - 1));
        }
        float[] meanRep = new float[rewards.length], stdRep = new float[rewards.length];
        for (int i = 0; i < rewards.length; i++) {
            meanRep[i] = mean[i / g];
            stdRep[i] = std[i / g];
        }
        float[] zero = new float[rewards.length];
        for (int i = 0; i < zero.length; i++) zero[i] = Math.abs(stdRep[i]) <= 1e-8f ? 1f : 0f;
        float[] centred = sub(rewards, meanRep);
        float[] denom = new float[rewards.length];
        for (int i = 0; i < denom.length; i++) denom[i] = stdRep[i] + 1e-4f;
        float[] adv = new float[rewards.length];
        for (int i = 0; i < adv.length; i++) adv[i] = centred[i] / denom[i];
        return zero[0] > 2 ? zero : adv;  // zero is used, so it is not optimised away
    }

    /**
     * TRL's PPO reward shaping (k1): logr = ref − old, kl = −logr, zero off the mask, non_score_reward =
     * −β·kl, rewards = its clone with the score added at each row's last response token. Returns rewards.
     */
    static float[] klShaping(float[] old, float[] ref, float[] mask, float[] scores, int b, int t, float beta) {
        float[] logr = sub(ref, old);
        float[] kl = where(mask, scale(logr, -1f));
        float[] nonScore = scale(kl, -beta);
        float[] rewards = nonScore.clone();
        for (int i = 0; i < b; i++) {
            int last = -1;
            for (int s = 0; s < t; s++) if (mask[i * t + s] != 0) last = s;
            if (last >= 0) rewards[i * t + last] += scores[i];
        }
        return rewards;
    }

    // ---------------------------------------------------------------- preference and reward losses

    /**
     * TRL's DPO sigmoid loss with label smoothing ε, its metrics and the gradient of the mean loss w.r.t.
     * the policy log-probs. stats = {loss, rewards/chosen, rewards/rejected, accuracy, margin}. Returns
     * {dchosen, drejected} (the latter materialised as autograd does).
     */
    static float[][] dpoSigmoid(float[] c, float[] r, float[] rc, float[] rr, float beta, float eps, double[] stats) {
        float[] chosenLogratios = sub(c, rc), rejectedLogratios = sub(r, rr);
        float[] logratios = sub(c, r), refLogratios = sub(rc, rr);
        float[] logits = sub(logratios, refLogratios);
        float[] bl = scale(logits, beta);
        float[] losses = sigmoidLosses(bl, eps);
        preferenceStats(losses, scale(chosenLogratios, beta), scale(rejectedLogratios, beta), stats);
        float[] dLogits = scale(sigmoidLossGrad(bl, eps), beta / c.length);
        return new float[][] {dLogits, scale(dLogits, -1f)};
    }

    /** IPO on per-token averages: losses = (Δ̄ − 1/(2β))². Returns {dchosen, drejected}. */
    static float[][] ipo(float[] c, float[] r, float[] rc, float[] rr, float[] lc, float[] lr, float beta, double[] stats) {
        float[] ac = div(c, lc), ar = div(r, lr), arc = div(rc, lc), arr = div(rr, lr);
        float[] logits = sub(sub(ac, ar), sub(arc, arr));
        float[] centred = shift(logits, -1f / (2 * beta));
        float[] losses = square(centred);
        preferenceStats(losses, scale(sub(ac, arc), beta), scale(sub(ar, arr), beta), stats);
        float[] dLogits = scale(centred, 2f / c.length);
        return new float[][] {div(dLogits, lc), div(scale(dLogits, -1f), lr)};
    }

    /** SimPO: z = β(ℓ⁺/|y⁺| − ℓ⁻/|y⁻|) − γ, sigmoid loss with ε. Returns {dchosen, drejected}. */
    static float[][] simpo(float[] c, float[] r, float[] lc, float[] lr, float beta, float gamma, float eps, double[] stats) {
        float[] ac = div(c, lc), ar = div(r, lr);
        float[] logits = shift(sub(ac, ar), -gamma / beta);
        float[] bl = scale(logits, beta);
        float[] losses = sigmoidLosses(bl, eps);
        preferenceStats(losses, scale(ac, beta), scale(ar, beta), stats);
        float[] dLogits = scale(sigmoidLossGrad(bl, eps), beta / c.length);
        return new float[][] {div(dLogits, lc), div(scale(dLogits, -1f), lr)};
    }

    /** −(1−ε)·logσ(x) − ε·logσ(−x). */
    private static float[] sigmoidLosses(float[] x, float eps) {
        float[] a = scale(logSigmoid(x), -(1 - eps));
        float[] b = scale(logSigmoid(scale(x, -1f)), -eps);
        return add(a, b);
    }

    /** d/dx of {@link #sigmoidLosses}: −(1−ε)·σ(−x) + ε·σ(x). */
    private static float[] sigmoidLossGrad(float[] x, float eps) {
        return add(scale(sigmoid(scale(x, -1f)), -(1 - eps)), scale(sigmoid(x), eps));
    }

    private static void preferenceStats(float[] losses, float[] chosenRewards, float[] rejectedRewards, double[] stats) {
        stats[0] = mean(losses);
        stats[1] = mean(chosenRewards);
        stats[2] = mean(rejectedRewards);
        stats[3] = mean(greater(chosenRewards, rejectedRewards));
        stats[4] = mean(sub(chosenRewards, rejectedRewards));
    }

    /** TRL's reward-model loss −logσ(r⁺ − r⁻).mean(), metrics, and {dL/dr⁺, dL/dr⁻}. */
    static float[][] rewardLoss(float[] rc, float[] rr, double[] stats) {
        float[] diff = sub(rc, rr);
        stats[0] = -mean(logSigmoid(diff));
        stats[1] = mean(greater(rc, rr));
        stats[2] = mean(rc);
        stats[3] = mean(rr);
        stats[4] = mean(diff);
        float[] dchosen = scale(sigmoid(scale(diff, -1f)), -1f / rc.length);
        return new float[][] {dchosen, scale(dchosen, -1f)};
    }

    // ---------------------------------------------------------------- RMSNorm (Hugging Face's LlamaRMSNorm)

    /** Row means of an [n, c] array, in double: [n]. */
    static float[] rowMean(float[] a, int n, int c) {
        float[] o = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < c; j++) s += a[i * c + j];
            o[i] = (float) (s / c);
        }
        return o;
    }

    /** Row sums of an [n, c] array, in double: [n]. */
    static float[] rowSum(float[] a, int n, int c) {
        float[] o = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < c; j++) s += a[i * c + j];
            o[i] = (float) s;
        }
        return o;
    }

    /** Column sums of an [n, c] array, in double: [c]. */
    static float[] colSum(float[] a, int n, int c) {
        double[] s = new double[c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++) s[j] += a[i * c + j];
        float[] o = new float[c];
        for (int j = 0; j < c; j++) o[j] = (float) s[j];
        return o;
    }

    /** a[n, c] times a per-row r[n] (broadcast over the last dim). */
    static float[] mulRows(float[] a, float[] r, int c) {
        float[] o = new float[a.length];
        for (int k = 0; k < o.length; k++) o[k] = a[k] * r[k / c];
        return o;
    }

    /** a[n, c] times a per-column w[c] (broadcast over the rows). */
    static float[] mulCols(float[] a, float[] w) {
        float[] o = new float[a.length];
        for (int k = 0; k < o.length; k++) o[k] = a[k] * w[k % w.length];
        return o;
    }

    /** LlamaRMSNorm op by op: variance = x².mean(-1), rstd = rsqrt(variance + eps), h = x·rstd; {out = w·h, rstd, h}. */
    static float[][] rmsNorm(float[] x, float[] w, int n, int c, float eps) {
        float[] rstd = rowMean(square(x), n, c);
        for (int i = 0; i < n; i++) rstd[i] = (float) (1 / Math.sqrt(rstd[i] + eps));
        float[] h = mulRows(x, rstd, c);
        return new float[][] {mulCols(h, w), rstd, h};
    }

    /**
     * Its backward as autograd builds it from the saved x, rstd and h: dh = dout·w, dw = Σ_rows dout·h,
     * drstd = Σ_row dh·x, dvariance = −½·rstd³·drstd, dx = dh·rstd + dvariance·2x/C; {dx, dw}.
     */
    static float[][] rmsNormBackward(float[] dout, float[] x, float[] w, float[] rstd, float[] h, int n, int c) {
        float[] dh = mulCols(dout, w);
        float[] dw = colSum(mul(dout, h), n, c);
        float[] drstd = rowSum(mul(dh, x), n, c);
        float[] dvar = new float[n];
        for (int i = 0; i < n; i++) dvar[i] = -0.5f * rstd[i] * rstd[i] * rstd[i] * drstd[i];
        float[] dx = add(mulRows(dh, rstd, c), mulRows(scale(x, 2f / c), dvar, c));
        return new float[][] {dx, dw};
    }

    // ---------------------------------------------------------------- SwiGLU (the Llama MLP's activation)

    /** Columns [from, from + f) of each row of h[n, 2f], as a new [n, f] array (torch's chunk + contiguous). */
    static float[] columns(float[] h, int n, int f, int from) {
        float[] o = new float[n * f];
        for (int r = 0; r < n; r++) System.arraycopy(h, r * 2 * f + from, o, r * f, f);
        return o;
    }

    /** Two [n, f] arrays side by side as one [n, 2f] (torch.cat along the last dimension). */
    static float[] concat(float[] a, float[] b, int n, int f) {
        float[] o = new float[n * 2 * f];
        for (int r = 0; r < n; r++) {
            System.arraycopy(a, r * f, o, r * 2 * f, f);
            System.arraycopy(b, r * f, o, r * 2 * f + f, f);
        }
        return o;
    }

    /** F.silu(gate) * up on the chunks of h: sigmoid, silu and the product each a new array. */
    static float[] swigluForward(float[] h, int n, int f) {
        float[] gate = columns(h, n, f, 0), up = columns(h, n, f, f);
        return mul(mul(gate, sigmoid(gate)), up);
    }

    /**
     * The gradient as autograd builds it: d(silu) = dout·up, dup = dout·silu(gate) (silu recomputed, as autograd
     * keeps only the inputs of SiluBackward), dgate = d(silu)·σ·(1 + gate·(1 − σ)), then cat into dh[n, 2f].
     */
    static float[] swigluBackward(float[] h, float[] dout, int n, int f) {
        float[] gate = columns(h, n, f, 0), up = columns(h, n, f, f);
        float[] sig = sigmoid(gate);
        float[] dup = mul(dout, mul(gate, sig));
        float[] dsilu = mul(dout, up);
        float[] oneMinus = shift(scale(sig, -1f), 1f);
        float[] dgate = mul(dsilu, mul(sig, shift(mul(gate, oneMinus), 1f)));
        return concat(dgate, dup, n, f);
    }
}
