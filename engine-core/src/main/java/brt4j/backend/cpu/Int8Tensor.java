package brt4j.backend.cpu;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/** Int8 weights [rows, cols] with one float32 scale per row: w[r, c] = q[r, c] * scale[r]. */
final class Int8Tensor extends Tensor {
    final CpuBackend owner;
    final byte[] q;
    final float[] scale;

    Int8Tensor(CpuBackend owner, byte[] q, float[] scale, int rows, int cols) {
        super(rows, cols);
        this.owner = owner;
        this.q = q;
        this.scale = scale;
    }

    @Override public Backend backend() { return owner; }

    @Override public boolean quantized() { return true; }
}
