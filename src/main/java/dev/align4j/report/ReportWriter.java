package dev.align4j.report;

import dev.align4j.io.AtomicFiles;
import dev.align4j.report.Charts.Bars;
import dev.align4j.report.Charts.Line;
import dev.align4j.report.RunFolder.Sample;
import dev.align4j.report.RunFolder.StageSummary;
import java.awt.Color;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The run report: {@code report.html} in the run folder, self-contained (inline CSS, every plot embedded as a
 * {@code data:image/png;base64} URI, no script, no external URL: it can be mailed or archived alone), and each
 * plot also as {@code plots/<name>.png}. A plot whose data are absent (stage not run) is replaced by a visible
 * "not run" note instead of failing the report.
 *
 * <p>Sections (their HTML ids): {@code run} (header and run info), {@code summary} (per-stage evaluation table),
 * {@code families} (gold accuracy per task family), {@code losses}, {@code reward-model}, {@code ppo},
 * {@code gold}, {@code overoptimisation}, {@code diversity} (mode collapse and calibration), {@code hacks} (PPO's
 * reward hacks beside GRPO's answers to the same prompts), {@code samples}.
 */
public final class ReportWriter {
    public static final String REPORT = "report.html";
    public static final String PLOTS = "plots";

    /** Section ids, in page order. */
    public static final List<String> SECTIONS = List.of("run", "summary", "families", "losses", "reward-model", "ppo", "gold",
            "overoptimisation", "diversity", "hacks", "samples");

    /** Every plot name the report can contain (plots/<name>.png). */
    public static final List<String> PLOT_NAMES = List.of("loss_pretrain", "loss_sft", "loss_rm", "loss_ppo", "loss_ppo_overopt",
            "loss_dpo", "loss_simpo", "rm_accuracy", "ppo_reward", "ppo_kl", "ppo_entropy", "ppo_clipfrac", "gold_accuracy",
            "overoptimisation", "best_of_n", "entropy", "distinct2", "ece");

    /** Samples shown per stage. */
    static final int SAMPLES_PER_STAGE = 3;

    private static final List<String> PPO_RUNS = List.of("ppo", "ppo_overopt");
    private static final Color C0 = Charts.PALETTE.get(0), C1 = Charts.PALETTE.get(1), C2 = Charts.PALETTE.get(2);

    private ReportWriter() {}

    /** A rendered plot: file name (without .png), the section it belongs to, its caption, PNG bytes. */
    public record Plot(String name, String section, String caption, byte[] png) {}

    /** A "not run" note standing where a plot would be. */
    public record Note(String section, String text) {}

    /** The report before it is written: the page and its plots. */
    public record Report(String html, List<Plot> plots, List<Note> notes) {}

    /** Reads {@code runDir} and writes {@code runDir/report.html} and {@code runDir/plots/*.png}; returns the report's path. */
    public static Path write(Path runDir) throws IOException {
        Report r = build(RunFolder.read(runDir));
        Path plots = runDir.resolve(PLOTS);
        Files.createDirectories(plots);
        for (Plot p : r.plots()) AtomicFiles.write(plots.resolve(p.name() + ".png"), ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(p.png())));
        // a plot of an earlier report whose data are gone now would contradict the page
        for (String name : PLOT_NAMES)
            if (r.plots().stream().noneMatch(p -> p.name().equals(name))) Files.deleteIfExists(plots.resolve(name + ".png"));
        Path html = runDir.resolve(REPORT);
        AtomicFiles.writeString(html, r.html());
        return html;
    }

    /** Renders the report of {@code run} in memory. */
    public static Report build(RunFolder run) throws IOException {
        List<Plot> plots = new ArrayList<>();
        List<Note> notes = new ArrayList<>();
        Out o = new Out(plots, notes);
        losses(run, o);
        rewardModel(run, o);
        ppo(run, o);
        gold(run, o);
        overOptimisation(run, o);
        diversity(run, o);
        return new Report(Html.page(run, plots, notes), List.copyOf(plots), List.copyOf(notes));
    }

    private record Out(List<Plot> plots, List<Note> notes) {
        void plot(String name, String section, String caption, byte[] png) {
            plots.add(new Plot(name, section, caption, png));
        }

        void note(String section, String text) {
            notes.add(new Note(section, text));
        }
    }

    // ---------------------------------------------------------------- losses

    private static void losses(RunFolder run, Out o) throws IOException {
        trainEvalLoss(run, o, "pretrain", "Pre-training loss", "eval_loss", "validation loss");
        trainEvalLoss(run, o, "sft", "SFT loss", "eval/loss", "held-out loss");
        trainEvalLoss(run, o, "rm", "Reward-model loss", "eval/loss", "held-out loss");
        for (String stage : PPO_RUNS) {
            if (!run.ran(stage)) {
                o.note("losses", notRun(stage));
                continue;
            }
            double[][] pol = run.series(stage, "loss/policy"), val = run.series(stage, "loss/value");
            if (pol[0].length == 0 && val[0].length == 0) {
                o.note("losses", stage + ": no loss/policy or loss/value values in " + stage + "/" + RunFolder.METRICS + ".");
                continue;
            }
            if (val[0].length == 0) { // the critic-free group baseline: no value loss
                o.plot("loss_" + stage, "losses", stage + ": PPO clipped policy loss per step (loss/policy; group baseline, no critic).",
                        Charts.line(stage + ": PPO loss", "step", "loss/policy", null, List.of(new Line("loss/policy", pol[0], pol[1], C0))));
                continue;
            }
            o.plot("loss_" + stage, "losses", stage + ": PPO losses per step — clipped policy loss (loss/policy, left axis) and value loss "
                            + "(loss/value, right axis, dashed).",
                    Charts.line(stage + ": PPO losses", "step", "loss/policy", "loss/value",
                            List.of(new Line("loss/policy", pol[0], pol[1], C0), new Line("loss/value", val[0], val[1], C1).onRightAxis().asDashed())));
        }
        trainEvalLoss(run, o, "dpo", "DPO loss", "eval/loss", "held-out loss");
        trainEvalLoss(run, o, "simpo", "SimPO loss", "eval/loss", "held-out loss");
    }

    private static void trainEvalLoss(RunFolder run, Out o, String stage, String title, String evalKey, String evalName) throws IOException {
        if (!run.ran(stage)) {
            o.note("losses", notRun(stage));
            return;
        }
        double[][] train = run.series(stage, "loss"), eval = run.series(stage, evalKey);
        if (train[0].length == 0 && eval[0].length == 0) {
            o.note("losses", stage + ": no loss values in " + stage + "/" + RunFolder.METRICS + ".");
            return;
        }
        List<Line> lines = new ArrayList<>();
        String smoothNote = noisy(train[0].length, "training loss", lines, train, C0);
        if (eval[0].length > 0) lines.add(new Line(evalName, eval[0], eval[1], C1));
        o.plot("loss_" + stage, "losses", title + " per step: " + smoothNote
                        + (eval[0].length > 0 ? "; " + evalName + " (" + evalKey + ") at its " + eval[0].length + " evaluation steps." : "; no evaluation steps."),
                Charts.line(title, "step", "loss", null, lines));
    }

    /**
     * Adds a per-step training series: raw when short, else raw (faint) under its moving average. Returns the
     * caption phrase saying which.
     */
    private static String noisy(int n, String what, List<Line> lines, double[][] s, Color c) {
        if (n == 0) return "no " + what + " values";
        if (n <= 50) {
            lines.add(new Line(what, s[0], s[1], c));
            return what;
        }
        int w = Math.max(5, n / 25);
        lines.add(new Line(what + " (per step)", s[0], s[1], c).asFaint());
        lines.add(new Line(what + " (mean of " + w + " steps)", s[0], Charts.movingAverage(s[1], w), c));
        return what + " (faint: per step; solid: moving average over " + w + " steps)";
    }

    // ---------------------------------------------------------------- reward model

    private static void rewardModel(RunFolder run, Out o) throws IOException {
        if (!run.ran("rm")) {
            o.note("reward-model", notRun("rm"));
            return;
        }
        double[][] acc = run.series("rm", "accuracy"), eval = run.series("rm", "eval/accuracy");
        Optional<Double> held = run.infoNumber("reward_model_heldout_accuracy");
        if (acc[0].length == 0 && eval[0].length == 0) {
            o.note("reward-model", "rm: no accuracy values in rm/" + RunFolder.METRICS + ".");
            return;
        }
        List<Line> lines = new ArrayList<>();
        String cap = noisy(acc[0].length, "train accuracy", lines, acc, C0);
        if (eval[0].length > 0) lines.add(new Line("held-out accuracy (eval/accuracy)", eval[0], eval[1], C1));
        if (held.isPresent() && Double.isFinite(held.get())) {
            double[] all = acc[0].length > 0 ? acc[0] : eval[0];
            double x0 = all[0], x1 = all[all.length - 1];
            if (x1 == x0) x1 = x0 + 1;
            lines.add(new Line(String.format(Locale.ROOT, "final held-out accuracy %.3f", held.get()), new double[] {x0, x1},
                    new double[] {held.get(), held.get()}, C2).asDashed());
        }
        o.plot("rm_accuracy", "reward-model", "Reward-model pairwise accuracy (chosen scored above rejected) per step: " + cap
                        + (eval[0].length > 0 ? "; held-out accuracy at evaluation steps" : "")
                        + (held.isPresent() ? "; dashed: the final model's held-out accuracy (summary.json)." : "."),
                Charts.line("Reward-model accuracy", "step", "accuracy", null, lines));
    }

    // ---------------------------------------------------------------- PPO

    private static void ppo(RunFolder run, Out o) throws IOException {
        List<String> ran = PPO_RUNS.stream().filter(run::ran).toList();
        for (String s : PPO_RUNS) if (!run.ran(s)) o.note("ppo", notRun(s));
        if (ran.isEmpty()) return;
        record M(String name, String key, String title, String what) {}
        for (M m : List.of(new M("ppo_reward", "objective/scores", "PPO: proxy reward", "mean reward-model score of the sampled responses"),
                new M("ppo_kl", "objective/kl", "PPO: KL to the reference", "mean per-sequence KL(policy ‖ reference)"),
                new M("ppo_entropy", "objective/entropy", "PPO: policy entropy", "policy entropy summed over each response's tokens, mean over responses (nats)"),
                new M("ppo_clipfrac", "policy/clipfrac", "PPO: clip fraction", "fraction of tokens whose ratio was clipped"))) {
            List<Line> lines = new ArrayList<>();
            for (int i = 0; i < PPO_RUNS.size(); i++) {
                String s = PPO_RUNS.get(i);
                double[][] v = run.series(s, m.key());
                if (v[0].length > 0) lines.add(new Line(s, v[0], v[1], Charts.PALETTE.get(i)));
            }
            // GRPO logs the same KL (objective/kl) against the SFT policy
            double[][] g = m.key().equals("objective/kl") && run.ran("grpo") ? run.series("grpo", m.key()) : new double[2][0];
            if (g[0].length > 0) lines.add(new Line("grpo", g[0], g[1], Charts.PALETTE.get(PPO_RUNS.size())));
            if (lines.isEmpty()) {
                o.note("ppo", m.key() + ": no values in " + String.join(", ", ran) + ".");
                continue;
            }
            o.plot(m.name(), "ppo", m.title() + " (" + m.key() + ") per step: " + m.what() + ", for "
                    + String.join(" and ", lines.stream().map(Line::name).toList()) + ".", Charts.line(m.title(), "step", m.key(), null, lines));
        }
    }

    // ---------------------------------------------------------------- gold accuracy

    private static void gold(RunFolder run, Out o) throws IOException {
        List<StageSummary> st = evaluatedStages(run, o, "gold", "Gold accuracy");
        if (st.isEmpty()) return;
        List<String> cats = st.stream().map(StageSummary::stage).toList();
        List<Bars> bars = List.of(new Bars("greedy", values(st, StageSummary::goldGreedy), C0),
                new Bars("sampled", values(st, StageSummary::goldSampled), C1));
        if (bars.stream().allMatch(b -> b.values().stream().allMatch(v -> v == null))) {
            o.note("gold", "Gold accuracy: no gold/accuracy values in " + RunFolder.SUMMARY + ".");
            return;
        }
        o.plot("gold_accuracy", "gold", "Held-out gold accuracy per stage: greedy decoding (gold/accuracy) and sampled responses "
                + "(sample/sample_accuracy), judged by the tasks' exact checkers.", Charts.bars("Gold accuracy per stage", "stage", "accuracy", cats, bars));
    }

    /** The run's evaluated stages; when there are none, a note in {@code section} that {@code what} was not run. */
    private static List<StageSummary> evaluatedStages(RunFolder run, Out o, String section, String what) {
        List<StageSummary> st = run.stages();
        if (st.isEmpty()) o.note(section, what + ": not run (no evaluated stages in " + RunFolder.SUMMARY + ").");
        return st;
    }

    private static List<Double> values(List<StageSummary> st, Function<StageSummary, Optional<Double>> f) {
        List<Double> out = new ArrayList<>();
        for (StageSummary s : st) out.add(f.apply(s).orElse(null));
        return out;
    }

    // ---------------------------------------------------------------- over-optimisation

    private static void overOptimisation(RunFolder run, Out o) throws IOException {
        List<Line> lines = new ArrayList<>();
        List<String> shown = new ArrayList<>();
        for (int i = 0; i < PPO_RUNS.size(); i++) {
            String s = PPO_RUNS.get(i);
            if (!run.ran(s)) {
                o.note("overoptimisation", notRun(s));
                continue;
            }
            double[][] proxy = run.pairs(s, "objective/kl", "objective/scores"), gold = run.pairs(s, "objective/kl", "objective/gold");
            Color c = Charts.PALETTE.get(i);
            if (proxy[0].length > 0) {
                double[][] m = Charts.binnedMeans(proxy[0], proxy[1], bins(proxy[0].length));
                lines.add(new Line(s + " proxy steps", proxy[0], proxy[1], c).asPoints());
                lines.add(new Line(s + " proxy reward", m[0], m[1], c));
            }
            if (gold[0].length > 0) {
                double[][] m = Charts.binnedMeans(gold[0], gold[1], bins(gold[0].length));
                lines.add(new Line(s + " gold steps", gold[0], gold[1], c).asPoints().asDashed().onRightAxis());
                lines.add(new Line(s + " gold", m[0], m[1], c).onRightAxis().asDashed());
            }
            if (proxy[0].length + gold[0].length > 0) shown.add(s);
            if (gold[0].length == 0) o.note("overoptimisation", s + ": no objective/gold values (no gold judge during PPO).");
        }
        // GRPO's reward is the gold checker itself: one dashed line, nothing to hack between a proxy and gold
        double[][] grpo = run.ran("grpo") ? run.pairs("grpo", "objective/kl", "reward") : new double[2][0];
        if (grpo[0].length > 0) {
            Color c = Charts.PALETTE.get(PPO_RUNS.size());
            double[][] m = Charts.binnedMeans(grpo[0], grpo[1], bins(grpo[0].length));
            lines.add(new Line("grpo gold steps", grpo[0], grpo[1], c).asPoints().asDashed().onRightAxis());
            lines.add(new Line("grpo gold (its reward)", m[0], m[1], c).onRightAxis().asDashed());
            shown.add("grpo (reward = gold)");
        }
        if (lines.isEmpty()) return;
        o.plot("overoptimisation", "overoptimisation", "Over-optimisation: proxy reward (objective/scores, solid, left axis) and gold "
                        + "reward (objective/gold, dashed, right axis) against KL to the reference (objective/kl), for "
                        + String.join(" and ", shown) + "; faint points: single PPO steps (circles proxy, diamonds gold), lines: means of the "
                        + "steps grouped by KL. Proxy rising while gold falls is reward hacking.",
                Charts.line("Proxy vs gold reward against KL", "KL(policy ‖ reference)", "proxy reward", "gold reward", lines));
        bestOfN(run, o);
    }

    /** summary.json's best-of-n curve: the same axes, optimising the proxy by selection instead of RL. */
    private static void bestOfN(RunFolder run, Out o) throws IOException {
        List<Map<String, Double>> b = run.bestOfN();
        if (b.isEmpty()) {
            o.note("overoptimisation", "best-of-n: no best_of_n curve in " + RunFolder.SUMMARY + ".");
            return;
        }
        double[] kl = new double[b.size()], gold = new double[b.size()], proxy = new double[b.size()];
        StringBuilder ns = new StringBuilder();
        for (int i = 0; i < b.size(); i++) {
            Map<String, Double> m = b.get(i);
            kl[i] = m.getOrDefault("kl", Double.NaN);
            gold[i] = m.getOrDefault("gold", Double.NaN);
            proxy[i] = m.getOrDefault("proxy", Double.NaN);
            ns.append(i == 0 ? "" : ", ").append(Math.round(m.getOrDefault("n", Double.NaN)));
        }
        o.plot("best_of_n", "overoptimisation", "Best-of-n from the SFT policy against the reward model, n = " + ns + ": the reward "
                        + "model's score of the pick (proxy, solid, left axis) and its gold score (dashed, right axis) against the "
                        + "best-of-n policy's KL to the SFT policy, log n − (n − 1)/n. A reward model that ranks the policy's own "
                        + "samples well lifts gold with n; one that over-rates some wrong answers bends it down.",
                Charts.line("Best-of-n against the reward model", "KL(best-of-n ‖ SFT)", "proxy reward", "gold reward",
                        List.of(new Line("proxy", kl, proxy, C0), new Line("gold", kl, gold, C1).onRightAxis().asDashed())));
    }

    // ---------------------------------------------------------------- mode collapse and calibration

    private static void diversity(RunFolder run, Out o) throws IOException {
        List<StageSummary> st = evaluatedStages(run, o, "diversity", "Mode collapse and calibration");
        if (st.isEmpty()) return;
        List<String> cats = st.stream().map(StageSummary::stage).toList();
        record M(String name, String key, String title, String y, String what, Color c) {}
        for (M m : List.of(new M("entropy", "sample/entropy", "Sampling entropy per stage", "nats per token",
                        "mean per-token entropy of sampled responses (sample/entropy); a drop after RL is mode collapse", C0),
                new M("distinct2", "sample/distinct2", "Distinct-2 per stage", "distinct bigrams / bigrams",
                        "share of distinct bigrams among sampled responses (sample/distinct2); lower = less diverse", C2),
                new M("ece", "gold/ece", "Calibration error (ECE) per stage", "ECE",
                        "expected calibration error of the policy's confidence in its greedy answer against gold correctness, 10 bins (gold/ece); lower = better calibrated", C1))) {
            List<Double> v = values(st, s -> s.get(m.key()));
            if (v.stream().allMatch(d -> d == null)) {
                o.note("diversity", m.key() + ": no values in " + RunFolder.SUMMARY + ".");
                continue;
            }
            o.plot(m.name(), "diversity", m.title() + ": " + m.what() + ".", Charts.bars(m.title(), "stage", m.y(), cats, List.of(new Bars(m.key(), v, m.c()))));
        }
    }

    /** KL groups for the over-optimisation curve: about 4 steps each, 3 to 10 groups. */
    private static int bins(int n) {
        return Math.max(Math.min(3, n), Math.min(10, n / 4));
    }

    private static String notRun(String stage) {
        return stage + ": not run (no " + stage + "/" + RunFolder.METRICS + " in this run folder).";
    }

    // ---------------------------------------------------------------- HTML

    /** The page. Everything from the run folder goes through {@link #esc}. */
    static final class Html {
        private static final String CSS = """
                body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
                main{max-width:1240px;margin:0 auto;padding:16px 24px 48px}
                h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
                .meta{color:#57606a;margin:0 0 8px}
                table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:14px}
                th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:right}th{background:#eef1f4}
                td.l,th.l{text-align:left}
                .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
                figure{margin:0;background:#fff;border:1px solid #d0d7de;padding:8px}
                figure img{width:100%;height:auto;display:block}
                figcaption{font-size:13px;color:#3d444d;margin-top:6px}
                .notrun{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0;font-size:14px}
                pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:13px;text-align:left}
                .ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
                """;

        private Html() {}

        static String page(RunFolder run, List<Plot> plots, List<Note> notes) {
            StringBuilder h = new StringBuilder(1 << 20);
            h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>align4j run report — ")
                    .append(esc(String.valueOf(run.dir().toAbsolutePath().normalize().getFileName()))).append("</title>\n<style>\n")
                    .append(CSS).append("</style></head>\n<body><main>\n");
            header(h, run);
            summary(h, run);
            families(h, run);
            section(h, "losses", "Losses", plots, notes);
            section(h, "reward-model", "Reward model", plots, notes);
            section(h, "ppo", "PPO", plots, notes);
            section(h, "gold", "Gold accuracy", plots, notes);
            section(h, "overoptimisation", "Over-optimisation", plots, notes);
            section(h, "diversity", "Mode collapse and calibration", plots, notes);
            hacks(h, run);
            samples(h, run);
            h.append("</main></body></html>\n");
            return h.toString();
        }

        private static void header(StringBuilder h, RunFolder run) {
            h.append("<section id=\"run\"><h1>align4j run report</h1>\n<p class=\"meta\">Run folder <code>")
                    .append(esc(run.dir().toAbsolutePath().normalize().toString())).append("</code> · report generated ")
                    .append(esc(ZonedDateTime.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME.withLocale(Locale.ROOT)))).append("</p>\n");
            h.append("<table><tbody>\n");
            Optional<Double> secs = run.infoNumber("seconds");
            row(h, "total time", secs.map(s -> String.format(Locale.ROOT, "%.1f s (%.1f min)", s, s / 60)).orElse("—"));
            run.infoNumber("seed").ifPresent(s -> row(h, "seed", String.format(Locale.ROOT, "%.0f", s)));
            for (Map.Entry<String, Object> e : run.info().entrySet()) {
                if (e.getKey().equals("seconds") || e.getKey().equals("seed")) continue;
                Object v = e.getValue();
                row(h, e.getKey().replace('_', ' '), v instanceof Double d ? num(d, 4) : String.valueOf(v));
            }
            List<String> ran = RunFolder.TRAINING_STAGES.stream().filter(run::ran).toList();
            List<String> not = RunFolder.TRAINING_STAGES.stream().filter(s -> !run.ran(s)).toList();
            row(h, "trained stages", ran.isEmpty() ? "none" : String.join(", ", ran));
            if (!not.isEmpty()) row(h, "not run", String.join(", ", not));
            h.append("</tbody></table>\n");
            if (!run.hasSummary())
                h.append("<p class=\"notrun\">No ").append(RunFolder.SUMMARY).append(" in this folder: the run did not finish; evaluations are not run.</p>\n");
            h.append("</section>\n");
        }

        private static void row(StringBuilder h, String k, String v) {
            h.append("<tr><th class=\"l\">").append(esc(k)).append("</th><td class=\"l\">").append(esc(v)).append("</td></tr>\n");
        }

        private static void summary(StringBuilder h, RunFolder run) {
            List<StageSummary> st = run.stages();
            if (!open(h, "summary", "Summary", st.isEmpty(), "Evaluation: not run (no stages in " + RunFolder.SUMMARY + ").")) return;
            h.append("<p class=\"meta\">Held-out tasks: gold accuracy with greedy decoding and of sampled responses, expected calibration "
                    + "error, per-token entropy and distinct-2 of samples, win rate against the SFT policy (gold checker as judge), and "
                    + "the reward model's mean raw score of the policy's samples on the best-of-n held-out prompts (the proxy, for the "
                    + "policies after the reward model). Gain vs SFT: the mean of the per-task differences from the SFT policy on the "
                    + "same tasks ± its standard error (greedy; sampled).</p>\n");
            h.append("<table><thead><tr><th class=\"l\">stage</th><th>gold greedy</th><th>gold sampled</th><th>gain vs SFT greedy</th>"
                    + "<th>gain vs SFT sampled</th><th>ECE</th><th>entropy</th>"
                    + "<th>distinct-2</th><th>win rate vs SFT</th><th>RM score</th><th>train s</th></tr></thead><tbody>\n");
            for (StageSummary s : st) {
                h.append("<tr><td class=\"l\">").append(esc(s.stage())).append("</td>");
                cell(h, s.goldGreedy(), 3);
                cell(h, s.goldSampled(), 3);
                gain(h, s, "greedy");
                gain(h, s, "sampled");
                cell(h, s.get("gold/ece"), 3);
                cell(h, s.get("sample/entropy"), 3);
                cell(h, s.get("sample/distinct2"), 3);
                cell(h, s.get("win_rate_vs_sft"), 3);
                cell(h, s.get("reward/heldout_mean"), 2);
                cell(h, s.get("train_seconds"), 1);
                h.append("</tr>\n");
            }
            h.append("</tbody></table></section>\n");
        }

        private static void families(StringBuilder h, RunFolder run) {
            List<String> fam = run.families();
            List<StageSummary> st = run.stages();
            if (!open(h, "families", "Gold accuracy per task family", fam.isEmpty(),
                    "Per-family evaluation: not run (no gold/accuracy/&lt;family&gt; values in " + RunFolder.SUMMARY + ").")) return;
            h.append("<table><thead><tr><th class=\"l\">family</th>");
            for (StageSummary s : st) h.append("<th>").append(esc(s.stage())).append("</th>");
            h.append("</tr></thead><tbody>\n");
            for (String f : fam) {
                h.append("<tr><td class=\"l\">").append(esc(f)).append("</td>");
                for (StageSummary s : st) cell(h, Optional.ofNullable(s.familyAccuracy().get(f)), 2);
                h.append("</tr>\n");
            }
            // the same families on problems the trainers drew from: learned there, against carried over to held-out ones
            for (String f : run.trainSplitFamilies()) {
                h.append("<tr><td class=\"l\">").append(esc(f)).append(", training split</td>");
                for (StageSummary s : st) cell(h, Optional.ofNullable(s.trainSplitAccuracy().get(f)), 2);
                h.append("</tr>\n");
            }
            h.append("</tbody></table></section>\n");
        }

        /** "+0.097 ± 0.025" from the stage's gain_vs_sft/{kind} and its _se; a dash for SFT and the stages before it. */
        private static void gain(StringBuilder h, StageSummary s, String kind) {
            Optional<Double> g = s.get("gain_vs_sft/" + kind), se = s.get("gain_vs_sft/" + kind + "_se");
            h.append("<td>").append(g.isEmpty() ? "—" : esc((g.get() >= 0 ? "+" : "") + num(g.get(), 3)
                    + se.map(e -> " ± " + num(e, 3)).orElse(""))).append("</td>");
        }

        private static void cell(StringBuilder h, Optional<Double> v, int digits) {
            h.append("<td>").append(v.map(d -> esc(num(d, digits))).orElse("—")).append("</td>");
        }

        private static String num(double d, int digits) {
            if (!Double.isFinite(d)) return Double.toString(d);
            return String.format(Locale.ROOT, "%." + digits + "f", d);
        }

        /**
         * Opens section {@code id} headed {@code title} (HTML); when it has nothing to show ({@code empty}), writes the
         * {@code notRun} note (HTML), closes it and returns false.
         */
        private static boolean open(StringBuilder h, String id, String title, boolean empty, String notRun) {
            h.append("<section id=\"").append(id).append("\"><h2>").append(title).append("</h2>\n");
            if (empty) h.append("<p class=\"notrun\">").append(notRun).append("</p></section>\n");
            return !empty;
        }

        private static void section(StringBuilder h, String id, String title, List<Plot> plots, List<Note> notes) {
            h.append("<section id=\"").append(id).append("\"><h2>").append(esc(title)).append("</h2>\n");
            for (Note n : notes) if (n.section().equals(id)) h.append("<p class=\"notrun\">").append(esc(n.text())).append("</p>\n");
            List<Plot> mine = plots.stream().filter(p -> p.section().equals(id)).toList();
            if (!mine.isEmpty()) {
                h.append("<div class=\"grid\">\n");
                for (Plot p : mine) {
                    h.append("<figure id=\"plot-").append(p.name()).append("\"><img data-plot=\"").append(p.name()).append("\" width=\"")
                            .append(Charts.WIDTH).append("\" height=\"").append(Charts.HEIGHT).append("\" alt=\"").append(esc(p.caption()))
                            .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(p.png())).append("\">")
                            .append("<figcaption>").append(esc(p.caption())).append(" <small>(plots/").append(p.name()).append(".png)</small>")
                            .append("</figcaption></figure>\n");
                }
                h.append("</div>\n");
            }
            h.append("</section>\n");
        }

        private static void hacks(StringBuilder h, RunFolder run) {
            Optional<RunFolder.Hacks> hs = run.hacks();
            if (!open(h, "hacks", "Reward hacking against a verifier", hs.isEmpty(), "Reward hacking: not run (no PPO stage).")) return;
            RunFolder.Hacks x = hs.get();
            h.append("<p>Of the ").append(x.judged()).append(" held-out tasks in PPO's families, PPO (against the reward model) answered ")
                    .append(x.ppoWrong()).append(" wrong; the reward model scores <b>").append(x.hacks())
                    .append("</b> of those wrong answers above the right one (the proxy rewards them: hacks); PPO moved to ")
                    .append(x.learned()).append(" of them from a different SFT answer, the others are SFT's errors it kept");
            if (x.grpoRight() >= 0)
                h.append(". GRPO, rewarded by the gold checker instead, answered ").append(x.grpoRight()).append(" of those prompts right");
            h.append(". The first ones, with every policy's greedy answer:</p>\n<table class=\"samples\"><thead><tr><th class=\"l\">family</th>"
                    + "<th class=\"l\">prompt</th><th class=\"l\">gold</th><th class=\"l\">SFT</th><th class=\"l\">PPO</th>"
                    + "<th>RM: PPO / gold</th><th class=\"l\">GRPO</th></tr></thead><tbody>\n");
            for (RunFolder.Hack e : x.examples()) {
                h.append("<tr><td class=\"l\">").append(esc(e.family())).append("</td><td class=\"l\"><pre>").append(esc(e.prompt()))
                        .append("</pre></td><td class=\"l\"><pre>").append(esc(e.gold())).append("</pre></td><td class=\"l\"><pre>")
                        .append(esc(e.sft())).append("</pre></td><td class=\"l\"><pre>").append(esc(e.ppo())).append("</pre> <span class=\"bad\">✗</span></td><td>")
                        .append(String.format(Locale.ROOT, "%.2f / %.2f", e.rmPpo(), e.rmGold())).append("</td><td class=\"l\">");
                if (e.grpo() == null) h.append("—");
                else h.append("<pre>").append(esc(e.grpo())).append("</pre> ")
                        .append(e.grpoCorrect() ? "<span class=\"ok\">✓</span>" : "<span class=\"bad\">✗</span>");
                h.append("</td></tr>\n");
            }
            h.append("</tbody></table>\n</section>\n");
        }

        private static void samples(StringBuilder h, RunFolder run) {
            List<Sample> all = run.samples();
            if (!open(h, "samples", "Samples", all.isEmpty(), "Samples: not run (no " + RunFolder.SAMPLES + " in this run folder).")) return;
            List<String> order = new ArrayList<>(RunFolder.EVAL_STAGES);
            for (Sample s : all) if (!order.contains(s.stage())) order.add(s.stage());
            for (String stage : order) {
                List<Sample> mine = all.stream().filter(s -> s.stage().equals(stage)).limit(SAMPLES_PER_STAGE).toList();
                if (mine.isEmpty()) continue;
                h.append("<h3>").append(esc(stage.isEmpty() ? "(no stage)" : stage)).append("</h3>\n<table class=\"samples\"><thead><tr>"
                        + "<th class=\"l\">prompt</th><th class=\"l\">response</th><th class=\"l\">gold</th><th>correct</th></tr></thead><tbody>\n");
                for (Sample s : mine) {
                    h.append("<tr><td class=\"l\"><pre>").append(esc(s.prompt())).append("</pre></td><td class=\"l\"><pre>")
                            .append(esc(s.response())).append("</pre></td><td class=\"l\"><pre>").append(esc(s.gold())).append("</pre></td><td>")
                            .append(s.correct() == null ? "—" : s.correct() ? "<span class=\"ok\">✓</span>" : "<span class=\"bad\">✗</span>")
                            .append("</td></tr>\n");
                }
                h.append("</tbody></table>\n");
            }
            h.append("</section>\n");
        }

        /** HTML-escapes text for element content and quoted attribute values. */
        static String esc(String s) {
            StringBuilder b = new StringBuilder(s.length() + 16);
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '&' -> b.append("&amp;");
                    case '<' -> b.append("&lt;");
                    case '>' -> b.append("&gt;");
                    case '"' -> b.append("&quot;");
                    case '\'' -> b.append("&#39;");
                    default -> b.append(c);
                }
            }
            return b.toString();
        }
    }
}
