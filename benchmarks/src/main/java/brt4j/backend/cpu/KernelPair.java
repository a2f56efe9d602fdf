package brt4j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The microkernels alone, in cache: ours ({@code MatmulKernels.kernelGrouped} and {@code flush}, one call per sliver
 * of 6 rows across the panels) against the one OpenBLAS exports for this CPU
 * ({@code sgemm_kernel_ZEN(m, n, k, alpha, sa, sb, c, ldc)}, one call for all tiles), on the same work (10 slivers of 6 rows by 4 panels; packed operands of random values, which the
 * timing does not care about), alternated in one JVM. It separates the kernel from the rest of a product (packing,
 * writing c), which gemm-pair.sh measures together. In this package for MatmulKernels' package-private kernels.
 *
 * <p>Usage: {@code KernelPair [--lib PATH] [--kernel SYMBOL] [kc ...]} (default kc 512 and 1024);
 * benchmarks/scripts/kernel-pair.sh runs it.
 */
public final class KernelPair {
    static final int SLIVERS = 10, PANELS = 4, ROUNDS = 80, WARM = 20, REPS = 50;

    public static void main(String[] args) throws Throwable {
        String lib = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", symbol = "sgemm_kernel_ZEN";
        java.util.List<Integer> kcs = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--lib" -> lib = args[++i];
                case "--kernel" -> symbol = args[++i];
                default -> {
                    if (!args[i].matches("[1-9][0-9]*") || Integer.parseInt(args[i]) % Matmul.STEPS != 0) {
                        System.err.printf("kernel-pair: kc is a positive multiple of %d, got '%s'%n", Matmul.STEPS,
                                args[i]);
                        System.exit(2);
                    }
                    kcs.add(Integer.parseInt(args[i]));
                }
            }
        }
        if (kcs.isEmpty()) kcs = java.util.List.of(512, 1024);
        if (!Files.exists(Path.of(lib))) {
            System.err.println("kernel-pair: no OpenBLAS library at " + lib
                    + " (apt-get install -y libopenblas0-openmp, or pass --lib PATH)");
            System.exit(2);
        }
        SymbolLookup found = SymbolLookup.libraryLookup(Path.of(lib), Arena.global());
        if (found.find(symbol).isEmpty()) {
            System.err.println("kernel-pair: " + lib + " exports no " + symbol
                    + " (pass --kernel, e.g. sgemm_kernel_HASWELL)");
            System.exit(2);
        }
        MethodHandle theirs = Linker.nativeLinker().downcallHandle(found.find(symbol).get(), FunctionDescriptor.of(
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        System.out.printf("%-6s %14s %14s %8s%n", "kc", symbol, "ours", "ours/OB");
        for (int kc : kcs) run(kc, theirs);
    }

    private static void run(int kc, MethodHandle theirs) throws Throwable {
        int cols = PANELS * Matmul.NR, rows = SLIVERS * Matmul.MR;   // OpenBLAS's m runs along our columns
        SplittableRandom r = new SplittableRandom(1);
        Arena arena = Arena.ofConfined();
        MemorySegment sa = arena.allocate((long) cols * kc * 4, 64), sb = arena.allocate((long) rows * kc * 4, 64);
        MemorySegment c = arena.allocate((long) cols * rows * 4, 64);
        for (long i = 0; i < (long) cols * kc; i++) sa.setAtIndex(JAVA_FLOAT, i, (float) r.nextDouble());
        for (long i = 0; i < (long) rows * kc; i++) sb.setAtIndex(JAVA_FLOAT, i, (float) r.nextDouble());
        int aRegion = cols * kc;
        float[] pk = new float[aRegion + rows * kc], tile = new float[Matmul.MR * Matmul.NR * PANELS];
        float[] ours = new float[cols * rows];
        for (int i = 0; i < pk.length; i++) pk[i] = (float) r.nextDouble();
        double flops = 2.0 * cols * rows * kc * REPS;
        double[][] g = new double[2][ROUNDS - WARM];
        for (int q = 0; q < ROUNDS; q++) {
            for (int side = 0; side < 2; side++) {
                long t0 = System.nanoTime();
                for (int rep = 0; rep < REPS; rep++) {
                    if (side == 0) {
                        int unused = (int) theirs.invokeExact((long) cols, (long) rows, (long) kc, 1f, sa, sb, c,
                                (long) cols);
                    } else {
                        for (int s = 0; s < SLIVERS; s++) {   // a sliver across all panels, as Matmul runs it
                            MatmulKernels.kernelGrouped(kc, PANELS, pk, aRegion + s * Matmul.MR * kc, 0, tile);
                            for (int jr = 0; jr < PANELS; jr++) {
                                int cOff = s * Matmul.MR * cols + jr * Matmul.NR;
                                MatmulKernels.flush(tile, jr * Matmul.MR * Matmul.NR, ours, cOff, cols, 1f, false,
                                        Matmul.MR);
                            }
                        }
                    }
                }
                long dt = System.nanoTime() - t0;
                if (q >= WARM) g[side][q - WARM] = flops / dt;
            }
        }
        arena.close();
        double[] ratio = new double[ROUNDS - WARM];
        for (int i = 0; i < ratio.length; i++) ratio[i] = g[1][i] / g[0][i];
        for (double[] x : g) Arrays.sort(x);
        Arrays.sort(ratio);
        int mid = ratio.length / 2;
        System.out.printf("%-6d %9.1f GF/s %9.1f GF/s %7.3fx (quartiles %.3f-%.3f)%n", kc, g[0][mid], g[1][mid],
                ratio[mid], ratio[ratio.length / 4], ratio[3 * ratio.length / 4]);
    }
}
