"""Reads the interleaved runs of matmul-bench.sh and prints medians, ours/OpenBLAS and % of FMA peak. Each run's
figure is its median call on both sides (JMH SampleTime's p0.50; numpy: median of 15 calls)."""
import csv, glob, os, statistics, sys

out, reps = sys.argv[1], int(sys.argv[2])
PEAK = {1: 117.0, 2: 232.0}
ours, peer = {}, {}
for t in (1, 2):
    for r in range(1, reps + 1):
        with open(os.path.join(out, f"ours-t{t}-r{r}.csv")) as f:
            rows = list(csv.DictReader(f))
            # SampleTime: the median call (the peer's statistic); an AverageTime run has only the mean row
            medians = [row for row in rows if row["Benchmark"].endswith("p0.50")]
            for row in medians or rows:
                size = row["Param: mkn"]
                m, k, n = map(int, size.split("x"))
                ms = float(row["Score"])
                ours.setdefault((size, t), []).append(2.0 * m * n * k / (ms * 1e-3) / 1e9)
        with open(os.path.join(out, f"openblas-t{t}-r{r}.txt")) as f:
            for line in f:
                size, g = line.split()
                peer.setdefault((size, t), []).append(float(g))

print(f"{'size (m x k x n)':<18} {'thr':>3} {'ours GFLOP/s':>13} {'OpenBLAS':>9} {'ours/OB':>8} {'ours %peak':>10} {'OB %peak':>9}   runs (ours | OpenBLAS)")
for (size, t) in sorted(ours, key=lambda x: (x[1], x[0])):
    o, p = statistics.median(ours[(size, t)]), statistics.median(peer[(size, t)])
    runs = " ".join(f"{x:.0f}" for x in ours[(size, t)]) + " | " + " ".join(f"{x:.0f}" for x in peer[(size, t)])
    print(f"{size:<18} {t:>3} {o:>13.1f} {p:>9.1f} {o / p:>8.2f} {100 * o / PEAK[t]:>9.0f}% {100 * p / PEAK[t]:>8.0f}%   {runs}")
