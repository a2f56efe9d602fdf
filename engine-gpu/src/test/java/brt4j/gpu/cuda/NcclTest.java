package brt4j.gpu.cuda;

import brt4j.gpu.GpuException;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The NCCL bindings in a world of one rank on one GPU (all this project's device has): set-up from a unique id,
 * all-reduce and broadcast of known data through the buckets (small tensors packed, a large one in place), host sums
 * in float64, and the error path (NCCL's code, text and last message). Without NCCL: the one clear error.
 */
class NcclTest {
    /** NCCL, or why there is none. */
    static Object nccl() {
        try {
            return Nccl.get();
        } catch (GpuException e) {
            return e.getMessage();
        }
    }

    static CudaBackend cuda() {
        Object n = nccl();
        assumeTrue(n instanceof Nccl, () -> "skipped: NCCL is not here (" + n + ")");
        int devices;
        try {
            devices = CudaBackend.deviceCount();
        } catch (GpuException e) {
            devices = 0;
        }
        assumeTrue(devices > 0, "skipped: no CUDA device");
        return new CudaBackend(0, CudaBackend.Precision.FP32);
    }

    @Test void withoutNcclTheErrorListsWhereItLooked() {
        Object n = nccl();
        assumeTrue(n instanceof String, () -> "skipped: NCCL is installed here (" + ((Nccl) n).version() + ")");
        String m = (String) n;
        assertTrue(m.startsWith("NCCL (libnccl.so.2, needed for --gpus) not found: looked for libnccl.so(.d+)* in ["), m);
        assertTrue(m.contains("/usr/local/cuda/lib64") && m.contains("through the system loader"), m);
        assertTrue(m.endsWith("Install it, or point NCCL_HOME or LD_LIBRARY_PATH at its folder."), m);
    }

    static float[] random(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian();
        return f;
    }

    @Test void aWorldOfOneSumsAndBroadcastsKnownDataThroughTheBuckets() {
        CudaBackend be = cuda();
        try (NcclCommunicator c = NcclCommunicator.connect(be, NcclCommunicator.uniqueId(), 0, 1)) {
            assertEquals(0, c.rank());
            assertEquals(1, c.size());
            Random r = new Random(8);
            // odd sizes packed into one bucket; two of 3/8 bucket each spill into a second one; one larger than a bucket goes alone
            int big = NcclCommunicator.BUCKET_FLOATS + 5, part = NcclCommunicator.BUCKET_FLOATS / 8 * 3;
            int[] sizes = {1, 3, 17, 130, part, part, big, 33};
            List<Tensor> ts = new ArrayList<>();
            List<float[]> want = new ArrayList<>();
            for (int s : sizes) {
                float[] v = random(r, s);
                want.add(v);
                ts.add(be.upload(v, s));
            }
            c.allReduceSum(ts);   // one rank: the sum is the data itself, each tensor back in its place
            for (int i = 0; i < sizes.length; i++) assertArrayEquals(want.get(i), be.download(ts.get(i)), "all-reduce, tensor " + i);
            c.broadcast(ts, 0);
            for (int i = 0; i < sizes.length; i++) assertArrayEquals(want.get(i), be.download(ts.get(i)), "broadcast, tensor " + i);
            assertArrayEquals(new double[]{1.5, -2, 1e300, 0.1}, c.allReduceSum(new double[]{1.5, -2, 1e300, 0.1}));
            var e = assertThrows(IllegalArgumentException.class, () -> c.broadcast(ts, 1));
            assertEquals("broadcast root 1 is not within a world of 1", e.getMessage());
        }
    }

    @Test void anNcclErrorNamesTheCodeAndNcclsMessage() throws Throwable {
        CudaBackend be = cuda();
        Nccl n = Nccl.get();
        NcclCommunicator c = NcclCommunicator.connect(be, NcclCommunicator.uniqueId(), 0, 1);
        try {
            Tensor t = be.zeros(4);
            MemorySegment comm = commOf(c);
            int err = (int) n.broadcast.invokeExact(be.pointer(t), be.pointer(t), 4L, Nccl.FLOAT32, 5, comm, MemorySegment.NULL);
            assertEquals(Nccl.INVALID_ARGUMENT, err, "root 5 in a world of 1");
            var ex = assertThrows(GpuException.class, () -> n.check(err, "ncclBroadcast", comm));
            assertTrue(ex.getMessage().startsWith("nccl: ncclBroadcast failed: ncclInvalidArgument (4): invalid argument"), ex.getMessage());
            System.out.println("NCCL error path: " + ex.getMessage());
        } finally {
            c.abort();   // the communicator saw a bad call: abort rather than finalize it
        }
    }

    private static MemorySegment commOf(NcclCommunicator c) throws ReflectiveOperationException {
        var f = NcclCommunicator.class.getDeclaredField("comm");
        f.setAccessible(true);
        return (MemorySegment) f.get(c);
    }
}
