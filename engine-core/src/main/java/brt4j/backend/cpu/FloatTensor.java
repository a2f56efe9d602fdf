package brt4j.backend.cpu;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/** A tensor of the CPU backend: float32 values in a plain array, shared by views of the same storage. */
final class FloatTensor extends Tensor {
    final CpuBackend owner;
    final float[] data;

    FloatTensor(CpuBackend owner, float[] data, int... shape) {
        super(shape);
        this.owner = owner;
        this.data = data;
    }

    @Override public Backend backend() { return owner; }
}
