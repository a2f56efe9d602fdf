package brt4j.bench;

import brt4j.backend.Sliding;
import brt4j.backend.cpu.CpuBackend;
import brt4j.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * The fused sliding-window attention at the paper's size: W = 512, H = 8, D = 64, one segment of two blocks
 * (Tq = 1024 queries, Tk = 1536 keys), forward and backward, on 1 and 2 threads. Useful flops per head and block:
 * forward 4 W^2 D (q.k^T and p.v over the W allowed keys of each query), backward 8 W^2 D (dp, dv, dq, dk; the
 * recomputed scores are not counted). Dropout off.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// bin/brt's flags: the Vector API's bounds checks on, as in production (MatmulBench says what turning them off did)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
public class AttentionBench {
    static final int W = 512, H = 8, D = 64, BLOCKS = 2, TQ = W * BLOCKS, TK = TQ + W;

    @Param({"1", "2"})
    public int threads;

    CpuBackend backend;
    Tensor q, k, v, temp, rel, out, lse, dOut, dq, dk, dv, dTemp, dRel;
    Sliding sliding;

    @Setup
    public void setUp() {
        backend = new CpuBackend(threads);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(2);
        q = normalized(rnd, TQ); k = normalized(rnd, TK);
        v = backend.upload(MatmulBench.random(rnd, TK * H * D), 1, TK, H * D);
        temp = backend.upload(new float[]{1, 2, 3, 4, 5, 6, 7, 8}, H);
        rel = backend.upload(MatmulBench.random(rnd, H * 32), H, 32);
        sliding = new Sliding(W, rel, 128);
        out = backend.zeros(1, TQ, H * D); lse = backend.zeros(1, H, TQ);
        dOut = backend.upload(MatmulBench.random(rnd, TQ * H * D), 1, TQ, H * D);
        dq = backend.zeros(1, TQ, H * D); dk = backend.zeros(1, TK, H * D); dv = backend.zeros(1, TK, H * D);
        dTemp = backend.zeros(H); dRel = backend.zeros(H, 32);
        backend.attention(q, k, v, H, temp, sliding, out, lse);
    }

    /** Random rows with unit-norm heads, as the model feeds them (spec §1.3). */
    private Tensor normalized(java.util.SplittableRandom rnd, int t) {
        Tensor x = backend.upload(MatmulBench.random(rnd, t * H * D), 1, t, H * D), y = backend.zeros(1, t, H * D);
        backend.l2NormHeads(x, H, 1e-6, y, backend.zeros(t * H));
        return y;
    }

    @TearDown
    public void tearDown() { backend.close(); }

    @Benchmark
    public Tensor forward() {
        backend.attention(q, k, v, H, temp, sliding, out, lse);
        return out;
    }

    @Benchmark
    public Tensor backward() {
        backend.attentionBackward(q, k, v, H, temp, sliding, out, lse, dOut, dq, dk, dv, dTemp, dRel);
        return dq;
    }

    /** Useful flops of one call: forward 4 W^2 D per head and block, backward twice that. */
    public static double forwardFlops() { return 4.0 * W * W * D * H * BLOCKS; }
}
