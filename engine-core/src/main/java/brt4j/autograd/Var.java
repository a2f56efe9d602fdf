package brt4j.autograd;

import brt4j.tensor.Tensor;

/**
 * A value in a computation that may need a gradient. Parameters are long-lived Vars whose gradient accumulates
 * across the backward passes of a step (gradient accumulation); intermediates live as long as their {@link Graph}.
 */
public final class Var {
    public final Tensor value;
    final boolean requiresGrad;
    Tensor grad;

    Var(Tensor value, boolean requiresGrad) {
        this.value = value;
        this.requiresGrad = requiresGrad;
    }

    /** A trainable leaf (a parameter). */
    public static Var param(Tensor value) { return new Var(value, true); }

    /** A leaf that receives no gradient (inputs, carried caches: the gradient stops here). */
    public static Var constant(Tensor value) { return new Var(value, false); }

    public boolean requiresGrad() { return requiresGrad; }

    /** The accumulated gradient, or null when none has reached this value. */
    public Tensor grad() { return grad; }

    /** The gradient tensor, allocated as zeros on first use. */
    Tensor gradForWrite() {
        if (grad == null) grad = value.backend().zeros(value.shape());
        return grad;
    }

    /**
     * Gives the parameter a gradient of zeros if none has reached it: a data-parallel replica whose rows did not
     * reach a parameter that another replica's did still takes part in summing its gradient.
     */
    public Tensor materializeGrad() { return gradForWrite(); }

    /** Frees the gradient of an intermediate whose backward has run ({@link Graph#backward}). */
    void releaseGrad() {
        if (grad != null) value.backend().free(grad);
        grad = null;
    }

    /** Drops the gradient (parameters: at the start of a step). */
    public void zeroGrad() {
        if (grad != null) value.backend().fill(grad, 0);
    }

    public int[] shape() { return value.shape(); }

    public int dim(int i) { return value.dim(i); }

    @Override public String toString() { return "Var" + value.shapeString() + (requiresGrad ? " (grad)" : ""); }
}
