#!/usr/bin/env python3
"""A PyTorch transcription of brt4j's Block-Recurrent Transformer (docs/brt-paper-spec.md §1.3-§1.11), the peer of
brt4j's GPU benchmark. Reads brt4j's checkpoint layout (config.json + model.safetensors, docs/design.md), needs only
torch (safetensors parsed here with struct + json).

  brt_torch.py check FIXTURE_DIR [--double]      run a golden fixture's two segments, compare logits (and losses,
                                                 states, caches) with expected.safetensors; exit 1 on a mismatch
  brt_torch.py bench [--steps N] [--warmup N] [--modes eager,compile] [--gate DIR] [FAMILY...]
                                                 forward + backward + AdamW tokens/s on CUDA, bf16 autocast, float32
                                                 parameters, medium_150M shapes (GpuBench's), 4096 tokens a step;
                                                 --gate: after compiling, touch DIR/ready-FAMILY, wait for DIR/go-FAMILY

Same math as brt4j (fixtures/brt/README.md conventions): q and k L2-normalised per head (u / sqrt(sum u^2 + 1e-6)),
logit = (q.k + T5 bias) * temperature, sliding mask excluding self, masked logits replaced by -1e6, safe softmax with a
phantom logit at -1000 (its max a constant for gradients), XL cache of the previous block, recurrent cell (state
norm + ids, self and cross attention, skip / single / dual, fixed / lstm gates), feedback block-major, logits scaled by
1/sqrt(V). Dropout is not transcribed (the fixtures and the benchmark run without it).
"""
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- safetensors


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = bytearray(raw[8 + n:])
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64,
              "BF16": torch.bfloat16, "F16": torch.float16}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        dt = dtypes[meta["dtype"]]
        t = torch.frombuffer(data[a:b], dtype=dt) if b > a else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(meta["shape"]).clone()
    return out


# ----------------------------------------------------------------------------------------------- the model


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def t5_bucket(delta, buckets, max_distance):
    """brt4j.backend.T5Buckets.bucket: unidirectional T5 buckets in float32 arithmetic (meliad's position_t5.py)."""
    if delta <= 0:
        return 0
    exact = buckets // 2
    if delta < exact:
        return delta
    eps = f32(2.0 ** -23)
    ratio = f32(f32(delta / exact) + eps)
    log_ratio = f32(f32(math.log(ratio)) / f32(math.log(f32(max_distance / exact))))
    return min(exact + int(f32(log_ratio * (buckets - exact))), buckets - 1)


class Brt:
    def __init__(self, cfg, params, bias_dtype=None):
        self.c = cfg
        self.p = params
        self.V, self.d, self.L = cfg["vocab_size"], cfg["d_model"], cfg["n_layers"]
        self.H, self.D, self.W, self.S = cfg["n_heads"], cfg["head_dim"], cfg["window"], cfg["n_states"]
        self.HD = self.H * self.D
        self.eps = cfg.get("norm_eps", 1e-6)
        self.rec = sorted(r % self.L for r in cfg["recurrent_layers"])
        self.feedback = cfg.get("feedback", False)
        self.src = self.rec[-1] if self.rec else -1
        scale = cfg.get("logit_scale", "inv_sqrt_vocab")
        self.logit_scale = {"inv_sqrt_vocab": 1 / math.sqrt(self.V), "inv_sqrt_d": 1 / math.sqrt(self.d),
                            "none": 1.0}[scale]
        W, nb = self.W, cfg.get("rel_buckets", 32)
        dev = params["embed.weight"].device
        # bucket and mask of score (r, c) of a block: query r of the block, key c of its [previous ; current] window
        r = torch.arange(W).view(W, 1)
        c = torch.arange(2 * W).view(1, 2 * W)
        delta = r + W - c
        table = torch.tensor([t5_bucket(x, nb, cfg.get("rel_max_distance", 128)) for x in range(W + 1)])
        self.allowed = ((delta >= 1) & (delta <= W)).to(dev)
        # The T5 bias as a product with a one-hot [buckets, W * 2W] table: a gather rel[:, bucket] is as cheap
        # forward, but its backward scatters W * 2W contributions onto 32 entries per head (seconds per step).
        onehot = F.one_hot(table[delta.clamp(0, W)], nb).permute(2, 0, 1).reshape(nb, W * 2 * W)
        self.onehot = onehot.to(device=dev, dtype=bias_dtype or params["embed.weight"].dtype)

    def w(self, name):
        return self.p[name]

    # -- primitives

    def rms(self, x, scale):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype) * scale

    def l2(self, x):
        s = x.shape
        x = x.reshape(*s[:-1], self.H, self.D)
        x = x * torch.rsqrt(x.float().pow(2).sum(-1, keepdim=True) + 1e-6).to(x.dtype)
        return x.reshape(s)

    @staticmethod
    def linear(x, w):
        return x @ w.t()

    @staticmethod
    def safe_softmax(a):
        m = torch.clamp(a.amax(-1, keepdim=True), min=-1000.0).detach()
        e = torch.exp(a - m)
        return e / (e.sum(-1, keepdim=True) + torch.exp(-1000.0 - m))

    def attend(self, q, k, v, temp):
        """No bias, no mask: q [B, nq, HD], k, v [B, nk, HD] -> [B, nq, HD]."""
        B, nq, _ = q.shape
        nk = k.shape[1]
        qh = q.view(B, nq, self.H, self.D).transpose(1, 2)
        kh = k.view(B, nk, self.H, self.D).transpose(1, 2)
        vh = v.view(B, nk, self.H, self.D).transpose(1, 2)
        a = (qh @ kh.transpose(-1, -2)) * temp.view(1, self.H, 1, 1)
        p = self.safe_softmax(a.float()).to(vh.dtype)
        return (p @ vh).transpose(1, 2).reshape(B, nq, self.HD)

    def sliding(self, q, keys, values, temp, rel):
        """q [B, n, HD] (n a multiple of W); keys, values [B, W + n, HD]: block b's queries read keys [bW, bW + 2W)."""
        B, n, _ = q.shape
        W, H, D = self.W, self.H, self.D
        nb = n // W
        qb = q.view(B, nb, W, H, D).permute(0, 1, 3, 2, 4)                       # [B, nb, H, W, D]
        kb = keys.view(B, nb + 1, W, H, D)
        vb = values.view(B, nb + 1, W, H, D)
        kw = torch.cat([kb[:, :-1], kb[:, 1:]], dim=2).permute(0, 1, 3, 2, 4)  # [B, nb, H, 2W, D]
        vw = torch.cat([vb[:, :-1], vb[:, 1:]], dim=2).permute(0, 1, 3, 2, 4)
        bias = (rel.to(self.onehot.dtype) @ self.onehot).view(H, W, 2 * W).float()   # [H, W, 2W]
        a = (qb @ kw.transpose(-1, -2)).float() + bias
        a = a * temp.view(1, 1, H, 1, 1)
        a = torch.where(self.allowed, a, torch.full_like(a, -1e6))
        p = self.safe_softmax(a).to(vw.dtype)
        return (p @ vw).permute(0, 1, 3, 2, 4).reshape(B, n, H * D)

    # -- the recurrent cell (spec §1.7)

    def project(self, r, state):
        pre = f"layers.{r}.state."
        normed = self.rms(state, self.w(pre + "norm.scale")) + self.w(pre + "ids")
        return (self.l2(self.linear(normed, self.w(pre + "k.weight"))), self.linear(normed, self.w(pre + "v.weight")),
                self.l2(self.linear(normed, self.w(pre + "q.weight"))),
                self.l2(self.linear(normed, self.w(pre + "q_cross.weight"))))

    def gate(self, r, name, c, z, g_in):
        pre = f"layers.{r}.state.{name}"
        if self.c.get("gate", "fixed") == "fixed":
            g = torch.sigmoid(self.w(pre + "bias"))
            return c * g + z * (1 - g)
        f = torch.sigmoid(self.linear(g_in, self.w(pre + "forget.weight")) + self.w(pre + "forget.bias") + 1)
        i = torch.sigmoid(self.linear(g_in, self.w(pre + "input.weight")) + self.w(pre + "input.bias") - 1)
        return c * f + z * i

    def step(self, r, state, pr, wk, wv):
        pre = f"layers.{r}.state."
        k, v, q, qc = pr
        h = torch.cat([self.attend(q, k, v, self.w(pre + "temperature")),
                       self.attend(qc, wk, wv, self.w(pre + "temperature_cross"))], dim=-1)
        mode = self.c.get("state_ffn", "skip")
        if mode == "skip":
            return self.gate(r, "gate.", state, self.linear(h, self.w(pre + "o.weight")), h)
        if mode == "single":
            u = F.relu(self.linear(h, self.w(pre + "ffn.w1.weight")))
            return self.gate(r, "gate.", state, torch.tanh(self.linear(u, self.w(pre + "ffn.w2.weight"))), u)
        mid = self.gate(r, "gate.", state, self.linear(h, self.w(pre + "o.weight")), h)
        u = F.relu(self.linear(self.rms(mid, self.w(pre + "ffn_norm.scale")), self.w(pre + "ffn.w1.weight")))
        return self.gate(r, "gate2.", mid, self.linear(u, self.w(pre + "ffn.w2.weight")), u)

    # -- one layer over n = T * W tokens (brt4j.model.Layer)

    def layer(self, i, x, ck, cv, state=None, given=None, reading=None):
        """state: the layer's own state (recurrent: advanced block by block, projections `given` or computed);
        reading: projections of a state to cross-attend without advancing (feedback). Returns (out, k, v, states)."""
        pre = f"layers.{i}."
        B, n, _ = x.shape
        W = self.W
        normed = self.rms(x, self.w(pre + "attn_norm.scale"))
        q = self.l2(self.linear(normed, self.w(pre + "attn.q.weight")))
        k = self.l2(self.linear(normed, self.w(pre + "attn.k.weight")))
        v = self.linear(normed, self.w(pre + "attn.v.weight"))
        keys, values = torch.cat([ck, k], 1), torch.cat([cv, v], 1)
        attn = self.sliding(q, keys, values, self.w(pre + "attn.temperature"), self.w(pre + "attn.rel_bias"))
        states = []
        if state is not None or reading is not None:
            qc = self.l2(self.linear(normed, self.w(pre + "attn.q_cross.weight")))
            crosses = []
            if state is not None:
                cs = state
                states.append(cs)
                for t in range(n // W):
                    pr = given if given is not None else self.project(i, cs)
                    crosses.append(self.attend(qc[:, t * W:(t + 1) * W], pr[0], pr[1],
                                               self.w(pre + "attn.temperature_cross")))
                    cs = self.step(i, cs, pr, keys[:, t * W:t * W + 2 * W], values[:, t * W:t * W + 2 * W])
                    states.append(cs)
            else:
                crosses.append(self.attend(qc, reading[0], reading[1], self.w(pre + "attn.temperature_cross")))
            attn = torch.cat([attn, torch.cat(crosses, 1)], -1)
        y = x + self.linear(attn, self.w(pre + "attn.o.weight"))
        hidden = F.relu(self.linear(self.rms(y, self.w(pre + "ffn_norm.scale")), self.w(pre + "ffn.w1.weight")))
        return y + self.linear(hidden, self.w(pre + "ffn.w2.weight")), k, v, states

    # -- one segment (brt4j.model.BrtModel.forward)

    def empty_memory(self, B, device, dtype=torch.float32):
        z = torch.zeros(B, self.W, self.HD, device=device, dtype=dtype)
        return {"k": [z] * self.L, "v": [z] * self.L,
                "state": {r: torch.zeros(B, self.S, self.d, device=device, dtype=dtype) for r in self.rec}}

    def forward(self, tokens, start, mem):
        """tokens [B, N] int64, start [B] bool. Returns (logits, loss_sum, count, new memory, trace)."""
        B, N = tokens.shape
        W = self.W
        tokens = tokens.remainder(self.V)
        st = start.view(B, 1, 1)
        ck = [torch.where(st, torch.zeros_like(m), m) for m in mem["k"]]
        cv = [torch.where(st, torch.zeros_like(m), m) for m in mem["v"]]
        state = {r: torch.where(st, self.w(f"layers.{r}.state.init").expand(B, -1, -1), mem["state"][r])
                 for r in self.rec}
        x = self.w("embed.weight")[tokens]
        trace = {"states": {}, "hidden": {}}
        last_k, last_v = [None] * self.L, [None] * self.L
        if not self.feedback:
            for i in range(self.L):
                x, k, v, sts = self.layer(i, x, ck[i], cv[i], state=state.get(i))
                last_k[i], last_v[i] = k[:, -W:], v[:, -W:]
                if i in state:
                    state[i] = sts[-1]
                    trace["states"][i] = sts
                trace["hidden"][i] = x
        else:
            outs = []
            hid = {i: [] for i in range(self.L)}
            sts_all = {r: [state[r]] for r in self.rec}
            for t in range(N // W):
                xt = x[:, t * W:(t + 1) * W]
                src = self.project(self.src, state[self.src])
                for i in range(self.L):
                    if i in state:
                        xt, k, v, sts = self.layer(i, xt, ck[i], cv[i], state=state[i],
                                                   given=src if i == self.src else None)
                        state[i] = sts[-1]
                        sts_all[i].append(state[i])
                    else:
                        xt, k, v, _ = self.layer(i, xt, ck[i], cv[i], reading=src)
                    ck[i], cv[i] = k, v
                    hid[i].append(xt)
                outs.append(xt)
            x = torch.cat(outs, 1)
            last_k, last_v = ck, cv
            trace["states"] = sts_all
            trace["hidden"] = {i: torch.cat(hid[i], 1) for i in range(self.L)}
        logits = self.linear(self.rms(x, self.w("final_norm.scale")), self.w("embed.weight")) * self.logit_scale
        targets = torch.cat([tokens[:, 1:], torch.zeros_like(tokens[:, :1])], 1)
        mask = (tokens != 0) & (targets != 0)
        ce = F.cross_entropy(logits.float().reshape(B * N, -1), targets.reshape(-1), reduction="none").view(B, N)
        loss_sum = (ce * mask).sum()
        new_mem = {"k": [k.detach() for k in last_k], "v": [v.detach() for v in last_v],
                   "state": {r: state[r].detach() for r in self.rec}}
        return logits, loss_sum, mask.sum(), new_mem, trace


# ----------------------------------------------------------------------------------------------- check mode


def check(fixture, double=False):
    cfg = json.load(open(os.path.join(fixture, "config.json")))
    dt = torch.float64 if double else torch.float32
    params = {k: v.to(dt) for k, v in read_safetensors(os.path.join(fixture, "model.safetensors")).items()}
    inputs = read_safetensors(os.path.join(fixture, "inputs.safetensors"))
    expected = read_safetensors(os.path.join(fixture, "expected.safetensors"))
    m = Brt(cfg, params)
    mem = None
    ok = True
    worst = {}
    with torch.no_grad():
        for s in (0, 1):
            tok = inputs[f"seg{s}.tokens"].long()
            start = inputs[f"seg{s}.start"].bool()
            if mem is None:
                mem = m.empty_memory(tok.shape[0], tok.device, dt)
            logits, loss_sum, count, mem, trace = m.forward(tok, start, mem)
            exp = expected[f"seg{s}.logits"].to(dt)
            tol = 2e-5 * max(1.0, exp.abs().max().item() / 10)
            diff = (logits - exp).abs().max().item()
            worst[f"seg{s}.logits"] = diff
            ok &= diff <= tol
            loss = (loss_sum / count).item()
            eloss = expected[f"seg{s}.loss"].item()
            worst[f"seg{s}.loss (rel)"] = abs(loss - eloss) / abs(eloss)
            ok &= abs(loss - eloss) <= 2e-5 * abs(eloss)
            ok &= int(count) == int(expected[f"seg{s}.token_count"].item())
            for r in m.rec:
                st = torch.stack(trace["states"][r], 1)
                e = expected[f"seg{s}.states.layers.{r}"].to(dt)
                worst[f"seg{s}.states.{r}"] = (st - e).abs().max().item()
                ok &= worst[f"seg{s}.states.{r}"] <= 2e-5
            for i in range(m.L):
                key = f"seg{s}.xl_cache.layers.{i}.k"
                if key in expected:
                    e = expected[key].to(dt).reshape(mem["k"][i].shape)
                    worst[f"seg{s}.xl_k.{i}"] = (mem["k"][i] - e).abs().max().item()
                    ok &= worst[f"seg{s}.xl_k.{i}"] <= 2e-5
    name = os.path.basename(os.path.normpath(fixture))
    print(f"{'PASS' if ok else 'FAIL'} {name} ({'float64' if double else 'float32'}): "
          + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    return ok


# ----------------------------------------------------------------------------------------------- bench mode


def bench_config(family):
    """GpuBench.config: medium_150M shapes."""
    layers = 13 if family == "Slide:13L" else 12
    window = 2048 if family == "XL:2048" else 512
    return {"vocab_size": 32128, "d_model": 1024, "n_layers": layers, "n_heads": 8, "head_dim": 128, "d_ff": 4096,
            "window": window, "segment": 4096, "n_states": 512,
            "recurrent_layers": [9] if family.startswith("Rec") else [], "gate": "fixed", "state_ffn": "skip",
            "feedback": False, "xl_cache": True, "logit_scale": "inv_sqrt_vocab", "rel_buckets": 32,
            "rel_max_distance": 128, "norm_eps": 1e-6, "dropout": 0.0, "attn_dropout": 0.0}


def init_params(cfg, device):
    """Shapes of design.md's table; values only need to be sane for a throughput run."""
    g = torch.Generator(device="cpu").manual_seed(1)
    V, d, H, D, F_, S = cfg["vocab_size"], cfg["d_model"], cfg["n_heads"], cfg["head_dim"], cfg["d_ff"], cfg["n_states"]
    HD = H * D

    def lin(o, i):
        return torch.randn(o, i, generator=g) / math.sqrt(i)

    p = {"embed.weight": torch.randn(V, d, generator=g), "final_norm.scale": torch.ones(d)}
    for i in range(cfg["n_layers"]):
        pre = f"layers.{i}."
        rec = i in cfg["recurrent_layers"]
        p.update({pre + "attn_norm.scale": torch.ones(d), pre + "ffn_norm.scale": torch.ones(d),
                  pre + "attn.q.weight": lin(HD, d), pre + "attn.k.weight": lin(HD, d), pre + "attn.v.weight": lin(HD, d),
                  pre + "attn.o.weight": lin(d, 2 * HD if rec else HD), pre + "attn.temperature": torch.ones(H),
                  pre + "attn.rel_bias": torch.randn(H, cfg["rel_buckets"], generator=g) * 0.1,
                  pre + "ffn.w1.weight": lin(F_, d), pre + "ffn.w2.weight": lin(d, F_)})
        if rec:
            s = pre + "state."
            p.update({pre + "attn.q_cross.weight": lin(HD, d), pre + "attn.temperature_cross": torch.ones(H),
                      s + "norm.scale": torch.ones(d), s + "ids": torch.randn(S, d, generator=g),
                      s + "init": torch.randn(S, d, generator=g) * 0.1, s + "q.weight": lin(HD, d),
                      s + "q_cross.weight": lin(HD, d), s + "k.weight": lin(HD, d), s + "v.weight": lin(HD, d),
                      s + "temperature": torch.ones(H), s + "temperature_cross": torch.ones(H),
                      s + "o.weight": lin(d, 2 * HD), s + "gate.bias": torch.randn(d, generator=g) * 0.1})
    return {k: torch.nn.Parameter(v.to(device)) for k, v in p.items()}


def wait_at_gate(gate, fam):
    """Parallel compiles (gpu-compare.sh PARALLEL_COMPILE): say this model is compiled, then wait for the go, so the
    timed steps of the processes run one at a time on a quiet GPU while their compilations overlapped."""
    name = fam.replace(":", "-")
    open(os.path.join(gate, "ready-" + name), "w").close()
    while not os.path.exists(os.path.join(gate, "go-" + name)):
        time.sleep(0.2)


def bench(families, steps, warmup, modes, gate=None):
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16 autocast, float32 parameters, AdamW")
    print("| model | mode | params | step ms (median) | tokens/s | model TFLOP/s (6PT) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for fam in families:
        for mode in modes:
            cfg = bench_config(fam)
            params = init_params(cfg, dev)
            nparams = sum(p.numel() for p in params.values())
            model = Brt(cfg, params, bias_dtype=torch.bfloat16)
            opt = torch.optim.AdamW(params.values(), lr=1e-4, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0)

            def loss_fn(tok, start, mem):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    _, loss_sum, count, new_mem, _ = model.forward(tok, start, mem)
                return loss_sum / count.clamp(min=1), new_mem

            fn = torch.compile(loss_fn) if mode == "compile" else loss_fn
            mem = model.empty_memory(1, dev)
            gen = torch.Generator(device="cpu").manual_seed(3)
            times, waited = [], 0.0
            t_start = time.time()
            for s in range(warmup + steps):
                tok = torch.randint(0, cfg["vocab_size"], (1, cfg["segment"]), generator=gen).to(dev)
                start = torch.tensor([s == 0], device=dev)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss, mem = fn(tok, start, mem)
                loss.backward()
                opt.step()
                torch.cuda.synchronize()
                ms = (time.perf_counter() - t0) * 1e3
                if s >= warmup:
                    times.append(ms)
                if gate and s == max(0, warmup - 2):  # compiled (a recompile on the 2nd step included); 1 warm-up after
                    t_gate = time.time()
                    wait_at_gate(gate, fam)
                    waited += time.time() - t_gate
            times.sort()
            med = times[len(times) // 2]
            tokens = cfg["segment"]
            print(f"| {fam} | {mode} | {nparams / 1e6:.1f}M | {med:.1f} | {tokens / (med / 1e3):.0f} | "
                  f"{6 * nparams * tokens / (med / 1e3) / 1e12:.1f} |   (loss {loss.item():.3f}, "
                  f"{time.time() - t_start - waited:.0f} s with warm-up"
                  + (f", {waited:.0f} s waiting at the gate" if gate else "") + ")", flush=True)
            del model, params, opt, fn, mem
            torch.cuda.empty_cache()


def main(argv):
    if len(argv) >= 2 and argv[0] == "check":
        double = "--double" in argv
        ok = all([check(f, double) for f in argv[1:] if not f.startswith("--")])
        return 0 if ok else 1
    if argv and argv[0] == "bench":
        steps, warmup, modes, fams, gate = 5, 3, ["eager", "compile"], [], None
        it = iter(argv[1:])
        for a in it:
            if a == "--steps":
                steps = int(next(it))
            elif a == "--warmup":
                warmup = int(next(it))
            elif a == "--modes":
                modes = next(it).split(",")
            elif a == "--gate":
                gate = next(it)
            else:
                fams.append(a)
        bench(fams or ["Rec:fixed:skip", "Slide:13L", "XL:2048"], steps, warmup, modes, gate)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
