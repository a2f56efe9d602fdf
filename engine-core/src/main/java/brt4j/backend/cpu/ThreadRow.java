package brt4j.backend.cpu;

/** A scratch row of floats per thread, grown on demand and kept, so that a hot loop allocates nothing. */
final class ThreadRow {
    private final ThreadLocal<float[]> row = ThreadLocal.withInitial(() -> new float[0]);

    /** This thread's row, at least n floats long; its old contents are left as they were. */
    float[] get(int n) {
        float[] r = row.get();
        if (r.length < n) row.set(r = new float[n]);
        return r;
    }
}
