package brt4j.backend;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The one comparison rule every cross-check in these tests uses: the error of a tensor is
 * {@code max_i |actual_i - expected_i| / max(max_i |expected_i|, FLOOR)}, i.e. relative to the tensor's own scale
 * (an element near zero is judged against the largest value, not against itself), with an absolute floor so an
 * all-zero expectation needs an (almost) all-zero answer. Tolerances: 1e-5 for float32 against the float64 oracle,
 * 1e-6 for float64 finite differences.
 */
public final class Compare {
    public static final double FLOOR = 1e-6;
    public static final double FLOAT32 = 1e-5;

    private Compare() {}

    public static double error(double[] actual, double[] expected) {
        if (actual.length != expected.length) return Double.POSITIVE_INFINITY;
        double diff = 0, scale = FLOOR;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs(actual[i] - expected[i]);
            if (!(d <= diff)) diff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return diff / scale;
    }

    /** Fails with the error and the first mismatching elements when {@link #error} exceeds tol. */
    public static void assertClose(String what, double[] actual, double[] expected, double tol) {
        double err = error(actual, expected);
        if (err <= tol) return;
        StringBuilder sb = new StringBuilder(what + ": relative error " + err + " > " + tol + " over " + expected.length + " values;");
        double scale = FLOOR;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        int shown = 0;
        for (int i = 0; i < Math.min(actual.length, expected.length) && shown < 5; i++) {
            if (!(Math.abs(actual[i] - expected[i]) <= tol * scale)) {
                sb.append(" [").append(i).append("] got ").append(actual[i]).append(" want ").append(expected[i]).append(';');
                shown++;
            }
        }
        fail(sb.toString());
    }
}
