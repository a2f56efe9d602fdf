package brt4j.gpu.cuda;

import brt4j.tensor.Tensor;
import brt4j.train.DataParallel;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two ranks on the one GPU this project's device has. NCCL refuses two ranks on one device (or, in versions that
 * allow it, sums across them): either way {@link DataParallel} must end with one error naming a rank, or with the
 * right sums, and never hang. Run in its own JVM on the device (a hang would hold the JVM).
 */
class NcclTwoRanksOneGpuTest {
    @Test void twoRanksOnOneGpuSumOrFailCleanly() {
        CudaBackend a = NcclTest.cuda();
        CudaBackend b = new CudaBackend(0, CudaBackend.Precision.FP32);
        CudaBackend[] bes = {a, b};
        byte[] id = NcclCommunicator.uniqueId();
        try {
            List<float[]> out = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> DataParallel.run(2,
                    r -> NcclCommunicator.connect(bes[r], id, r, 2), (r, c) -> {
                        Tensor t = bes[r].upload(new float[]{r + 1, 10 * (r + 1), -r}, 3);
                        c.allReduceSum(List.of(t));
                        return bes[r].download(t);
                    }));
            for (float[] f : out) assertArrayEquals(new float[]{3, 30, -1}, f);
            System.out.println("two ranks on one GPU: all-reduce gave the sums on both");
        } catch (DataParallel.RankFailed e) {
            System.out.println("two ranks on one GPU refused cleanly: " + e.getMessage());
            assertTrue(e.getMessage().matches("(?s)rank [01] of 2 failed: nccl: ncclCommInitRank .*; the other ranks were stopped"), e.getMessage());
        }
    }
}
