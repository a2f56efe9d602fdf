package brt4j.bench;

import brt4j.backend.cpu.CpuBackend;
import brt4j.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's sgemm, c = a . b, at the sizes, on 1 and 2 threads. GFLOP/s = 2 m n k / time; the
 * peer (OpenBLAS sgemm through numpy) runs beside it in benchmarks/scripts/matmul-bench.sh. The fork runs with
 * production's flags (bin/brt's): the Vector API's bounds checks stay on, since C2 hoists them out of the kernel's
 * loop, and with them off (VECTOR_ACCESS_OOB_CHECK=0) the kernel compiled differently and ran 56-70 against 66-67
 * GFLOP/s at 512x512x2048 (session 14); matmul-bench.sh adds transparent huge pages, as bin/brt does on Linux. Each
 * call is timed (SampleTime) so that the summary takes the median call, the peer's statistic: a mean over 1-second
 * iterations let one noisy second on this shared host drag our figure only.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
public class MatmulBench {
    /** m x k times k x n. */
    @Param({"512x512x2048", "512x1024x4096", "1024x1024x1024"})
    public String mkn;

    @Param({"1", "2"})
    public int threads;

    CpuBackend backend;
    Tensor a, b, c;

    @Setup
    public void setUp() {
        String[] p = mkn.split("x");
        int m = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), n = Integer.parseInt(p[2]);
        backend = new CpuBackend(threads);
        SplittableRandom rnd = new SplittableRandom(1);
        a = backend.upload(random(rnd, m * k), m, k);
        b = backend.upload(random(rnd, k * n), k, n);
        c = backend.zeros(m, n);
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }

    @TearDown
    public void tearDown() { backend.close(); }

    @Benchmark
    public Tensor matmul() {
        backend.matmul(a, false, b, false, c, 1, 0);
        return c;
    }
}
