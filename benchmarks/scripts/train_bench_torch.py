"""PyTorch CPU transcription of the BRT training step for the train benchmark (train-bench.sh).

Same shapes and FLOPs as brt4j's model for a config.json (spec §1): embedding without scaling, per layer RMS norm,
Q/K/V projections, per-head L2-normalized queries and keys, sliding-window attention block by block over
[previous block || current block] with the XL cache, a T5 relative bias and a learned temperature, safe softmax;
the recurrent layer adds the state side (norm + IDs, projections, state self-attention and cross-attention to the
window's keys, [self || cross] W_o, fixed gate) and the token side's cross-attention to the state; ReLU FFN; final
norm, tied head scaled by 1/sqrt(V), cross-entropy. The step is TrainThroughput's: global-norm clipping at 1.0 and
AdamW (betas 0.9, 0.98, weight decay 0.01). Prints tokens/s of forward+backward+clip+update.
Not a numerical reference (random weights; the window includes the token itself and stops one short); only the
work is the same.
"""
import json, math, sys, time
import torch
import torch.nn.functional as F
from peer_ops import rms, l2, attend, head_split, t5_bucket

cfg = json.load(open(sys.argv[1]))
threads, steps, warmup, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
# "lockstep": take each step when train-pair.py says so (print "ready"; before a step read a line, after it print
# "step SECONDS"), so that the two peers' steps alternate and each pair sees the same host
lockstep = "lockstep" in sys.argv[6:]

def await_turn():
    if lockstep and not sys.stdin.readline():
        sys.exit(3)

torch.set_num_threads(threads)
torch.manual_seed(0)
V, d, L, H, D, Ff = cfg["vocab_size"], cfg["d_model"], cfg["n_layers"], cfg["n_heads"], cfg["head_dim"], cfg["d_ff"]
W, N, S = cfg["window"], cfg["segment"], cfg["n_states"]
HD = H * D
rec = set(l % L for l in cfg["recurrent_layers"])

def P(*shape, std=0.02):
    return torch.nn.Parameter(torch.randn(*shape) * std)

params = {"embed": P(V, d, std=1.0), "final": torch.nn.Parameter(torch.ones(d))}
for i in range(L):
    p = lambda n, *s, **k: params.__setitem__(f"{i}.{n}", P(*s, **k))
    params[f"{i}.an"] = torch.nn.Parameter(torch.ones(d)); params[f"{i}.fn"] = torch.nn.Parameter(torch.ones(d))
    p("q", HD, d); p("k", HD, d); p("v", HD, d); p("o", d, 2 * HD if i in rec else HD)
    params[f"{i}.t"] = torch.nn.Parameter(torch.ones(H)); p("bias", H, 32)
    p("w1", Ff, d); p("w2", d, Ff)
    if i in rec:
        p("qx", HD, d); params[f"{i}.tx"] = torch.nn.Parameter(torch.ones(H))
        params[f"{i}.sn"] = torch.nn.Parameter(torch.ones(d)); p("ids", S, d, std=1.0); p("init", S, d, std=0.1)
        for n in ("sq", "sqx", "sk", "sv"): p(n, HD, d)
        params[f"{i}.st"] = torch.nn.Parameter(torch.ones(H)); params[f"{i}.stx"] = torch.nn.Parameter(torch.ones(H))
        p("so", d, 2 * HD); params[f"{i}.gb"] = torch.nn.Parameter(torch.zeros(d))

heads, merge = head_split(H, D)                                             # [.., H, T, D] and back

qi = torch.arange(W).view(W, 1) + W; ki = torch.arange(2 * W).view(1, 2 * W)
dist = (qi - ki); mask = (dist >= 0) & (dist < W)
bucket = t5_bucket(dist)

def layer(i, x, kc, vc, state):
    B = x.shape[0]
    h = rms(x, params[f"{i}.an"])
    q, k, v = l2(heads(h @ params[f"{i}.q"].T)), l2(heads(h @ params[f"{i}.k"].T)), heads(h @ params[f"{i}.v"].T)
    bias = params[f"{i}.bias"][:, bucket]                                  # [H, W, 2W]
    outs, pk, pv = [], kc, vc
    r = i in rec
    if r: qx = l2(heads(h @ params[f"{i}.qx"].T))
    for b in range(N // W):
        kb, vb = k[:, :, b * W:(b + 1) * W], v[:, :, b * W:(b + 1) * W]
        K, Vv = torch.cat([pk, kb], 2), torch.cat([pv, vb], 2)
        y = attend(q[:, :, b * W:(b + 1) * W], K, Vv, params[f"{i}.t"], bias, mask)
        if r:
            sh = rms(state, params[f"{i}.sn"]) + params[f"{i}.ids"]
            sk, sv = l2(heads(sh @ params[f"{i}.sk"].T)), heads(sh @ params[f"{i}.sv"].T)
            sq, sqx = l2(heads(sh @ params[f"{i}.sq"].T)), l2(heads(sh @ params[f"{i}.sqx"].T))
            yx = attend(qx[:, :, b * W:(b + 1) * W], sk, sv, params[f"{i}.tx"])
            y = torch.cat([merge(y), merge(yx)], -1)
            hs = torch.cat([merge(attend(sq, sk, sv, params[f"{i}.st"])), merge(attend(sqx, K, Vv, params[f"{i}.stx"]))], -1)
            g = torch.sigmoid(params[f"{i}.gb"])
            state = state * g + (hs @ params[f"{i}.so"].T) * (1 - g)
        else:
            y = merge(y)
        outs.append(y)
        pk, pv = kb, vb
    x = x + torch.cat(outs, 1) @ params[f"{i}.o"].T
    x = x + F.relu(rms(x, params[f"{i}.fn"]) @ params[f"{i}.w1"].T) @ params[f"{i}.w2"].T
    return x, pk.detach(), pv.detach(), state

opt = torch.optim.AdamW(params.values(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01)
cache = [(torch.zeros(batch, H, W, D), torch.zeros(batch, H, W, D)) for _ in range(L)]
state = {i: params[f"{i}.init"].expand(batch, S, d) for i in rec}
times = []
if lockstep:
    print("ready", flush=True)
    await_turn()
for step in range(warmup + steps):
    tokens = torch.randint(1, V, (batch, N))
    t0 = time.perf_counter()
    x = params["embed"][tokens]
    new_cache, new_state = [], {}
    for i in range(L):
        x, kc, vc, st = layer(i, x, cache[i][0], cache[i][1], state.get(i))
        new_cache.append((kc, vc))
        if i in rec: new_state[i] = st.detach()
    logits = rms(x, params["final"]) @ params["embed"].T / math.sqrt(V)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tokens[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
    opt.step()
    cache, state = new_cache, new_state
    dt = time.perf_counter() - t0
    if step >= warmup: times.append(dt)
    if lockstep:
        print(f"step {dt:.6f}", flush=True)
        if step < warmup + steps - 1:
            await_turn()
# throughput over the whole timed run (TrainThroughput's statistic too: it counts the JVM's GC pauses)
mean = sum(times) / len(times)
med = sorted(times)[len(times) // 2]
print(json.dumps({"peer": "pytorch " + torch.__version__, "threads": threads, "tokens_per_s": batch * N / mean,
                  "step_s_mean": mean, "step_s_median": med, "steps": steps,
                  "params": sum(p.numel() for p in params.values())}))
