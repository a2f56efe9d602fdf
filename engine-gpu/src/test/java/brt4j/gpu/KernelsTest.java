package brt4j.gpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The writable arguments read off the kernel sources: what keeps the cached bf16 copies honest. */
class KernelsTest {
    @Test
    void writableArgumentsAreTheNonConstPointers() {
        assertArrayEquals(new boolean[]{false, false, true, false}, Kernels.writes("k_add"));
        assertArrayEquals(new boolean[]{true, false, true, true, false, false, false, false, false, false, false, false},
                Kernels.writes("k_adamw"));
        assertArrayEquals(new boolean[]{false, true, false}, Kernels.writes("k_to_bf16"));
        assertTrue(Kernels.writes("k_attn_softmax")[0], "the softmax writes its scores in place");
        assertTrue(Kernels.writes("k_matmul_ex")[8], "k_matmul_ex writes C");
    }

    @Test
    void unknownKernelIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.writes("k_nope"));
        assertTrue(e.getMessage().contains("k_nope"), e.getMessage());
    }
}
