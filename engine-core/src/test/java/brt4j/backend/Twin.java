package brt4j.backend;

import brt4j.tensor.Tensor;

import java.util.SplittableRandom;

/**
 * The same tensor on the float64 oracle and on a fast backend, made from the same float32 values so that both
 * start from identical inputs; {@link #check} compares the fast one with the oracle by {@link Compare}.
 */
public record Twin(Tensor ref, Tensor fast) {

    /** Creates twins on two backends from a shared random source. */
    public record Maker(Backend ref, Backend fast, SplittableRandom rnd) {
        public Twin rand(int... shape) { return rand(1.0, shape); }

        /** Uniform in [-scale, scale). */
        public Twin rand(double scale, int... shape) {
            int n = 1;
            for (int d : shape) n *= d;
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
            return of(x, shape);
        }

        public Twin zeros(int... shape) { return new Twin(ref.zeros(shape), fast.zeros(shape)); }

        public Twin of(float[] x, int... shape) { return new Twin(ref.upload(x, shape), fast.upload(x, shape)); }

        public void check(String what, Twin t) { check(what, t, Compare.FLOAT32); }

        public void check(String what, Twin t, double tol) {
            Compare.assertClose(what + " on " + fast.name(), fast.downloadDouble(t.fast), ref.downloadDouble(t.ref), tol);
        }
    }
}
