package brt4j.trace;

import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.TensorInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Compares a trace with expected outputs tensor by tensor, under {@link Comparison}'s rule. */
public final class TraceComparison {
    private TraceComparison() {}

    /** One diff per expected tensor, in the expected file's order; integer tensors must match exactly. */
    public static List<TensorDiff> compare(SafeTensors expected, Map<String, TraceTensor> actual, double tol) {
        List<TensorDiff> diffs = new ArrayList<>();
        for (TensorInfo info : expected.infos()) {
            String name = info.name();
            TraceTensor a = actual.get(name);
            if (a == null) { diffs.add(Comparison.missing(name)); continue; }
            if (!Arrays.equals(info.shape(), a.shape())) { diffs.add(Comparison.shapeMismatch(name, info.shape(), a.shape())); continue; }
            boolean integer = !info.dtype().isFloatingPoint();
            double[] e = integer ? java.util.Arrays.stream(expected.ints(name)).asDoubleStream().toArray() : expected.doubles(name);
            diffs.add(Comparison.compare(name, info.shape(), e, a.data(), integer ? 0 : tol));
        }
        return diffs;
    }
}
