package brt4j.backend;

/**
 * T5 relative-position buckets, unidirectional (spec §1.4): distance delta = query position - key position,
 * future positions clamp to 0; bucket = delta below half the buckets, then logarithmic up to maxDistance, capped at
 * buckets - 1. The logarithm is computed in float32, as meliad computes it, so that bucket edges agree exactly.
 */
public final class T5Buckets {
    private T5Buckets() {}

    public static int bucket(int delta, int buckets, int maxDistance) {
        if (delta <= 0) return 0;
        int exact = buckets / 2;
        if (delta < exact) return delta;
        float epsF32 = Math.ulp(1.0f);           // jnp.finfo(float32).eps, as in meliad's position_t5.py
        float ratio = (float) delta / exact + epsF32;
        float logRatio = (float) Math.log(ratio) / (float) Math.log((float) maxDistance / exact);
        int b = exact + (int) (logRatio * (buckets - exact));
        return Math.min(b, buckets - 1);
    }
}
