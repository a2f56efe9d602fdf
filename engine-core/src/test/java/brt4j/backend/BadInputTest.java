package brt4j.backend;

import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shape mismatches throw IllegalArgumentException naming the op and the shapes, on every backend. */
class BadInputTest {

    static void rejects(String op, Executable call, String... shapes) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(op + ":"), "message should name " + op + ": " + e.getMessage());
        for (String s : shapes) assertTrue(e.getMessage().contains(s), "message should name " + s + ": " + e.getMessage());
    }

    @Test
    void shapeMismatchesAreNamed() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            for (Backend b : new Backend[]{new ReferenceBackend(), cpu}) {
                rejects("matmul", () -> b.matmul(b.zeros(3, 4), false, b.zeros(5, 6), false, b.zeros(3, 6), 1, 0), "[3, 4]", "[5, 6]");
                rejects("add", () -> b.add(b.zeros(2, 3), b.zeros(3, 2), b.zeros(2, 3)), "[2, 3]", "[3, 2]");
                rejects("rmsNorm", () -> b.rmsNorm(b.zeros(4, 8), b.zeros(7), 1e-6, b.zeros(4, 8), b.zeros(4)), "[4, 8]", "[7]");
                rejects("attention", () -> b.attention(b.zeros(1, 4, 8), b.zeros(1, 8, 8), b.zeros(1, 8, 8), 2, b.zeros(2),
                        null, b.zeros(1, 4, 8), b.zeros(1, 2, 5)), "[1, 2, 5]");
                rejects("attention", () -> b.attention(b.zeros(1, 4, 8), b.zeros(1, 7, 8), b.zeros(1, 7, 8), 2, b.zeros(2),
                        new Sliding(4, b.zeros(2, 32), 128), b.zeros(1, 4, 8), b.zeros(1, 2, 4)), "[1, 7, 8]");
                rejects("windowAttention", () -> b.windowAttention(b.zeros(1, 2, 8), b.zeros(1, 9, 8), b.zeros(1, 9, 8), 4, 2,
                        b.zeros(2), new Sliding(4, b.zeros(2, 32), 128), b.zeros(1, 2, 8)), "[1, 9, 8]", "rows [4, 10)");
                rejects("windowAttention", () -> b.windowAttention(b.zeros(1, 1, 8), b.zeros(1, 9, 8), b.zeros(1, 8, 8), 0, 2,
                        b.zeros(2), new Sliding(4, b.zeros(2, 32), 128), b.zeros(1, 1, 8)), "[1, 9, 8]", "[1, 8, 8]");
                rejects("windowAttention", () -> b.windowAttention(b.zeros(1, 1, 8), b.zeros(1, 9, 8), b.zeros(1, 9, 8), 0, 2,
                        b.zeros(2), null, b.zeros(1, 1, 8)), "sliding");
                rejects("windowAttention", () -> b.windowAttention(b.zeros(1, 1, 8), b.zeros(1, 9, 8), b.zeros(1, 9, 8), -1, 2,
                        b.zeros(2), new Sliding(4, b.zeros(2, 32), 128), b.zeros(1, 1, 8)), "rows [-1");
                rejects("windowAttention", () -> b.windowAttention(b.zeros(1, 1, 8), b.zeros(1, 9, 8), b.zeros(1, 9, 8), 0, 2,
                        b.zeros(2), new Sliding(4, b.zeros(2, 32), 128, 0.1, 1), b.zeros(1, 1, 8)), "dropout");
                rejects("crossEntropy", () -> b.crossEntropy(b.zeros(3, 10), new int[2], new boolean[3], b.zeros(3)), "[3, 10]");
            }
            ReferenceBackend other = new ReferenceBackend();
            rejects("add", () -> cpu.add(cpu.zeros(2), other.zeros(2), cpu.zeros(2)), "[2]", "reference");
        }
    }
}
