"""PyTorch CPU peer of brt4j's generation benchmark (generate-bench.sh): the same model shapes as a config.json,
generating the way brt4j does (a fair peer, not the PyTorch port's recompute-the-window-per-token): the prompt is
ingested a block at a time (all W tokens of a block in parallel), then tokens are generated one at a time with a
rolling W-token key/value window per layer; the recurrent layer's state projections are computed once per block and
the state advances at every block boundary from the window [previous block ; current block] (fixed gate, skip).
Float32, torch.inference_mode. Prints prompt and generation tokens/s as JSON. Random weights: the work, not the
numbers, is what is compared.
"""
import json, math, sys, time
import torch
from peer_ops import rms, l2, attend, head_split, t5_bucket

cfg = json.load(open(sys.argv[1]))
threads, prompt_len, gen_len, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 5     # untimed runs first, as GenerationThroughput's warmup=
torch.set_num_threads(threads)
torch.manual_seed(0)
V, d, L, H, D, Ff = cfg["vocab_size"], cfg["d_model"], cfg["n_layers"], cfg["n_heads"], cfg["head_dim"], cfg["d_ff"]
W, S = cfg["window"], cfg["n_states"]
HD = H * D
rec = set(l % L for l in cfg["recurrent_layers"])
assert cfg.get("state_ffn", "skip") == "skip" and cfg.get("gate", "fixed") == "fixed" and not cfg.get("feedback", False), \
    "the peer implements Rec:fixed:skip and the baselines"

def R(*shape, std=0.02): return torch.randn(*shape) * std
P = {"embed": R(V, d, std=1.0), "final": torch.ones(d)}
for i in range(L):
    P[f"{i}.an"], P[f"{i}.fn"] = torch.ones(d), torch.ones(d)
    for n in ("q", "k", "v"): P[f"{i}.{n}"] = R(HD, d)
    P[f"{i}.o"] = R(d, 2 * HD if i in rec else HD)
    P[f"{i}.t"], P[f"{i}.bias"] = torch.ones(H), R(H, 32)
    P[f"{i}.w1"], P[f"{i}.w2"] = R(Ff, d), R(d, Ff)
    if i in rec:
        P[f"{i}.qx"], P[f"{i}.tx"], P[f"{i}.sn"] = R(HD, d), torch.ones(H), torch.ones(d)
        P[f"{i}.ids"], P[f"{i}.init"] = R(S, d, std=1.0), R(S, d, std=0.1)
        for n in ("sq", "sqx", "sk", "sv"): P[f"{i}.{n}"] = R(HD, d)
        P[f"{i}.st"], P[f"{i}.stx"], P[f"{i}.so"], P[f"{i}.gb"] = torch.ones(H), torch.ones(H), R(d, 2 * HD), torch.zeros(d)

heads, merge = head_split(H, D)                                             # [H, T, D] and back
bucket = t5_bucket

class Stream:
    """One text stream: per layer the previous block's and the current block's keys/values, the states."""
    def __init__(self):
        self.prev = [(torch.zeros(H, W, D), torch.zeros(H, W, D)) for _ in range(L)]
        self.cur = [([], []) for _ in range(L)]
        self.state = {i: P[f"{i}.init"].clone() for i in rec}
        self.proj = None

    def projections(self):
        if self.proj is None:
            self.proj = {}
            for i in rec:
                sh = rms(self.state[i], P[f"{i}.sn"]) + P[f"{i}.ids"]
                self.proj[i] = (l2(heads(sh @ P[f"{i}.sk"].T)), heads(sh @ P[f"{i}.sv"].T),
                                l2(heads(sh @ P[f"{i}.sq"].T)), l2(heads(sh @ P[f"{i}.sqx"].T)))
        return self.proj

    def feed(self, ids):
        """ids within one block; returns the logits of the last one."""
        proj, n, a = self.projections(), len(ids), len(self.cur[0][0])
        x = P["embed"][ids]
        qpos = torch.arange(a, a + n).view(n, 1) + W                        # query positions in [prev ; cur]
        kpos = torch.arange(W + a + n).view(1, W + a + n)
        delta = qpos - kpos
        mask = (delta >= 1) & (delta <= W)
        bk = bucket(delta)
        for i in range(L):
            h = rms(x, P[f"{i}.an"])
            q, k, v = l2(heads(h @ P[f"{i}.q"].T)), l2(heads(h @ P[f"{i}.k"].T)), heads(h @ P[f"{i}.v"].T)
            ck, cv = self.cur[i]
            ck.append(k); cv.append(v)
            K = torch.cat([self.prev[i][0]] + ck, 1)
            Vv = torch.cat([self.prev[i][1]] + cv, 1)
            y = merge(attend(q, K, Vv, P[f"{i}.t"], P[f"{i}.bias"][:, bk], mask))
            if i in rec:
                sk, sv, _, _ = proj[i]
                yx = merge(attend(l2(heads(h @ P[f"{i}.qx"].T)), sk, sv, P[f"{i}.tx"]))
                y = torch.cat([y, yx], -1)
            x = x + y @ P[f"{i}.o"].T
            x = x + torch.relu(rms(x, P[f"{i}.fn"]) @ P[f"{i}.w1"].T) @ P[f"{i}.w2"].T
        logits = rms(x[-1:], P["final"]) @ P["embed"].T / math.sqrt(V)
        if a + n == W: self.advance()
        return logits

    def advance(self):
        for i in rec:
            sk, sv, sq, sqx = self.proj[i]
            K = torch.cat([self.prev[i][0]] + self.cur[i][0], 1)
            Vv = torch.cat([self.prev[i][1]] + self.cur[i][1], 1)
            hs = torch.cat([merge(attend(sq, sk, sv, P[f"{i}.st"])), merge(attend(sqx, K, Vv, P[f"{i}.stx"]))], -1)
            g = torch.sigmoid(P[f"{i}.gb"])
            self.state[i] = self.state[i] * g + (hs @ P[f"{i}.so"].T) * (1 - g)
        self.prev = [(torch.cat(ck, 1), torch.cat(cv, 1)) for ck, cv in self.cur]
        self.cur = [([], []) for _ in range(L)]
        self.proj = None

prompt = torch.randint(1, V, (prompt_len,))
ingest, gen = [], []
with torch.inference_mode():
    for rep in range(-warmup, reps):
        s = Stream()
        t0 = time.perf_counter()
        at = 0
        while at < prompt_len:
            n = min(W - len(s.cur[0][0]), prompt_len - at)
            logits = s.feed(prompt[at:at + n])
            at += n
        t1 = time.perf_counter()
        for _ in range(gen_len):
            logits = s.feed(logits.argmax(-1))
        t2 = time.perf_counter()
        if rep >= 0:
            ingest.append(prompt_len / (t1 - t0)); gen.append(gen_len / (t2 - t1))
ingest.sort(); gen.sort()
print(json.dumps({"peer": "pytorch " + torch.__version__, "threads": threads, "prompt_tokens_per_s": ingest[len(ingest) // 2],
                  "generated_tokens_per_s": gen[len(gen) // 2]}))
