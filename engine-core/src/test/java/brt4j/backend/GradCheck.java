package brt4j.backend;

import brt4j.tensor.Tensor;

import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * A small generic gradient check for float64 backends: the analytic gradient of a random linear functional
 * {@code f = sum_k w_k . out_k} of an op's outputs, from its backward op, against central differences
 * {@code (f(x + h e_i) - f(x - h e_i)) / 2h} with h = 1e-6 for every element of every checked input.
 */
final class GradCheck {
    static final double H = 1e-6;

    /** Runs the backward op: adds into dIns (null entries: inputs not checked) the gradient for output weights dOuts. */
    @FunctionalInterface
    interface Backward { void run(Tensor[] dOuts, Tensor[] dIns); }

    private GradCheck() {}

    static void check(String name, Backend b, long seed, Tensor[] inputs, boolean[] checked, Supplier<Tensor[]> forward,
                      Backward backward, double tol) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor[] outs = forward.get();
        Tensor[] w = new Tensor[outs.length];
        double[][] wd = new double[outs.length][];
        for (int k = 0; k < outs.length; k++) {
            wd[k] = new double[outs[k].size()];
            for (int i = 0; i < wd[k].length; i++) wd[k][i] = rnd.nextDouble() * 2 - 1;
            w[k] = b.upload(wd[k], outs[k].shape());
        }
        Tensor[] dIns = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) if (checked[i]) dIns[i] = b.zeros(inputs[i].shape());
        backward.run(w, dIns);
        for (int i = 0; i < inputs.length; i++) {
            if (!checked[i]) continue;
            double[] x = b.downloadDouble(inputs[i]);
            double[] numeric = new double[x.length];
            for (int e = 0; e < x.length; e++) {
                double keep = x[e];
                x[e] = keep + H; set(b, inputs[i], x);
                double fp = functional(b, forward.get(), wd);
                x[e] = keep - H; set(b, inputs[i], x);
                double fm = functional(b, forward.get(), wd);
                x[e] = keep; set(b, inputs[i], x);
                numeric[e] = (fp - fm) / (2 * H);
            }
            Compare.assertClose(name + ": gradient of input " + i + " " + inputs[i].shapeString(), b.downloadDouble(dIns[i]), numeric, tol);
        }
    }

    private static void set(Backend b, Tensor t, double[] x) { b.copy(b.upload(x, t.shape()), t); }

    private static double functional(Backend b, Tensor[] outs, double[][] w) {
        double f = 0;
        for (int k = 0; k < outs.length; k++) {
            double[] o = b.downloadDouble(outs[k]);
            for (int i = 0; i < o.length; i++) f += w[k][i] * o[i];
        }
        return f;
    }
}
