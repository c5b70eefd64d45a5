package dev.align4j.cli;

import dev.align4j.train.ProgressListener;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * A training stage's progress on stderr: a bar, step/total, percent, ETA, tokens/s and the current loss.
 * <pre>  sft   [##########----------]  240/480  50%  ETA 1m02s  1.9k tok/s  loss 0.8123</pre>
 * On a terminal the line is redrawn in place (carriage return, at most ~5 times a second); otherwise (a log
 * file, CI) one line is printed every 10% of the steps, so logs stay short. Quiet mode prints nothing.
 *
 * <p>ETA = elapsed / steps done × steps left, from this bar's start (so a resumed run's ETA counts only this
 * session). tokens/s sums each step's {@code tokens} metric (what a trainer counts: SFT its masked tokens,
 * DPO its chosen tokens, PPO its sampled tokens, LM training every input token) over the same elapsed time.
 * The loss shown is the step's {@code loss}, else (PPO) its {@code objective/scores} as "reward".
 */
public final class ProgressBar implements ProgressListener {
    private static final int WIDTH = 20;
    private final String stage;
    private final PrintStream out;
    private final boolean quiet, interactive;
    private final long startNanos = System.nanoTime();
    private long firstStep = -1, lastDraw, lastDecile = -1;
    private double tokens;

    private ProgressBar(String stage, PrintStream out, boolean quiet, boolean interactive) {
        this.stage = stage;
        this.out = out;
        this.quiet = quiet;
        this.interactive = interactive;
    }

    /** A bar on stderr, redrawn in place when stderr is a terminal. */
    public static ProgressBar create(String stage, boolean quiet) {
        return new ProgressBar(stage, System.err, quiet, System.console() != null);
    }

    /** A bar on {@code out}: redrawn in place when {@code interactive}, else a line every 10% of the steps. */
    public static ProgressBar create(String stage, PrintStream out, boolean quiet, boolean interactive) {
        if (stage == null || out == null) throw new IllegalArgumentException("stage and out must not be null");
        return new ProgressBar(stage, out, quiet, interactive);
    }

    @Override
    public void onStep(long step, long totalSteps, Map<String, Object> metrics) {
        if (quiet) return;
        if (firstStep < 0) firstStep = step - 1;
        if (metrics.get("tokens") instanceof Number n) tokens += n.doubleValue();
        long now = System.nanoTime();
        boolean last = step >= totalSteps;
        if (interactive) {
            if (!last && now - lastDraw < 200_000_000L) return;
            lastDraw = now;
            out.print("\r" + line(step, totalSteps, metrics, now) + (last ? "\n" : ""));
            out.flush();
        } else {
            long decile = step * 10 / Math.max(1, totalSteps);
            if (decile == lastDecile && !last) return;
            lastDecile = decile;
            out.println(line(step, totalSteps, metrics, now));
        }
    }

    /** The rendered line (no carriage return). */
    String line(long step, long total, Map<String, Object> metrics, long nowNanos) {
        double elapsed = (nowNanos - startNanos) * 1e-9;
        long done = step - firstStep;
        double frac = total <= 0 ? 1 : Math.min(1, (double) step / total);
        int filled = (int) Math.round(frac * WIDTH);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-11s [", stage));
        for (int i = 0; i < WIDTH; i++) sb.append(i < filled ? '#' : '-');
        sb.append(String.format(Locale.ROOT, "] %" + Long.toString(total).length() + "d/%d %3d%%", step, total, Math.round(frac * 100)));
        if (step < total && done > 0) sb.append("  ETA ").append(duration(elapsed / done * (total - step)));
        else sb.append("  ").append(duration(elapsed));
        if (tokens > 0 && elapsed > 0) sb.append("  ").append(si(tokens / elapsed)).append(" tok/s");
        if (metrics.get("loss") instanceof Number l) sb.append(String.format(Locale.ROOT, "  loss %.4f", l.doubleValue()));
        else if (metrics.get("objective/scores") instanceof Number r) sb.append(String.format(Locale.ROOT, "  reward %.3f", r.doubleValue()));
        return sb.toString();
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) return s + "s";
        if (s < 3600) return (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s";
        return (s / 3600) + "h" + String.format(Locale.ROOT, "%02d", (s % 3600) / 60) + "m";
    }

    static String si(double v) {
        if (v >= 1e6) return String.format(Locale.ROOT, "%.1fM", v / 1e6);
        if (v >= 1e3) return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        return String.format(Locale.ROOT, "%.0f", v);
    }
}
