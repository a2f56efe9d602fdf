/*
 * Every op of the Backend seam except matrix products and attention, written once in the C subset that both
 * NVRTC and OpenCL C 1.2 compile (the preludes map KERNEL, GLOBAL, LOCAL, DEVICE, BARRIER and the index words).
 * The meaning of each op is brt4j.backend.ref.ReferenceBackend's; comments name the op.
 * Invariants: no atomics anywhere (every reduction has one owner per output element, so results are
 * deterministic); row kernels run one work-group of exactly RED threads per row; element kernels check their bound.
 * An accumulate flag (0: write, 1: add) lets an op whose target is known to hold zeros skip filling it first.
 */
#define RED 256

DEVICE float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Tree reduction of one value per thread over a work-group of RED threads; every thread gets the sum. */
DEVICE float group_sum(LOCAL_PTR float* buf, float v) {
    int t = LOCAL_ID(0);
    buf[t] = v;
    BARRIER();
    for (int s = RED / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] += buf[t + s];
        BARRIER();
    }
    float r = buf[0];
    BARRIER();
    return r;
}

DEVICE float group_max(LOCAL_PTR float* buf, float v) {
    int t = LOCAL_ID(0);
    buf[t] = v;
    BARRIER();
    for (int s = RED / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] = fmaxf(buf[t], buf[t + s]);
        BARRIER();
    }
    float r = buf[0];
    BARRIER();
    return r;
}

/* CounterRng.keep: SplitMix64's finalizer of seed * golden + index; keep iff the top 24 bits >= thr. */
DEVICE ulong mix64(ulong z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}

DEVICE int keep_at(ulong seed, ulong index, uint thr) {
    return (uint) (mix64(seed * 0x9e3779b97f4a7c15UL + index) >> 40) >= thr;
}

/* float32 -> bfloat16, round to nearest even (NaN kept quiet). */
DEVICE ushort bf16_bits(float x) {
    union { float f; uint u; } cv;
    cv.f = x;
    uint u = cv.u;
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort) ((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort) (u >> 16);
}

/* bfloat16 -> float32 (exact). */
DEVICE float bf16_value(ushort h) {
    union { uint u; float f; } cv;
    cv.u = ((uint) h) << 16;
    return cv.f;
}

/* ------------------------------------------------------------------ elementwise */

KERNEL void k_fill(GLOBAL float* x, int n, float v) {
    int i = GLOBAL_ID0;
    if (i < n) x[i] = v;
}

KERNEL void k_add(const GLOBAL float* a, const GLOBAL float* b, GLOBAL float* o, int n) {
    int i = GLOBAL_ID0;
    if (i < n) o[i] = a[i] + b[i];
}

/* With out16, y's bf16 copy (o16) is written too (bf16 products that will read y: see GpuBackend.keptShadowFor). */
KERNEL void k_axpy(float alpha, const GLOBAL float* x, GLOBAL float* y, int n, int accumulate, GLOBAL ushort* o16, int out16) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float v = accumulate ? y[i] + alpha * x[i] : alpha * x[i];
    y[i] = v;
    if (out16) o16[i] = bf16_bits(v);
}

KERNEL void k_scale(GLOBAL float* x, float alpha, int n) {
    int i = GLOBAL_ID0;
    if (i < n) x[i] *= alpha;
}

KERNEL void k_add_broadcast(const GLOBAL float* x, const GLOBAL float* v, GLOBAL float* o, int n, int vn) {
    int i = GLOBAL_ID0;
    if (i < n) o[i] = x[i] + v[i % vn];
}

/* dv[i] += sum of dx[i + t*vn]: one owner per dv element. */
KERNEL void k_sum_broadcast(const GLOBAL float* dx, GLOBAL float* dv, int n, int vn) {
    int i = GLOBAL_ID0;
    if (i >= vn) return;
    float s = 0.0f;
    for (int t = i; t < n; t += vn) s += dx[t];
    dv[i] += s;
}

/* f: 0 relu, 1 tanh, 2 sigmoid. */
/* With out16, o's bf16 copy (what the next bf16 product reads) is written too: no cast launch afterwards. */
KERNEL void k_act(int f, const GLOBAL float* x, GLOBAL float* o, int n, GLOBAL ushort* o16, int out16) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float v = x[i];
    float y = f == 0 ? fmaxf(v, 0.0f) : f == 1 ? tanhf(v) : sigmoidf_(v);
    o[i] = y;
    if (out16) o16[i] = bf16_bits(y);
}

KERNEL void k_act_back(int f, const GLOBAL float* s, const GLOBAL float* dy, GLOBAL float* dx, int n, int accumulate,
                       GLOBAL ushort* o16, int out16) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float v = s[i];
    float g = f == 0 ? (v > 0.0f ? 1.0f : 0.0f) : f == 1 ? 1.0f - v * v : v * (1.0f - v);
    float d = accumulate ? dx[i] + dy[i] * g : dy[i] * g;
    dx[i] = d;
    if (out16) o16[i] = bf16_bits(d);
}

/* Partial sums (of squares when square != 0) per work-group; k_reduce_final adds them into scalars[slot]. */
KERNEL void k_reduce_partial(const GLOBAL float* x, int n, int square, GLOBAL float* partials) {
    LOCAL float buf[RED];
    float s = 0.0f;
    int stride = NUM_GROUPS(0) * RED;
    for (int i = GROUP_ID(0) * RED + LOCAL_ID(0); i < n; i += stride) {
        float v = x[i];
        s += square ? v * v : v;
    }
    s = group_sum(buf, s);
    if (LOCAL_ID(0) == 0) partials[GROUP_ID(0)] = s;
}

KERNEL void k_reduce_final(const GLOBAL float* partials, int count, GLOBAL float* scalars, int slot) {
    LOCAL float buf[RED];
    float s = 0.0f;
    for (int i = LOCAL_ID(0); i < count; i += RED) s += partials[i];
    s = group_sum(buf, s);
    if (LOCAL_ID(0) == 0) scalars[slot] = s;
}

/* ------------------------------------------------------------------ norms */

KERNEL void k_rmsnorm(const GLOBAL float* x, const GLOBAL float* g, float eps, GLOBAL float* o, GLOBAL float* rstd, int cols,
                      GLOBAL ushort* o16, int out16) {
    LOCAL float buf[RED];
    int r = GROUP_ID(0);
    const GLOBAL float* xr = x + (long) r * cols;
    float s = 0.0f;
    for (int c = LOCAL_ID(0); c < cols; c += RED) s += xr[c] * xr[c];
    s = group_sum(buf, s);
    float inv = 1.0f / sqrtf(s / cols + eps);
    if (LOCAL_ID(0) == 0) rstd[r] = inv;
    for (int c = LOCAL_ID(0); c < cols; c += RED) {
        float y = xr[c] * inv * g[c];
        o[(long) r * cols + c] = y;
        if (out16) o16[(long) r * cols + c] = bf16_bits(y);
    }
}

KERNEL void k_rmsnorm_back(const GLOBAL float* x, const GLOBAL float* g, const GLOBAL float* rstd, const GLOBAL float* dy,
                           GLOBAL float* dx, int cols, int accumulate) {
    LOCAL float buf[RED];
    int r = GROUP_ID(0);
    long o = (long) r * cols;
    float inv = rstd[r];
    float dot = 0.0f;
    for (int c = LOCAL_ID(0); c < cols; c += RED) dot += dy[o + c] * g[c] * x[o + c];
    dot = group_sum(buf, dot);
    float k = inv * inv * dot / cols;
    for (int c = LOCAL_ID(0); c < cols; c += RED) {
        float d = inv * (dy[o + c] * g[c] - x[o + c] * k);
        dx[o + c] = accumulate ? dx[o + c] + d : d;
    }
}

/* dScale[c] += sum_r dy * x * rstd: one owner per column. */
KERNEL void k_rmsnorm_dscale(const GLOBAL float* x, const GLOBAL float* rstd, const GLOBAL float* dy, GLOBAL float* dg,
                             int rows, int cols) {
    int c = GLOBAL_ID0;
    if (c >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += dy[(long) r * cols + c] * x[(long) r * cols + c] * rstd[r];
    dg[c] += s;
}

/* The same column sums split by rows: partial[p, c] over rows [p chunk, (p + 1) chunk). */
KERNEL void k_rmsnorm_dscale_part(const GLOBAL float* x, const GLOBAL float* rstd, const GLOBAL float* dy,
                                  GLOBAL float* partial, int rows, int cols, int chunk, int parts) {
    int idx = GLOBAL_ID0;
    if (idx >= parts * cols) return;
    int c = idx % cols, p = idx / cols;
    int r0 = p * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float s = 0.0f;
    for (int r = r0; r < r1; r++) s += dy[(long) r * cols + c] * x[(long) r * cols + c] * rstd[r];
    partial[idx] = s;
}

/* out[c] (+)= sum over p of partial[p, c]. */
KERNEL void k_colsum(const GLOBAL float* partial, GLOBAL float* out, int parts, int cols, int accumulate) {
    int c = GLOBAL_ID0;
    if (c >= cols) return;
    float s = 0.0f;
    for (int p = 0; p < parts; p++) s += partial[(long) p * cols + c];
    out[c] = accumulate ? out[c] + s : s;
}

/*
 * Per-head L2 norm, one work-group per row of heads * hd. The work-group splits into segments of seg threads (a
 * power of two), one head each, hc heads a pass: a segment reads its head's consecutive values and sums them in
 * log2(seg) steps (seg_sum), so the heads of a row are summed side by side (one group sum per head, one after
 * another, took 8 x 9 barriers a row at 8 heads, half the threads idle at hd = 128).
 */
DEVICE int l2_heads_per_pass(int heads) { return heads < RED ? heads : RED; }

DEVICE int l2_seg(int hc) {
    int seg = 1;
    while (seg * 2 * hc <= RED) seg *= 2;
    return seg;
}

/* The sum of v over the calling thread's segment (threads [t - t % seg, + seg)); every thread of the group calls. */
DEVICE float seg_sum(LOCAL_PTR float* buf, float v, int seg) {
    int t = LOCAL_ID(0);
    buf[t] = v;
    BARRIER();
    for (int s = seg / 2; s > 0; s >>= 1) {
        if (t % seg < s) buf[t] += buf[t + s];
        BARRIER();
    }
    float r = buf[t - t % seg];
    BARRIER();
    return r;
}

KERNEL void k_l2heads(const GLOBAL float* x, GLOBAL float* o, GLOBAL float* rnorm, int heads, int hd, float eps,
                      GLOBAL ushort* o16, int out16) {
    LOCAL float buf[RED];
    int r = GROUP_ID(0), t = LOCAL_ID(0);
    int hc = l2_heads_per_pass(heads), seg = l2_seg(hc), lane = t % seg;
    for (int h0 = 0; h0 < heads; h0 += hc) {
        int h = h0 + t / seg;
        int on = t / seg < hc && h < heads;
        long b = ((long) r * heads + h) * hd;
        float ss = 0.0f;
        if (on) for (int i = lane; i < hd; i += seg) ss += x[b + i] * x[b + i];
        ss = seg_sum(buf, ss, seg);
        if (!on) continue;
        float inv = 1.0f / sqrtf(ss + eps);
        if (lane == 0) rnorm[(long) r * heads + h] = inv;
        for (int i = lane; i < hd; i += seg) {
            float y = x[b + i] * inv;
            o[b + i] = y;
            if (out16) o16[b + i] = bf16_bits(y);
        }
    }
}

KERNEL void k_l2heads_back(const GLOBAL float* y, const GLOBAL float* rnorm, const GLOBAL float* dy, GLOBAL float* dx,
                           int heads, int hd, int accumulate, GLOBAL ushort* o16, int out16) {
    LOCAL float buf[RED];
    int r = GROUP_ID(0), t = LOCAL_ID(0);
    int hc = l2_heads_per_pass(heads), seg = l2_seg(hc), lane = t % seg;
    for (int h0 = 0; h0 < heads; h0 += hc) {
        int h = h0 + t / seg;
        int on = t / seg < hc && h < heads;
        long b = ((long) r * heads + h) * hd;
        float dot = 0.0f;
        if (on) for (int i = lane; i < hd; i += seg) dot += y[b + i] * dy[b + i];
        dot = seg_sum(buf, dot, seg);
        if (!on) continue;
        float rn = rnorm[(long) r * heads + h];
        for (int i = lane; i < hd; i += seg) {
            float d = (dy[b + i] - y[b + i] * dot) * rn;
            if (accumulate) d += dx[b + i];
            dx[b + i] = d;
            if (out16) o16[b + i] = bf16_bits(d);
        }
    }
}

/* ------------------------------------------------------------------ embedding (ids already reduced mod V) */

KERNEL void k_embedding(const GLOBAL float* table, const GLOBAL int* ids, GLOBAL float* o, int n, int cols) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    int r = i / cols, c = i - r * cols;
    o[i] = table[(long) ids[r] * cols + c];
}

/*
 * The rows of each distinct id, grouped on the host: csr = [ids of the n distinct | n + 1 starts | rows, ascending
 * per id]. One owner per (id, column) adds that id's rows in order: repeated ids accumulate without atomics, and
 * every distinct id and column is a thread of its own (one thread per column over all rows was a whole 1.8 ms).
 */
KERNEL void k_embedding_back(const GLOBAL float* dOut, const GLOBAL int* csr, GLOBAL float* dTable, int n, int cols) {
    int idx = GLOBAL_ID0;
    if (idx >= n * cols) return;
    int u = idx / cols, c = idx - u * cols;
    const GLOBAL int* start = csr + n;
    const GLOBAL int* rows = csr + 2 * n + 1;
    float s = 0.0f;
    for (int j = start[u]; j < start[u + 1]; j++) s += dOut[(long) rows[j] * cols + c];
    dTable[(long) csr[u] * cols + c] += s;
}

/* ------------------------------------------------------------------ gates */

KERNEL void k_gate_fixed(const GLOBAL float* c, const GLOBAL float* z, const GLOBAL float* bias, GLOBAL float* o, int n, int cols) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float g = sigmoidf_(bias[i % cols]);
    o[i] = c[i] * g + z[i] * (1.0f - g);
}

KERNEL void k_gate_fixed_back(const GLOBAL float* bias, const GLOBAL float* dOut, GLOBAL float* dc, GLOBAL float* dz, int n, int cols) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float g = sigmoidf_(bias[i % cols]);
    dc[i] += dOut[i] * g;
    dz[i] += dOut[i] * (1.0f - g);
}

/*
 * The fixed gate's bias gradient is a column sum over every state row: partial[p, j] = sum over the rows of part p
 * of dOut (c - z); k_gate_fixed_dbias adds the parts and applies g (1 - g). One thread per column over all rows kept
 * four work-groups busy for 70 us a call at 512 x 1024.
 */
KERNEL void k_gate_fixed_dbias_part(const GLOBAL float* c, const GLOBAL float* z, const GLOBAL float* dOut,
                                    GLOBAL float* partial, int rows, int cols, int chunk, int parts) {
    int idx = GLOBAL_ID0;
    if (idx >= parts * cols) return;
    int j = idx % cols, p = idx / cols;
    int r0 = p * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float s = 0.0f;
    for (int r = r0; r < r1; r++) {
        long i = (long) r * cols + j;
        s += dOut[i] * (c[i] - z[i]);
    }
    partial[idx] = s;
}

KERNEL void k_gate_fixed_dbias(const GLOBAL float* partial, const GLOBAL float* bias, GLOBAL float* dBias, int parts, int cols) {
    int j = GLOBAL_ID0;
    if (j >= cols) return;
    float s = 0.0f;
    for (int p = 0; p < parts; p++) s += partial[(long) p * cols + j];
    float g = sigmoidf_(bias[j]);
    dBias[j] += s * g * (1.0f - g);
}

KERNEL void k_gate_lstm(const GLOBAL float* c, const GLOBAL float* z, const GLOBAL float* f, const GLOBAL float* ip, GLOBAL float* o, int n) {
    int i = GLOBAL_ID0;
    if (i < n) o[i] = c[i] * sigmoidf_(f[i] + 1.0f) + z[i] * sigmoidf_(ip[i] - 1.0f);
}

KERNEL void k_gate_lstm_back(const GLOBAL float* c, const GLOBAL float* z, const GLOBAL float* f, const GLOBAL float* ip,
                             const GLOBAL float* dOut, GLOBAL float* dc, GLOBAL float* dz, GLOBAL float* df, GLOBAL float* di, int n) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float fg = sigmoidf_(f[i] + 1.0f), ig = sigmoidf_(ip[i] - 1.0f), d = dOut[i];
    dc[i] += d * fg;
    dz[i] += d * ig;
    df[i] += d * c[i] * fg * (1.0f - fg);
    di[i] += d * z[i] * ig * (1.0f - ig);
}

/* ------------------------------------------------------------------ dropout */

KERNEL void k_dropout(const GLOBAL float* x, GLOBAL float* o, int n, int cols, int tileRows, ulong seed, uint thr, float scale,
                      int accumulate) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    int r = i / cols, c = i - r * cols;
    ulong idx = (ulong) (tileRows == 0 ? r : r % tileRows) * (ulong) cols + (ulong) c;
    float y = keep_at(seed, idx, thr) ? x[i] * scale : 0.0f;
    o[i] = accumulate ? o[i] + y : y;
}

/* ------------------------------------------------------------------ cross-entropy (tgt[r] < 0: masked row) */

/*
 * Row losses and each row's log-sum-exp (kept for the backward, which then reads the logits once instead of three
 * times: at V = 32128 the logits are the largest tensor of a step). One pass: each thread keeps a running max and a
 * sum scaled to it (the online softmax), and the group combines the pairs.
 */
KERNEL void k_ce(const GLOBAL float* logits, const GLOBAL int* tgt, GLOBAL float* rowLoss, GLOBAL float* lse, int cols) {
    LOCAL float buf[RED];
    int r = GROUP_ID(0);
    const GLOBAL float* l = logits + (long) r * cols;
    float m = -INFINITY, s = 0.0f;
    for (int c = LOCAL_ID(0); c < cols; c += RED) {
        float v = l[c];
        if (v > m) { s = s * expf(m - v) + 1.0f; m = v; } else s += expf(v - m);
    }
    float gm = group_max(buf, m);
    s = group_sum(buf, m == -INFINITY ? 0.0f : s * expf(m - gm));
    if (LOCAL_ID(0) == 0) {
        int t = tgt[r];
        float z = gm + logf(s);
        lse[r] = z;
        rowLoss[r] = t < 0 ? 0.0f : z - l[t];
    }
}

/* dl (+)= gradScale (softmax - onehot) from k_ce's lse; with out16, dl's bf16 copy too (the output head's products read it). */
KERNEL void k_ce_back(const GLOBAL float* logits, const GLOBAL int* tgt, const GLOBAL float* lse, float gradScale, GLOBAL float* dl,
                      int cols, int accumulate, GLOBAL ushort* o16, int out16) {
    int r = GROUP_ID(0);
    int t = tgt[r];
    const GLOBAL float* l = logits + (long) r * cols;
    GLOBAL float* d = dl + (long) r * cols;
    GLOBAL ushort* d16 = o16 + (long) r * cols;
    float z = lse[r], scale = t < 0 ? 0.0f : gradScale;
    for (int c = LOCAL_ID(0); c < cols; c += RED) {
        float g = t < 0 ? 0.0f : scale * expf(l[c] - z) - (c == t ? scale : 0.0f);
        if (accumulate) g += d[c];
        d[c] = g;
        if (out16) d16[c] = bf16_bits(g);
    }
}

/* ------------------------------------------------------------------ rows, columns, batch select */

/* part [G, Tp, C] <-> rows [start, start + Tp) of whole [G, Tw, C]. */
KERNEL void k_row_slice(const GLOBAL float* from, GLOBAL float* to, int n, int tw, int tp, int cols, int start,
                        int intoWhole, int accumulate) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    int per = tp * cols;
    int b = i / per, rem = i - b * per;
    int r = rem / cols, j = rem - r * cols;
    long wi = ((long) b * tw + start + r) * cols + j;
    long src = intoWhole ? (long) i : wi, dst = intoWhole ? wi : (long) i;
    to[dst] = accumulate ? to[dst] + from[src] : from[src];
}

/* part [R, Cp] <-> columns [start, start + Cp) of whole [R, Cw]. */
KERNEL void k_col_slice(const GLOBAL float* from, GLOBAL float* to, int n, int cw, int cp, int start, int intoWhole, int accumulate) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    int r = i / cp, j = i - r * cp;
    long wi = (long) r * cw + start + j;
    long src = intoWhole ? (long) i : wi, dst = intoWhole ? wi : (long) i;
    to[dst] = accumulate ? to[dst] + from[src] : from[src];
}

KERNEL void k_select(const GLOBAL int* take, const GLOBAL float* a, const GLOBAL float* b, GLOBAL float* o, int n, int per) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    int g = i / per;
    o[i] = take[g] ? a[i - g * per] : b[i];
}

KERNEL void k_select_back_a(const GLOBAL int* take, const GLOBAL float* dOut, GLOBAL float* dA, int groups, int per) {
    int i = GLOBAL_ID0;
    if (i >= per) return;
    float s = 0.0f;
    for (int g = 0; g < groups; g++) if (take[g]) s += dOut[(long) g * per + i];
    dA[i] += s;
}

KERNEL void k_select_back_b(const GLOBAL int* take, const GLOBAL float* dOut, GLOBAL float* dB, int n, int per) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    if (!take[i / per]) dB[i] += dOut[i];
}

/* ------------------------------------------------------------------ optimizers */

DEVICE void adamw_at(GLOBAL float* p, const GLOBAL float* g, GLOBAL float* m, GLOBAL float* v, int i, float lr, float b1,
                     float b2, float eps, float wd, float c1, float c2) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float update = (mi / c1) / (sqrtf(vi / c2) + eps);
    p[i] -= lr * (update + wd * p[i]);
}

KERNEL void k_adamw(GLOBAL float* p, const GLOBAL float* g, GLOBAL float* m, GLOBAL float* v, int n, float lr, float b1,
                    float b2, float eps, float wd, float c1, float c2) {
    int i = GLOBAL_ID0;
    if (i < n) adamw_at(p, g, m, v, i, lr, b1, b2, eps, wd, c1, c2);
}

#ifdef BRT_CUDA
/* Every parameter of a step in one launch (CUDA only: OpenCL C 1.2 cannot follow a pointer read from memory).
   table: per tensor six words, the addresses of p, g, m, v, then n (low half) and the weight decay's bits (high
   half), then the address of p's bf16 copy or 0 (written along with p: the next products read it, no cast);
   tensor GROUP_ID(1), its elements strided over the groups of dimension 0. */
KERNEL void k_adamw_multi(const GLOBAL ulong* table, float lr, float b1, float b2, float eps, float c1, float c2) {
    const GLOBAL ulong* e = table + 6L * GROUP_ID(1);
    GLOBAL float* p = (GLOBAL float*) e[0];
    const GLOBAL float* g = (const GLOBAL float*) e[1];
    GLOBAL float* m = (GLOBAL float*) e[2];
    GLOBAL float* v = (GLOBAL float*) e[3];
    int n = (int) (e[4] & 0xffffffffUL);
    float wd = __uint_as_float((uint) (e[4] >> 32));
    GLOBAL ushort* p16 = (GLOBAL ushort*) e[5];
    for (int i = GROUP_ID(0) * LOCAL_SIZE(0) + LOCAL_ID(0); i < n; i += NUM_GROUPS(0) * LOCAL_SIZE(0)) {
        adamw_at(p, g, m, v, i, lr, b1, b2, eps, wd, c1, c2);
        if (p16) p16[i] = bf16_bits(p[i]);
    }
}
#endif

/* Adafactor (ReferenceAdafactor): factored moments per row and per column, one owner each. */
KERNEL void k_af_row(const GLOBAL float* g, GLOBAL float* vRow, int rows, int cols, float decay, float mix, float eps1) {
    int r = GLOBAL_ID0;
    if (r >= rows) return;
    float s = 0.0f;
    for (int c = 0; c < cols; c++) { float x = g[(long) r * cols + c]; s += x * x + eps1; }
    vRow[r] = decay * vRow[r] + mix * s / cols;
}

KERNEL void k_af_col(const GLOBAL float* g, GLOBAL float* vCol, int rows, int cols, float decay, float mix, float eps1) {
    int c = GLOBAL_ID0;
    if (c >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) { float x = g[(long) r * cols + c]; s += x * x + eps1; }
    vCol[c] = decay * vCol[c] + mix * s / rows;
}

/* y = g / sqrt(vRow vCol / mean(normalized)), the mean's sum in scalars[1]. */
KERNEL void k_af_y_factored(const GLOBAL float* g, const GLOBAL float* vRow, const GLOBAL float* vCol, GLOBAL float* y,
                            int rows, int cols, const GLOBAL float* scalars, int normLen) {
    int i = GLOBAL_ID0;
    if (i >= rows * cols) return;
    int r = i / cols, c = i - r * cols;
    float norm = scalars[1] / normLen;
    y[i] = g[i] / sqrtf(vRow[r] * vCol[c] / norm);
}

KERNEL void k_af_v(const GLOBAL float* g, GLOBAL float* v, GLOBAL float* y, int n, float decay, float mix, float eps1) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float gi = g[i];
    float vi = decay * v[i] + mix * (gi * gi + eps1);
    v[i] = vi;
    y[i] = gi / sqrtf(vi);
}

/* scalars[0] = sum p^2 (when useScale), scalars[2] = sum y^2. */
KERNEL void k_af_update(GLOBAL float* p, const GLOBAL float* y, GLOBAL float* m, int n, const GLOBAL float* scalars, float lr,
                        float eps2, int useScale, float clipThreshold, float beta1, int hasM) {
    int i = GLOBAL_ID0;
    if (i >= n) return;
    float scale = useScale ? lr * fmaxf(sqrtf(scalars[0] / n), eps2) : lr;
    float clip = fmaxf(1.0f, sqrtf(scalars[2] / n) / clipThreshold);
    float sub = scale * y[i] / clip;
    if (hasM) {
        float mi = beta1 * m[i] + (1.0f - beta1) * sub;
        m[i] = mi;
        sub = mi;
    }
    p[i] -= sub;
}

/* ------------------------------------------------------------------ bf16 operands for the mixed-precision matmul */

KERNEL void k_to_bf16(const GLOBAL float* x, GLOBAL ushort* o, int n) {
    int i = GLOBAL_ID0;
    if (i < n) o[i] = bf16_bits(x[i]);
}
