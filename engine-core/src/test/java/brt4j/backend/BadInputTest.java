package brt4j.backend;

import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;

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
                rejects("matmulGroup", () -> b.matmulGroup(List.of(b.zeros(3, 4), b.zeros(3, 4)), false, List.of(b.zeros(4, 6), b.zeros(5, 6)),
                        false, List.of(b.zeros(3, 6), b.zeros(3, 6)), 1, 0), "[3, 4]", "[5, 6]");
                rejects("matmulGroup", () -> b.matmulGroup(List.of(b.zeros(3, 4), b.zeros(3, 5)), false, List.of(b.zeros(4, 6), b.zeros(5, 6)),
                        false, List.of(b.zeros(3, 6), b.zeros(3, 6)), 1, 0), "product 1 is 3x5 . 5x6", "product 0 3x4 . 4x6");
                Tensor same = b.zeros(3, 6);
                rejects("matmulGroup", () -> b.matmulGroup(List.of(b.zeros(3, 4), b.zeros(3, 4)), false, List.of(b.zeros(4, 6), b.zeros(4, 6)),
                        false, List.of(same, same), 1, 0), "same tensor");
                rejects("matmulGroup", () -> b.matmulGroup(List.of(b.zeros(3, 4)), false, List.of(), false, List.of(b.zeros(3, 6)), 1, 0),
                        "1 left operands, 0 right operands");
                Backend.Attn a0 = new Backend.Attn(b.zeros(1, 4, 8), b.zeros(1, 4, 8), b.zeros(1, 4, 8), b.zeros(2), b.zeros(1, 4, 8), b.zeros(1, 2, 4));
                Backend.Attn a1 = new Backend.Attn(b.zeros(1, 4, 8), b.zeros(1, 6, 8), b.zeros(1, 6, 8), b.zeros(2), b.zeros(1, 4, 8), b.zeros(1, 2, 4));
                rejects("attentionPair", () -> b.attentionPair(2, a0, new Backend.Attn(a1.q(), a1.k(), b.zeros(1, 5, 8), a1.temperature(),
                        a1.out(), a1.lse())), "[1, 5, 8]");
                Tensor dq = b.zeros(1, 4, 8);
                rejects("attentionPairBackward", () -> b.attentionPairBackward(2, a0,
                        new Backend.AttnGrads(b.zeros(1, 4, 8), dq, b.zeros(1, 4, 8), b.zeros(1, 4, 8), b.zeros(2)), a1,
                        new Backend.AttnGrads(b.zeros(1, 4, 8), dq, b.zeros(1, 6, 8), b.zeros(1, 6, 8), b.zeros(2))), "same gradient");
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
