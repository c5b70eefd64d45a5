package dev.align4j.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * XChart line and bar charts rendered to PNG bytes, all {@link #WIDTH}×{@link #HEIGHT}, with title, axis
 * labels and legend. Colours are explicit ({@link #PALETTE}), never XChart's theme defaults, so the charts look
 * the same across XChart versions and a test can find a series' pixels.
 *
 * <p>Rendering is AWT in headless mode: {@code java.awt.headless} is set to true here unless the caller chose
 * otherwise, before any chart (and so the AWT toolkit) is created.
 */
public final class Charts {
    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    public static final int WIDTH = 800;
    public static final int HEIGHT = 450;

    /** Series colours, in order (Tableau 10, which stays distinguishable for common colour blindness). */
    public static final List<Color> PALETTE = List.of(new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0x17becf), new Color(0xe377c2));

    private Charts() {}

    /**
     * One line of a line chart. {@code rightAxis}: drawn against a second y axis on the right (for a quantity on
     * another scale, e.g. gold accuracy beside proxy reward); {@code faint}: thin and light (raw values under
     * their moving average); {@code dashed}.
     */
    public record Line(String name, double[] x, double[] y, Color color, boolean rightAxis, boolean faint, boolean dashed,
                       boolean pointsOnly) {
        public Line {
            if (x.length != y.length) throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y values");
        }

        public Line(String name, double[] x, double[] y, Color color) {
            this(name, x, y, color, false, false, false, false);
        }

        public Line onRightAxis() {
            return new Line(name, x, y, color, true, faint, dashed, pointsOnly);
        }

        public Line asFaint() {
            return new Line(name, x, y, color, rightAxis, true, dashed, pointsOnly);
        }

        public Line asDashed() {
            return new Line(name, x, y, color, rightAxis, faint, true, pointsOnly);
        }

        /** Faint markers without connecting lines, left out of the legend (raw points under a summarising line). */
        public Line asPoints() {
            return new Line(name, x, y, color, rightAxis, true, dashed, true);
        }
    }

    /** One bar series of a bar chart: a value per category, null where the category has none. */
    public record Bars(String name, List<Double> values, Color color) {}

    /**
     * A line chart as PNG. Series with no finite point are left out (the caller decides what an empty chart
     * means); a series of up to 60 points also gets markers so single points stay visible.
     */
    public static byte[] line(String title, String xLabel, String yLabel, String rightYLabel, List<Line> lines) throws IOException {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        style(c.getStyler());
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        c.getStyler().setMarkerSize(6);
        c.getStyler().setXAxisTickMarkSpacingHint(90);
        boolean right = false;
        for (Line l : lines) {
            double[][] p = finite(l.x(), l.y());
            if (p[0].length == 0) continue;
            XYSeries s = c.addSeries(l.name(), p[0], p[1]);
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            Color col = l.faint() ? blend(l.color(), 0.35) : l.color();
            s.setLineColor(col);
            s.setMarkerColor(col);
            float w = l.faint() ? 1f : 2.5f;
            s.setLineStyle(l.dashed() ? new BasicStroke(w, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {7f, 4f}, 0f)
                    : new BasicStroke(w, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            s.setMarker(p[0].length <= 60 && !l.faint() ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
            if (l.pointsOnly()) {
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
                s.setMarker(l.dashed() ? SeriesMarkers.DIAMOND : SeriesMarkers.CIRCLE);
                s.setShowInLegend(false);
            }
            if (l.rightAxis()) {
                s.setYAxisGroup(1);
                right = true;
            }
        }
        if (right) {
            c.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
            if (rightYLabel != null) c.setYAxisGroupTitle(1, rightYLabel);
        }
        return png(c);
    }

    /** A grouped bar chart as PNG, value labels on the bars; categories without any value are still shown. */
    public static byte[] bars(String title, String xLabel, String yLabel, List<String> categories, List<Bars> series) throws IOException {
        CategoryChart c = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        style(c.getStyler());
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        c.getStyler().setLabelsVisible(true);
        c.getStyler().setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        c.getStyler().setLabelsFontColorAutomaticEnabled(true);
        c.getStyler().setLabelsPosition(0.97);
        c.getStyler().setYAxisDecimalPattern("0.###");
        c.getStyler().setAvailableSpaceFill(0.8);
        c.getStyler().setOverlapped(false);
        for (Bars b : series) {
            if (b.values().size() != categories.size())
                throw new IllegalArgumentException("series " + b.name() + ": " + b.values().size() + " values for " + categories.size() + " categories");
            // XChart draws no bar for a null value; 0 would claim a measurement
            List<Double> v = new ArrayList<>(b.values());
            for (int i = 0; i < v.size(); i++) if (v.get(i) != null && !Double.isFinite(v.get(i))) v.set(i, null);
            if (v.stream().allMatch(d -> d == null)) continue;
            CategorySeries s = c.addSeries(b.name(), categories, v);
            s.setFillColor(b.color());
            s.setLineColor(b.color());
        }
        return png(c);
    }

    private static void style(Styler st) {
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        st.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        st.setLegendBorderColor(Color.WHITE);
        st.setChartFontColor(Color.BLACK);
        st.setAntiAlias(true);
        st.setSeriesColors(PALETTE.toArray(new Color[0]));
        if (st instanceof org.knowm.xchart.style.AxesChartStyler a) {
            a.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            a.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            a.setPlotGridLinesColor(new Color(0xe6e6e6));
            a.setPlotBorderColor(new Color(0xb0b0b0));
            a.setAxisTickMarksColor(new Color(0x808080));
        }
    }

    private static byte[] png(Chart<?, ?> c) throws IOException {
        return BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG);
    }

    /** The points where both coordinates are finite (XChart's axis ranges break on NaN). */
    static double[][] finite(double[] x, double[] y) {
        double[] a = new double[x.length], b = new double[y.length];
        int n = 0;
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i]) && Double.isFinite(y[i])) {
                a[n] = x[i];
                b[n++] = y[i];
            }
        }
        return new double[][] {Arrays.copyOf(a, n), Arrays.copyOf(b, n)};
    }

    /** Trailing moving average over {@code window} points (the first points average what exists so far). */
    public static double[] movingAverage(double[] y, int window) {
        double[] out = new double[y.length];
        double sum = 0;
        for (int i = 0; i < y.length; i++) {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            out[i] = sum / Math.min(i + 1, window);
        }
        return out;
    }

    /**
     * Points sorted by x and averaged in {@code bins} groups of (nearly) equal count: a readable curve through a
     * noisy cloud whose x is not monotone in time (e.g. reward against KL over PPO steps).
     */
    public static double[][] binnedMeans(double[] x, double[] y, int bins) {
        int n = x.length;
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Double.compare(x[a], x[b]));
        int k = Math.max(1, Math.min(bins, n));
        double[] bx = new double[k], by = new double[k];
        for (int b = 0; b < k; b++) {
            int from = (int) ((long) b * n / k), to = (int) ((long) (b + 1) * n / k);
            for (int j = from; j < to; j++) {
                bx[b] += x[idx[j]];
                by[b] += y[idx[j]];
            }
            bx[b] /= to - from;
            by[b] /= to - from;
        }
        return new double[][] {bx, by};
    }

    /** {@code c} mixed with white: {@code amount} of the colour is kept. */
    static Color blend(Color c, double amount) {
        return new Color((int) Math.round(255 - (255 - c.getRed()) * amount), (int) Math.round(255 - (255 - c.getGreen()) * amount),
                (int) Math.round(255 - (255 - c.getBlue()) * amount));
    }
}
