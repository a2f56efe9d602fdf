"""Runs brt4j's TrainThroughput and the PyTorch peer (train_bench_torch.py) in lockstep: the two processes take
training steps in turn, one at a time, in ABBA order, so that both steps of a pair see the same host (this shared
machine's speed swings 20-50% over minutes; runs a few minutes apart compared different hosts). Prints each side's
median step, the median of the pairs' speed ratios (PyTorch's step time over ours) with its quartiles, the median
over the "quiet pairs" (PyTorch's step within 7% of its fastest), and each side's tokens/s over its timed steps.
Called by train-pair.sh, which builds the two commands.

Usage: train_pair.py STEPS WARMUP TOKENS_PER_STEP -- JAVA_CMD... -- TORCH_CMD...
"""
import json, statistics, subprocess, sys


def start(cmd):
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            bufsize=1)


def read_until(p, prefix):
    for line in p.stdout:
        if line.startswith(prefix):
            return line
    sys.exit(f"train-pair: {p.args[0]} ended before it printed '{prefix}' (exit {p.wait()})")


def step(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    return float(read_until(p, "step ").split()[1])


def final_json(p):
    line = read_until(p, "{")
    p.wait()
    return json.loads(line)


def main():
    args = sys.argv[1:]
    steps, warmup, tokens = int(args[0]), int(args[1]), int(args[2])
    cut = args.index("--", 4)
    java, torch = args[4:cut], args[cut + 1:]
    ours, theirs = start(java), start(torch)    # both start up at once; neither takes a step until told
    try:
        for p in (ours, theirs):
            read_until(p, "ready")
        pairs = []
        for i in range(warmup + steps):
            if i % 2 == 0:
                a = step(ours); b = step(theirs)
            else:
                b = step(theirs); a = step(ours)
            if i >= warmup:
                pairs.append((a, b))
        ja, jb = final_json(ours), final_json(theirs)
    finally:
        for p in (ours, theirs):
            if p.poll() is None:
                p.kill()
    ratios = sorted(b / a for a, b in pairs)
    q = statistics.quantiles(ratios, n=4)
    # the pairs in which PyTorch's step was within 7% of its fastest: the host was quiet for the peer, so for us too
    fastest = min(b for _, b in pairs)
    quiet = [b / a for a, b in pairs if b <= fastest / 0.93]
    med_a = statistics.median(a for a, _ in pairs)
    med_b = statistics.median(b for _, b in pairs)
    print(json.dumps({"threads": ja["threads"], "pairs": len(pairs), "ratio_median": statistics.median(ratios),
                      "ratio_q1": q[0], "ratio_q3": q[2], "quiet_pairs": len(quiet),
                      "quiet_ratio_median": statistics.median(quiet), "brt4j_step_median": med_a, "pytorch_step_median": med_b,
                      "brt4j_tokens_per_s": ja["tokens_per_s"], "pytorch_tokens_per_s": jb["tokens_per_s"],
                      "brt4j_median_tokens_per_s": tokens / med_a, "pytorch_median_tokens_per_s": tokens / med_b}))


if __name__ == "__main__":
    main()
