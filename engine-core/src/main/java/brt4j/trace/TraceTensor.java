package brt4j.trace;

/** A named output of a trace on the host: its shape, its values, and whether it is an integer tensor. */
public record TraceTensor(long[] shape, double[] data, boolean integer) {
    public static TraceTensor scalar(double v) { return new TraceTensor(new long[0], new double[]{v}, false); }

    public static TraceTensor intScalar(int v) { return new TraceTensor(new long[0], new double[]{v}, true); }
}
