package brt4j.bench;

import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A/B of the CPU backend's sgemm in one JVM: two engines (an engine-core jar or classes folder each) in their own
 * class loaders ({@link EngineLoader}), called in turn on the same operands (ABBA pairs, 5 ms apart, after 3 s of
 * warm-up each shape). Prints, per shape, the median of the pairs' speed ratios (new / base) with its quartiles and
 * both sides' median GFLOP/s. The engine whose loader is made second tends to read up to 3% slower with identical
 * code (each loader's code is compiled on its own, its buffers land elsewhere), so benchmarks/scripts/gemm-ab.sh
 * runs both orders ({@code --new-first}) and averages them.
 *
 * <p>Usage: {@code GemmAB BASE_ENGINE NEW_ENGINE THREADS PAIRS [--new-first] MxKxN ...}.
 */
public final class GemmAB {
    /** One engine's backend and operands, called through reflection (a few ns against a millisecond call). */
    static final class Side {
        final Object backend, a, b, c;
        final Method matmul;

        Side(Path engine, int threads, float[] a, float[] b, int m, int k, int n) throws Exception {
            ClassLoader loader = EngineLoader.of(engine);
            Class<?> backendClass = loader.loadClass("brt4j.backend.cpu.CpuBackend");
            Class<?> tensor = loader.loadClass("brt4j.tensor.Tensor");
            backend = backendClass.getConstructor(int.class).newInstance(threads);
            Method upload = backendClass.getMethod("upload", float[].class, int[].class);
            this.a = upload.invoke(backend, a, new int[]{m, k});
            this.b = upload.invoke(backend, b, new int[]{k, n});
            this.c = backendClass.getMethod("zeros", int[].class).invoke(backend, (Object) new int[]{m, n});
            matmul = backendClass.getMethod("matmul", tensor, boolean.class, tensor, boolean.class, tensor, double.class,
                    double.class);
        }

        long call() throws Exception {
            long t0 = System.nanoTime();
            matmul.invoke(backend, a, false, b, false, c, 1.0, 0.0);
            return System.nanoTime() - t0;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: GemmAB BASE_ENGINE NEW_ENGINE THREADS PAIRS [--new-first] MxKxN ...");
            System.exit(2);
        }
        Path base = Path.of(args[0]), fresh = Path.of(args[1]);
        int threads = Integer.parseInt(args[2]), pairs = Integer.parseInt(args[3]);
        boolean newFirst = args[4].equals("--new-first");
        for (int s = newFirst ? 5 : 4; s < args.length; s++) {
            String[] p = args[s].split("x");
            int m = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), n = Integer.parseInt(p[2]);
            SplittableRandom rnd = new SplittableRandom(1);
            float[] a = MatmulBench.random(rnd, m * k), b = MatmulBench.random(rnd, k * n);
            Side first = new Side(newFirst ? fresh : base, threads, a, b, m, k, n);
            Side second = new Side(newFirst ? base : fresh, threads, a, b, m, k, n);
            Side baseSide = newFirst ? second : first, newSide = newFirst ? first : second;
            for (long end = System.nanoTime() + 3_000_000_000L; System.nanoTime() < end; ) {
                baseSide.call();
                newSide.call();
            }
            double[] ratio = new double[pairs], tb = new double[pairs], tn = new double[pairs];
            for (int i = 0; i < pairs; i++) {
                Thread.sleep(5);
                long x, y;
                if (i % 2 == 0) {
                    x = baseSide.call();
                    Thread.sleep(5);
                    y = newSide.call();
                } else {
                    y = newSide.call();
                    Thread.sleep(5);
                    x = baseSide.call();
                }
                ratio[i] = (double) x / y;
                tb[i] = x;
                tn[i] = y;
            }
            Arrays.sort(ratio);
            Arrays.sort(tb);
            Arrays.sort(tn);
            double flops = 2.0 * m * n * k;
            System.out.printf("%-16s %d thr  new/base %.3f (%.3f-%.3f)  base %.1f  new %.1f GFLOP/s%s%n", args[s],
                    threads, ratio[pairs / 2], ratio[pairs / 4], ratio[3 * pairs / 4], flops / tb[pairs / 2],
                    flops / tn[pairs / 2], newFirst ? "  (new loaded first)" : "");
        }
        System.exit(0);   // the engines' pool threads are daemons, but their backends are not closed
    }
}
