package brt4j.checkpoint;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A deterministic complement to the Jazzer fuzz test, which in a plain build only replays its seeds: thousands of
 * seeded mutations of a valid file (bit flips, byte overwrites, digit edits in the header, truncations, a rewritten
 * length field) must each open and read cleanly or fail with a CheckpointException. Runs in well under a second.
 */
class SafeTensorsMutationTest {
    private static final int MUTANTS = 5_000;

    @Test
    void mutatedFilesOnlyEverFailWithCheckpointException() {
        byte[] valid = new SafeTensorsWriter().metadata("format", "pt")
                .addF32("w", new float[] {1, 2, 3, 4, 5, 6}, 2, 3)
                .add("b", DType.BF16, new float[] {0.5f, -1f}, 2)
                .add("h", DType.F16, new float[] {65504f}, 1)
                .addI32("i", new int[] {-1, 7}, 2)
                .addI64("l", new long[] {Long.MIN_VALUE}, 1)
                .add("u", DType.U64, MemorySegment.ofArray(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}), 1)
                .add("d", DType.F64, new double[] {Math.E}, 1)
                .addF32("empty", new float[0], 0)
                .toByteArray();
        int headerEnd = 8 + (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        SplittableRandom rnd = new SplittableRandom(20_241_129);
        for (int m = 0; m < MUTANTS; m++) {
            byte[] mutant = mutate(valid, headerEnd, rnd);
            SafeTensors st;
            try {
                st = SafeTensors.of("mutant " + m, MemorySegment.ofArray(mutant));
            } catch (CheckpointException expected) {
                continue;
            }
            SafeTensorsFuzzTest.readEverything(st);
        }
    }

    private static byte[] mutate(byte[] valid, int headerEnd, SplittableRandom rnd) {
        byte[] b = valid.clone();
        int edits = 1 + rnd.nextInt(3);
        for (int e = 0; e < edits; e++) {
            switch (rnd.nextInt(6)) {
                case 0 -> { // flip one bit anywhere
                    int i = rnd.nextInt(b.length);
                    b[i] ^= (byte) (1 << rnd.nextInt(8));
                }
                case 1 -> { // overwrite a header byte with a JSON-significant character
                    byte[] chars = "{}[],:\"0123456789-.e ".getBytes();
                    b[8 + rnd.nextInt(headerEnd - 8)] = chars[rnd.nextInt(chars.length)];
                }
                case 2 -> { // change a digit in the header (shapes, offsets)
                    int i = 8 + rnd.nextInt(headerEnd - 8);
                    for (int k = i; k < headerEnd; k++) {
                        if (b[k] >= '0' && b[k] <= '9') {
                            b[k] = (byte) ('0' + rnd.nextInt(10));
                            break;
                        }
                    }
                }
                case 3 -> b = Arrays.copyOf(b, rnd.nextInt(b.length + 1)); // truncate
                case 4 -> { // lie about the header length
                    long lie = switch (rnd.nextInt(3)) {
                        case 0 -> rnd.nextLong();
                        case 1 -> headerEnd - 8 + rnd.nextInt(-16, 17);
                        default -> rnd.nextLong(0, 200_000_000L);
                    };
                    if (b.length >= 8) ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, lie);
                }
                default -> b = Arrays.copyOf(b, b.length + rnd.nextInt(1, 16)); // trailing garbage (zeros)
            }
            if (b.length < 8 || headerEnd > b.length) {
                break; // further header edits would index past the end
            }
        }
        return b;
    }
}
