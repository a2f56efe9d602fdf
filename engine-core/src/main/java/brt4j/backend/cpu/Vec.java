package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one vector species every CPU kernel uses, chosen once at class initialization and held in a {@code static
 * final} field so that C2 intrinsifies the vector operations (benchmarking.md: a non-constant species ran ~40x
 * slower). {@code -Dbrt.vector.bits=128|256|512} forces a narrower width, so the 128-bit paths that ARM machines
 * take are tested here too; the default is the platform's preferred width.
 */
final class Vec {
    private Vec() {}

    static final VectorSpecies<Float> F = pick(Integer.getInteger("brt.vector.bits", 0));

    /** Lanes per vector. */
    static final int L = F.length();

    private static VectorSpecies<Float> pick(int bits) {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (bits <= 0 || bits >= preferred.vectorBitSize()) return preferred;
        return switch (bits) {
            case 64 -> FloatVector.SPECIES_64;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            default -> throw new IllegalArgumentException("brt.vector.bits must be 64, 128, 256 or 512, got " + bits);
        };
    }

    /** n rounded up to a whole number of vectors. */
    static int roundUp(int n) { return (n + L - 1) / L * L; }

    /** The largest multiple of the vector length not above n. */
    static int bound(int n) { return n - n % L; }
}
