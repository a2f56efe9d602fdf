/*
 * Fused attention (spec §1.3; ReferenceAttention defines it): logit = (q . k + bias) * temperature[h], safe softmax
 * with a phantom logit at -1000, out = sum p * keep * v; lse saved for backward. One work-item per (group, head,
 * query) runs an online softmax over its keys only: the W allowed keys [i, i + W) under a sliding window, every key
 * otherwise. No score matrix is materialized. Backward recomputes the logits: one pass per query (dq, and each
 * (query, key) score gradient of the window for the relative bias), one per key (dk, dv), no atomics.
 * The T5 bucket of each distance comes from a host-computed table (bucketOf[delta], delta in [0, W]) so that the
 * float32 logarithm at bucket edges is Java's exactly.
 * Head dim at most DMAX (the accumulators live in per-thread arrays).
 */
#define DMAX 128

DEVICE float attn_scale(int dropOn, ulong seed, uint thr, float dscale, int W, int h, int i, int j) {
    if (!dropOn) return 1.0f;
    int block = i / W;
    int qi = i - block * W, kj = j - block * W;
    ulong idx = ((ulong) h * W + qi) * (ulong) (2 * W) + (ulong) kj;
    return keep_at(seed, idx, thr) ? dscale : 0.0f;
}

KERNEL void k_attn_fwd(const GLOBAL float* q, const GLOBAL float* k, const GLOBAL float* v, const GLOBAL float* temp,
                       const GLOBAL float* relBias, const GLOBAL int* bucketOf, GLOBAL float* out, GLOBAL float* lse,
                       int G, int Tq, int Tk, int H, int D, int W, int nb, ulong seed, uint thr, float dscale, int dropOn) {
    int idx = GLOBAL_ID0;
    if (idx >= G * H * Tq) return;
    int i = idx % Tq, h = (idx / Tq) % H, g = idx / (Tq * H);
    int hd = H * D;
    long qo = ((long) g * Tq + i) * hd + h * D;
    float t = temp[h];
    int j0 = W > 0 ? i : 0, j1 = W > 0 ? i + W : Tk;
    float acc[DMAX];
    for (int e = 0; e < D; e++) acc[e] = 0.0f;
    float m = -1000.0f, s = 1.0f;                       /* the phantom logit */
    for (int j = j0; j < j1; j++) {
        long ko = ((long) g * Tk + j) * hd + h * D;
        float dot = 0.0f;
        for (int e = 0; e < D; e++) dot += q[qo + e] * k[ko + e];
        float bias = W > 0 ? relBias[h * nb + bucketOf[i + W - j]] : 0.0f;
        float a = (dot + bias) * t;
        if (a > m) {
            float c = expf(m - a);
            s *= c;
            for (int e = 0; e < D; e++) acc[e] *= c;
            m = a;
        }
        float p = expf(a - m);
        s += p;
        float pd = p * attn_scale(dropOn, seed, thr, dscale, W, h, i, j);
        for (int e = 0; e < D; e++) acc[e] += pd * v[ko + e];
    }
    lse[((long) g * H + h) * Tq + i] = m + logf(s);
    float inv = 1.0f / s;
    for (int e = 0; e < D; e++) out[qo + e] = acc[e] * inv;
}

/* Di = dOut_i . out_i (= sum_j p_j dp_j, dropout included). */
KERNEL void k_attn_dot(const GLOBAL float* out, const GLOBAL float* dOut, GLOBAL float* dsum, int G, int Tq, int H, int D) {
    int idx = GLOBAL_ID0;
    if (idx >= G * H * Tq) return;
    int i = idx % Tq, h = (idx / Tq) % H, g = idx / (Tq * H);
    long o = ((long) g * Tq + i) * (H * D) + h * D;
    float s = 0.0f;
    for (int e = 0; e < D; e++) s += out[o + e] * dOut[o + e];
    dsum[idx] = s;
}

/* Per query: dq += sum_j ds_j t k_j; dTempRow = sum_j ds_j raw_j; dsT[., j - i] = ds_j t (sliding only). */
KERNEL void k_attn_bwd_q(const GLOBAL float* q, const GLOBAL float* k, const GLOBAL float* v, const GLOBAL float* temp,
                         const GLOBAL float* relBias, const GLOBAL int* bucketOf, const GLOBAL float* lse,
                         const GLOBAL float* dOut, const GLOBAL float* dsum, GLOBAL float* dq, GLOBAL float* dTempRow,
                         GLOBAL float* dsT, int G, int Tq, int Tk, int H, int D, int W, int nb, ulong seed, uint thr,
                         float dscale, int dropOn) {
    int idx = GLOBAL_ID0;
    if (idx >= G * H * Tq) return;
    int i = idx % Tq, h = (idx / Tq) % H, g = idx / (Tq * H);
    int hd = H * D;
    long qo = ((long) g * Tq + i) * hd + h * D;
    float t = temp[h], l = lse[idx], di = dsum[idx];
    int j0 = W > 0 ? i : 0, j1 = W > 0 ? i + W : Tk;
    float acc[DMAX];
    for (int e = 0; e < D; e++) acc[e] = 0.0f;
    float dT = 0.0f;
    for (int j = j0; j < j1; j++) {
        long ko = ((long) g * Tk + j) * hd + h * D;
        float dot = 0.0f, dov = 0.0f;
        for (int e = 0; e < D; e++) { dot += q[qo + e] * k[ko + e]; dov += dOut[qo + e] * v[ko + e]; }
        float raw = dot + (W > 0 ? relBias[h * nb + bucketOf[i + W - j]] : 0.0f);
        float p = expf(raw * t - l);
        float ds = p * (attn_scale(dropOn, seed, thr, dscale, W, h, i, j) * dov - di);
        for (int e = 0; e < D; e++) acc[e] += ds * k[ko + e];
        dT += ds * raw;
        if (W > 0) dsT[(long) idx * W + (j - i)] = ds * t;
    }
    for (int e = 0; e < D; e++) dq[qo + e] += acc[e] * t;
    dTempRow[idx] = dT;
}

/* Per key: dk += sum_i ds_i t q_i, dv += sum_i p_i keep dOut_i. */
KERNEL void k_attn_bwd_kv(const GLOBAL float* q, const GLOBAL float* k, const GLOBAL float* v, const GLOBAL float* temp,
                          const GLOBAL float* relBias, const GLOBAL int* bucketOf, const GLOBAL float* lse,
                          const GLOBAL float* dOut, const GLOBAL float* dsum, GLOBAL float* dk, GLOBAL float* dv,
                          int G, int Tq, int Tk, int H, int D, int W, int nb, ulong seed, uint thr, float dscale, int dropOn) {
    int idx = GLOBAL_ID0;
    if (idx >= G * H * Tk) return;
    int j = idx % Tk, h = (idx / Tk) % H, g = idx / (Tk * H);
    int hd = H * D;
    long ko = ((long) g * Tk + j) * hd + h * D;
    float t = temp[h];
    int i0 = W > 0 ? (j - W + 1 > 0 ? j - W + 1 : 0) : 0;
    int i1 = W > 0 ? (j + 1 < Tq ? j + 1 : Tq) : Tq;
    float ak[DMAX], av[DMAX];
    for (int e = 0; e < D; e++) { ak[e] = 0.0f; av[e] = 0.0f; }
    for (int i = i0; i < i1; i++) {
        long qo = ((long) g * Tq + i) * hd + h * D;
        long row = ((long) g * H + h) * Tq + i;
        float dot = 0.0f, dov = 0.0f;
        for (int e = 0; e < D; e++) { dot += q[qo + e] * k[ko + e]; dov += dOut[qo + e] * v[ko + e]; }
        float raw = dot + (W > 0 ? relBias[h * nb + bucketOf[i + W - j]] : 0.0f);
        float p = expf(raw * t - lse[row]);
        float keep = attn_scale(dropOn, seed, thr, dscale, W, h, i, j);
        float ds = p * (keep * dov - dsum[row]);
        float pk = p * keep;
        for (int e = 0; e < D; e++) { ak[e] += ds * q[qo + e]; av[e] += pk * dOut[qo + e]; }
    }
    for (int e = 0; e < D; e++) { dk[ko + e] += ak[e] * t; dv[ko + e] += av[e]; }
}

/* dTemp[h] += sum over (g, i) of dTempRow: one work-group per head (one thread per head looped over every row). */
KERNEL void k_attn_dtemp(const GLOBAL float* dTempRow, GLOBAL float* dTemp, int G, int H, int Tq) {
    LOCAL float buf[RED];
    int h = GROUP_ID(0);
    float s = 0.0f;
    for (int t = LOCAL_ID(0); t < G * Tq; t += RED) {
        int g = t / Tq, i = t - g * Tq;
        s += dTempRow[((long) g * H + h) * Tq + i];
    }
    s = group_sum(buf, s);
    if (LOCAL_ID(0) == 0) dTemp[h] += s;
}

/* byOffset[h, o] = sum over (g, i) of dsT[g, h, i, o]: the score gradient per key offset o = j - i. */
KERNEL void k_attn_dbias_offset(const GLOBAL float* dsT, GLOBAL float* byOffset, int G, int H, int Tq, int W) {
    int idx = GLOBAL_ID0;
    if (idx >= H * W) return;
    int o = idx % W, h = idx / W;
    float s = 0.0f;
    for (int g = 0; g < G; g++) for (int i = 0; i < Tq; i++) s += dsT[(((long) g * H + h) * Tq + i) * W + o];
    byOffset[idx] = s;
}

/*
 * dRelBias[h, b] += sum of byOffset[h, o] over offsets whose distance delta = W - o falls in bucket b. One
 * work-group per (h, b), its threads over the offsets (a thread per (h, b) looping over all W offsets was 0.1 ms a
 * call at W = 2048: 256 threads on 132 SMs).
 */
KERNEL void k_attn_dbias(const GLOBAL float* byOffset, const GLOBAL int* bucketOf, GLOBAL float* dRelBias, int H, int W, int nb) {
    LOCAL float buf[RED];
    int idx = GROUP_ID(0);
    int b = idx % nb, h = idx / nb;
    float s = 0.0f;
    for (int o = LOCAL_ID(0); o < W; o += RED) if (bucketOf[W - o] == b) s += byOffset[h * W + o];
    s = group_sum(buf, s);
    if (LOCAL_ID(0) == 0) dRelBias[idx] += s;
}

/*
 * Blocked attention (the fast path, GpuBackend.blockedAttention): the scores of each block come from matrix products
 * (cuBLAS on CUDA, tensor cores in tf32/bf16 mode; k_matmul_ex on OpenCL), these row kernels do the rest.
 * A sliding window of W with Tq a multiple of W is cut into Tq/W blocks: block b's W queries read keys
 * [bW, bW + 2W) (its [previous ; current] window), so the score block is W x 2W and the mask is 1 <= r + W - c <= W.
 * Without a window, each group is one block of Tq x Tk. Score rows are laid out [o][h][r][c], o = g * nb + b.
 */
DEVICE int attn_row_index(int row, int tqb, int H, int nb, int Tq, int W, int* hOut, int* rOut, int* iOut) {
    int r = row % tqb, t = row / tqb;
    int h = t % H, o = t / H;
    int g = W > 0 ? o / nb : o;
    int i = W > 0 ? (o % nb) * W + r : r;
    *hOut = h; *rOut = r; *iOut = i;
    return (g * H + h) * Tq + i;                       /* the (g, h, i) index of lse, dsum, dTempRow */
}

/* Score c of a row: float32, or bf16 where the bf16 products wrote the scores as bf16 (in16). */
DEVICE float attn_score(const GLOBAL float* s, const GLOBAL ushort* s16, int in16, long at) {
    return in16 ? bf16_value(s16[at]) : s[at];
}

/* The logit of score column c of row r of a block: (s + the T5 bias of its distance) * t; -inf where masked. */
DEVICE float attn_logit(float s, int r, int c, int W, float t, const GLOBAL float* relBias, const GLOBAL int* bucketOf,
                        int h, int nbk) {
    if (W == 0) return s * t;
    int d = r + W - c;
    return (d >= 1 && d <= W) ? (s + relBias[h * nbk + bucketOf[d]]) * t : -INFINITY;
}

/*
 * Scores (q . k) in, probabilities (times the dropout keep factor) out; lse saved. One work-group of RED per row.
 * A row of at most ATTN_KEEP * RED scores stays in registers: each logit is computed (a score load, its bias by
 * distance) and exponentiated once. A wider row takes three passes over memory, recomputing the logits in each.
 * In16: the scores are bf16 (in S16). With out16, p goes to P16 as bf16 (what the bf16 product P V reads) instead
 * of back into S.
 */
#define ATTN_KEEP 16
KERNEL void k_attn_softmax(GLOBAL float* S, const GLOBAL ushort* S16, int in16, const GLOBAL float* temp,
                           const GLOBAL float* relBias, const GLOBAL int* bucketOf, GLOBAL float* lse, int tqb, int tkb,
                           int H, int nb, int Tq, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                           GLOBAL ushort* P16, int out16) {
    LOCAL float buf[RED];
    int row = GROUP_ID(0), tid = LOCAL_ID(0);
    int h, r, i;
    int idx = attn_row_index(row, tqb, H, nb, Tq, W, &h, &r, &i);
    int j0 = W > 0 ? i - r : 0;                        /* key index of column 0 */
    long base = (long) row * tkb;
    float t = temp[h];
    float mx = -1000.0f, sum = 0.0f;                   /* the phantom logit */
    if (tkb <= ATTN_KEEP * RED) {
        float e[ATTN_KEEP];
        for (int k = 0; k < ATTN_KEEP; k++) {
            int c = tid + k * RED;
            e[k] = c < tkb ? attn_logit(attn_score(S, S16, in16, base + c), r, c, W, t, relBias, bucketOf, h, nbk) : -INFINITY;
            mx = fmaxf(mx, e[k]);
        }
        mx = group_max(buf, mx);
        for (int k = 0; k < ATTN_KEEP; k++) {
            e[k] = expf(e[k] - mx);                    /* 0 where masked or past the row */
            sum += e[k];
        }
        sum = group_sum(buf, sum) + expf(-1000.0f - mx);
        float inv = 1.0f / sum;
        for (int k = 0; k < ATTN_KEEP; k++) {
            int c = tid + k * RED;
            if (c >= tkb) break;
            float p = e[k] * inv * attn_scale(dropOn, seed, thr, dscale, W, h, i, j0 + c);
            if (out16) P16[base + c] = bf16_bits(p); else S[base + c] = p;
        }
    } else {
        for (int c = tid; c < tkb; c += RED)
            mx = fmaxf(mx, attn_logit(attn_score(S, S16, in16, base + c), r, c, W, t, relBias, bucketOf, h, nbk));
        mx = group_max(buf, mx);
        for (int c = tid; c < tkb; c += RED)
            sum += expf(attn_logit(attn_score(S, S16, in16, base + c), r, c, W, t, relBias, bucketOf, h, nbk) - mx);
        sum = group_sum(buf, sum) + expf(-1000.0f - mx);
        float inv = 1.0f / sum;
        for (int c = tid; c < tkb; c += RED) {
            float a = attn_logit(attn_score(S, S16, in16, base + c), r, c, W, t, relBias, bucketOf, h, nbk);
            float p = expf(a - mx) * inv * attn_scale(dropOn, seed, thr, dscale, W, h, i, j0 + c);
            if (out16) P16[base + c] = bf16_bits(p); else S[base + c] = p;
        }
    }
    if (tid == 0) lse[idx] = mx + logf(sum);
}

/*
 * Backward per score row: S holds q . k (recomputed), dP holds dOut . v. Out: S = p keep (for dv), dP = ds t
 * (for dq and dk, and the relative bias by offset); dTempRow = sum ds raw. Di = out . dOut of the row's query and
 * head, summed here by the work-group (each query and head is one row of one block; k_attn_dot's thread per row
 * read 128 values 4 KiB apart from its neighbours').
 * In16: S and dP are bf16 (S16, dP16: the bf16 products wrote them so) and stay as they were. With out16, p keep
 * and ds t go to P16 and dS16 as bf16 (S is then left as it was: nothing reads it; dP still gets ds t unless in16,
 * for the relative bias, which then reads dS16).
 */
KERNEL void k_attn_bwd_row(GLOBAL float* S, GLOBAL float* dP, const GLOBAL ushort* S16, const GLOBAL ushort* dP16,
                           int in16, const GLOBAL float* temp, const GLOBAL float* relBias,
                           const GLOBAL int* bucketOf, const GLOBAL float* lse, const GLOBAL float* out,
                           const GLOBAL float* dOut, int D, GLOBAL float* dTempRow, int tqb, int tkb, int H, int nb, int Tq,
                           int W, int nbk, ulong seed,
                           uint thr, float dscale, int dropOn, GLOBAL ushort* P16, GLOBAL ushort* dS16, int out16) {
    LOCAL float buf[RED];
    int row = GROUP_ID(0), tid = LOCAL_ID(0);
    int h, r, i;
    int idx = attn_row_index(row, tqb, H, nb, Tq, W, &h, &r, &i);
    int j0 = W > 0 ? i - r : 0;
    long base = (long) row * tkb;
    long qo = ((long) (idx / (H * Tq)) * Tq + i) * (H * D) + (long) h * D;   /* (g, i, h) in out and dOut */
    float di = 0.0f;
    for (int e = tid; e < D; e += RED) di += out[qo + e] * dOut[qo + e];
    di = group_sum(buf, di);
    float t = temp[h], l = lse[idx];
    float dT = 0.0f;
    for (int c = tid; c < tkb; c += RED) {
        float raw = 0.0f, pk = 0.0f, dst = 0.0f;
        int masked = 0;
        if (W > 0) {
            int d = r + W - c;
            if (d < 1 || d > W) masked = 1; else raw = attn_score(S, S16, in16, base + c) + relBias[h * nbk + bucketOf[d]];
        } else {
            raw = attn_score(S, S16, in16, base + c);
        }
        if (!masked) {
            float p = expf(raw * t - l);
            float keep = attn_scale(dropOn, seed, thr, dscale, W, h, i, j0 + c);
            float ds = p * (keep * attn_score(dP, dP16, in16, base + c) - di);
            pk = p * keep;
            dst = ds * t;
            dT += ds * raw;
        }
        if (!in16) dP[base + c] = dst;
        if (out16) { P16[base + c] = bf16_bits(pk); dS16[base + c] = bf16_bits(dst); } else S[base + c] = pk;
    }
    dT = group_sum(buf, dT);
    if (tid == 0) dTempRow[idx] = dT;
}

/*
 * partial[p, h, o] = sum over the p-th chunk of (block, row r) pairs of dSt[block, h, r, r + o] (bf16 dSt16 with in16,
 * k_attn_bwd_row's dS16): the score gradient
 * per key offset o = j - i, in parts (k_colsum adds them up) so that more than H * W threads share the rows.
 */
KERNEL void k_attn_dbias_offset_part(const GLOBAL float* dSt, const GLOBAL ushort* dSt16, int in16, GLOBAL float* partial,
                                     int blocks, int H, int W, int chunk, int parts) {
    int idx = GLOBAL_ID0;
    if (idx >= parts * H * W) return;
    int hw = idx % (H * W), p = idx / (H * W);
    int o = hw % W, h = hw / W;
    int t0 = p * chunk, t1 = t0 + chunk < blocks * W ? t0 + chunk : blocks * W;
    float s = 0.0f;
    for (int t = t0; t < t1; t++) {
        int b = t / W, r = t - b * W;
        s += attn_score(dSt, dSt16, in16, (((long) b * H + h) * W + r) * (2L * W) + r + o);
    }
    partial[idx] = s;
}
