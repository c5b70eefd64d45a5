package dev.align4j.reference;

/**
 * One AdamW step in double, written as torch.optim.AdamW's single-tensor path (torch/optim/adamw.py):
 * <pre>
 *   param.mul_(1 - lr * weight_decay)
 *   exp_avg.lerp_(grad, 1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   step_size = lr / (1 - beta1 ** step)
 *   denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2 ** step)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)
 * </pre>
 * with grad = g·scale (the clip factor applied first, as clip_grad_norm_ does in place).
 */
public final class AdamWReference {
    private AdamWReference() {}

    /** In place on p, m, v; decay[i] says whether element i gets weight decay. */
    public static void step(double[] p, float[] grad, double[] m, double[] v, double lr, double beta1, double beta2,
                            double eps, double weightDecay, long step, double scale, boolean[] decay) {
        double biasCorrection1 = 1 - Math.pow(beta1, step);
        double biasCorrection2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / biasCorrection1;
        double bc2Sqrt = Math.sqrt(biasCorrection2);
        for (int i = 0; i < p.length; i++) {
            double g = grad[i] * scale;
            double wd = decay[i] ? weightDecay : 0;
            p[i] *= 1 - lr * wd;
            m[i] = m[i] + (1 - beta1) * (g - m[i]);
            v[i] = v[i] * beta2 + (1 - beta2) * g * g;
            double denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
            p[i] += -stepSize * (m[i] / denom);
        }
    }
}
