package brt4j.check;

/**
 * The one comparison rule of every cross-check (brt trace --compare, brt check, the tests): element i passes iff
 * |actual_i - expected_i| <= tol * max(1, max_j |expected_j|), i.e. an absolute bound for tensors of order one and
 * a relative one for larger tensors (losses summed over many tokens). NaN or infinity where the expected value is
 * finite fails. The tolerance is tied to the precision in play: see {@link #tolerance(int)}.
 */
public final class Comparison {
    private Comparison() {}

    /**
     * The tolerance for a run of the given precision against float32-stored expectations: 2e-5 for float32 (the
     * golden fixtures' suggested acceptance), 1e-6 for float64 (the expectations themselves are rounded to float32,
     * about 6e-8 relative, and the summation order differs).
     */
    public static double tolerance(int precisionBits) { return precisionBits >= 64 ? 1e-6 : 2e-5; }

    public static TensorDiff compare(String name, long[] shape, double[] expected, double[] actual, double tol) {
        if (expected.length != actual.length) {
            return new TensorDiff(name, shape, Double.NaN, Double.NaN, -1, 0, 0, tol, false,
                    "has " + actual.length + " elements, expected " + expected.length);
        }
        double scale = 0;
        for (double e : expected) if (Double.isFinite(e)) scale = Math.max(scale, Math.abs(e));
        double bound = tol * Math.max(1, scale);
        double maxAbs = 0;
        long firstBad = -1;
        double ea = 0, aa = 0;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(actual[i] - expected[i]);
            boolean bad = Double.isNaN(diff) ? !(Double.isNaN(expected[i]) && Double.isNaN(actual[i])) : diff > bound;
            if (Double.isNaN(diff) && bad) diff = Double.POSITIVE_INFINITY;
            if (!Double.isNaN(diff)) maxAbs = Math.max(maxAbs, diff);
            if (bad && firstBad < 0) { firstBad = i; ea = expected[i]; aa = actual[i]; }
        }
        return new TensorDiff(name, shape, maxAbs, maxAbs / Math.max(scale, 1e-30), firstBad, ea, aa, bound, firstBad < 0, null);
    }

    public static TensorDiff missing(String name) {
        return new TensorDiff(name, new long[0], Double.NaN, Double.NaN, -1, 0, 0, 0, false, "missing from the run's output");
    }

    public static TensorDiff shapeMismatch(String name, long[] expected, long[] actual) {
        return new TensorDiff(name, actual, Double.NaN, Double.NaN, -1, 0, 0, 0, false,
                "has shape " + java.util.Arrays.toString(actual) + ", expected " + java.util.Arrays.toString(expected));
    }
}
