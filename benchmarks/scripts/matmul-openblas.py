"""OpenBLAS sgemm through numpy at the sizes of MatmulBench: prints 'mxkxn gflops' (median of 15 timed calls).
Threads come from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set by matmul-bench.sh."""
import time
import numpy as np

for m, k, n in [(512, 512, 2048), (512, 1024, 4096), (1024, 1024, 1024)]:
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    for _ in range(5):
        np.matmul(a, b, out=c)
    times = []
    for _ in range(15):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"{m}x{k}x{n} {2.0 * m * n * k / times[len(times) // 2] / 1e9:.2f}")
