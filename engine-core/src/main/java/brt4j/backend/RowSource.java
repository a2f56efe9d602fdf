package brt4j.backend;

/**
 * A float32 matrix handed over a block of rows at a time (a weight read from a checkpoint), so that a backend can
 * convert it without the whole float32 form ever existing: see {@link Backend#quantizeInt8(int, int, RowSource)}.
 */
@FunctionalInterface
public interface RowSource {
    /** Writes rows {@code [row0, row0 + count)}, row-major, into {@code dst[0 ..< count * cols]}. */
    void read(int row0, int count, float[] dst);
}
