package brt4j.tensor;

import brt4j.backend.Backend;

import java.util.Arrays;

/**
 * A dense, row-major array of numbers owned by one {@link Backend}. The handle knows only its shape; the storage
 * (a float[] on the fast CPU backend, a double[] on the reference backend, device memory on a GPU) belongs to the
 * backend's subclass, and every operation on it goes through that backend.
 *
 * <p>Most ops read a tensor as a matrix: {@link #rows()} x {@link #cols()}, where cols is the last dimension and
 * rows the product of all the others. A [B, N, H*D] activation is therefore also a [B*N, H*D] matrix.
 */
public abstract class Tensor {
    private final int[] shape;
    private final long size;

    protected Tensor(int... shape) {
        if (shape.length == 0) shape = new int[0];
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " has a negative dimension");
            n = Math.multiplyExact(n, d);
        }
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " holds " + n + " elements, more than one array can address");
        }
        this.shape = shape.clone();
        this.size = n;
    }

    public abstract Backend backend();

    /** A copy of the shape. */
    public final int[] shape() { return shape.clone(); }

    public final int rank() { return shape.length; }

    /** Dimension i; negative i counts from the end. */
    public final int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    /** Number of elements. */
    public final int size() { return (int) size; }

    /** The last dimension (1 for a scalar). */
    public final int cols() { return shape.length == 0 ? 1 : shape[shape.length - 1]; }

    /** All dimensions but the last, multiplied. */
    public final int rows() { return cols() == 0 ? 0 : size() / cols(); }

    /**
     * True for int8 weights with per-row scales (inference only): such a tensor may only be the right operand of
     * {@code matmul} with transB (y = x W^T), an embedding table, or downloaded (as its dequantized values).
     */
    public boolean quantized() { return false; }

    public final boolean sameShape(Tensor o) { return Arrays.equals(shape, o.shape); }

    public final String shapeString() { return Arrays.toString(shape); }

    @Override public String toString() { return getClass().getSimpleName() + shapeString(); }
}
