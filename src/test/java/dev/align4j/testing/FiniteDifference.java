package dev.align4j.testing;

import java.util.function.DoubleSupplier;

/** Central differences of a double-precision reference: what every backward is checked against. */
public final class FiniteDifference {
    private FiniteDifference() {}

    /** ∂f/∂x[i] ≈ (f(x[i] + h) − f(x[i] − h)) / 2h, where {@code f} reads {@code x}; x[i] is restored. */
    public static double at(double[] x, int i, double h, DoubleSupplier f) {
        double keep = x[i];
        x[i] = keep + h;
        double up = f.getAsDouble();
        x[i] = keep - h;
        double down = f.getAsDouble();
        x[i] = keep;
        return (up - down) / (2 * h);
    }

    /** {@link #at} for every element of {@code x}. */
    public static double[] all(double[] x, double h, DoubleSupplier f) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) g[i] = at(x, i, h, f);
        return g;
    }
}
