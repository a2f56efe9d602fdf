package brt4j.train;

/**
 * Learning-rate schedules. {@link #rsqrt} is the paper's (spec §2.3, meliad's {@code lr_rsqrt_decay_std}:
 * "as used in the memorizing and block-recurrent transformer papers"): linear warmup to 1/sqrt(warmup), then
 * 1/sqrt(step), times the base rate (1.0 with Adafactor). {@link #cosine} is meliad's later default.
 */
public final class LearningRate {
    private LearningRate() {}

    /** min(step, warmup)/warmup * 1/sqrt(max(step, warmup)) * base. */
    public static double rsqrt(long step, long warmup, double base) {
        double w = Math.max(1, warmup);
        return Math.min(step, w) / w / Math.sqrt(Math.max(step, w)) * base;
    }

    /** Linear warmup to peak, then cosine decay to min at totalSteps (flat after). */
    public static double cosine(long step, long warmup, long totalSteps, double peak, double min) {
        if (step < warmup) return peak * step / Math.max(1, warmup);
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, totalSteps - warmup));
        return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
