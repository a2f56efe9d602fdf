package brt4j.backend;

/**
 * A counter-based random source: the value for index i depends only on (seed, i). Dropout masks are recomputed
 * from it in backward instead of stored, and every backend (CPU threads, GPU kernels) draws the same mask.
 * The mixer is SplitMix64's finalizer.
 */
public final class CounterRng {
    private CounterRng() {}

    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 24 bits, the same in float and double code. */
    public static float uniform(long seed, long index) {
        return (mix(seed * 0x9e3779b97f4a7c15L + index) >>> 40) * 0x1.0p-24f;
    }

    /** True when element {@code index} survives dropout of {@code rate}. */
    public static boolean keep(long seed, long index, double rate) {
        return uniform(seed, index) >= rate;
    }
}
