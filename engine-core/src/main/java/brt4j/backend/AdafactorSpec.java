package brt4j.backend;

import brt4j.tensor.Tensor;

/**
 * Adafactor's hyper-parameters, defaults as flax.optim.Adafactor with the paper's beta1 = 0.9 (spec §2.3):
 * beta2_t = 1 - (t + 1)^-decayExponent, epsilon1 added to g^2, the update scaled by max(epsilon2, RMS(param)),
 * update clipped to RMS clipThreshold, then momentum on the scaled update.
 */
public record AdafactorSpec(double beta1, double decayExponent, double epsilon1, double epsilon2,
                            double clipThreshold, boolean multiplyByParameterScale, int minDimToFactor) {
    public static final AdafactorSpec PAPER = new AdafactorSpec(0.9, 0.8, 1e-30, 1e-3, 1.0, true, 128);

    /** Factored moments only for 2-D parameters whose smaller dim is at least minDimToFactor (flax's rule). */
    public boolean factored(Tensor param) {
        return param.rank() == 2 && Math.min(param.dim(0), param.dim(1)) >= minDimToFactor;
    }
}
