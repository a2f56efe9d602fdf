package brt4j.backend.ref;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/** A tensor of the reference backend: float64 values in a plain array. */
final class DoubleTensor extends Tensor {
    final ReferenceBackend owner;
    final double[] data;

    DoubleTensor(ReferenceBackend owner, double[] data, int... shape) {
        super(shape);
        this.owner = owner;
        this.data = data;
    }

    @Override public Backend backend() { return owner; }
}
