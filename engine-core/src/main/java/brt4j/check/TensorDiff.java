package brt4j.check;

import java.util.Arrays;
import java.util.Locale;

/**
 * How one tensor of a run differs from its expected value, under the shared comparison rule of {@link Comparison}.
 *
 * @param maxAbs     max |actual - expected|
 * @param maxRel     maxAbs relative to the tensor's scale, max |expected|
 * @param firstBad   flat index of the first element outside the tolerance, or -1
 * @param tolerance  the absolute bound the elements were held to
 */
public record TensorDiff(String name, long[] shape, double maxAbs, double maxRel, long firstBad, double expectedAt,
                         double actualAt, double tolerance, boolean pass, String problem) {

    public String line() {
        if (problem != null) return String.format(Locale.ROOT, "FAIL %-36s %s", name, problem);
        String where = firstBad < 0 ? "" : String.format(Locale.ROOT, "  first mismatch at %s: expected %.8g, got %.8g",
                index(firstBad), expectedAt, actualAt);
        return String.format(Locale.ROOT, "%s %-36s max abs %.3e  max rel %.3e  (tol %.1e)%s", pass ? "ok  " : "FAIL",
                name, maxAbs, maxRel, tolerance, where);
    }

    /** The flat index as a multi-index of the shape. */
    private String index(long flat) {
        long[] idx = new long[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = shape[i] == 0 ? 0 : flat % shape[i];
            flat = shape[i] == 0 ? 0 : flat / shape[i];
        }
        return Arrays.toString(idx);
    }
}
