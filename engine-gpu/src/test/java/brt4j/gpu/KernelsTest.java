package brt4j.gpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Host-side helpers of the kernels: the writable arguments read off the sources, the embedding's rows by id. */
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
    void embeddingRowsGroupedByIdInOrder() {
        // ids 5, 2, 5, 0, 2, 5 over a vocabulary of 7: distinct 0, 2, 5; rows {3}, {1, 4}, {0, 2, 5}
        assertArrayEquals(new int[]{0, 2, 5, 0, 1, 3, 6, 3, 1, 4, 0, 2, 5}, GpuBackend.rowsById(new int[]{5, 2, 5, 0, 2, 5}, 7));
        assertArrayEquals(new int[]{0}, GpuBackend.rowsById(new int[0], 3));
    }

    @Test
    void unknownKernelIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.writes("k_nope"));
        assertTrue(e.getMessage().contains("k_nope"), e.getMessage());
    }
}
