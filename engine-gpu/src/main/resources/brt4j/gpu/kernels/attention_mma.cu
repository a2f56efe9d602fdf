/*
 * Flash attention on tensor cores (CUDA only, compute capability 8.0 and later): the same attention as
 * attention.cl (logit = (q . k + bias) * temperature[h], the sliding mask 1 <= i + W - j <= W, safe softmax with a
 * phantom logit at -1000, dropout by attn_scale), but no score block ever reaches memory. Why a device-specific
 * version: the products run on the tensor cores through PTX mma.sync (bf16 operands, float32 accumulators), which
 * OpenCL C has no word for; elsewhere the blocked path (cuBLAS or k_matmul_ex, then row kernels) does the same.
 *
 * Layout as in attention.cl: q, out [G, Tq, H*D], k, v [G, Tk, H*D] (bf16 copies of the operands here), lse and the
 * row sums [G, H, Tq]. Under a window W, query i sees keys [i, i + W) of its group (Tk = Tq + W: the XL cache or the
 * previous block first); without one, every key. Tiles are 64 queries x 64 keys; a CTA is 4 warps, each 16 rows.
 *
 * Fragments of mma.m16n8k16 (PTX ISA, "Matrix Fragments for mma.m16n8k16"): lane = 4 * gr + tig; A (16 x 16, row)
 * regs {(gr, 2tig..), (gr + 8, 2tig..), (gr, 2tig + 8..), (gr + 8, 2tig + 8..)}; B (16 x 8) regs {(k 2tig.., n gr),
 * (k 2tig + 8.., n gr)}; C (16 x 8) {(gr, 2tig), (gr, 2tig + 1), (gr + 8, 2tig), (gr + 8, 2tig + 1)}. A C tile pair
 * (16 x 16) is therefore already the A fragment of the next product (P V, dS K): no shuffle between the products.
 *
 * Backward (no atomics, so the sums come out the same on every run): k_flash_bwd_q per query tile (Di, dq, the
 * temperature's per-row sum, the relative bias's per-offset sums), then k_flash_bwd_kv per key tile (dk, dv); each
 * recomputes the probabilities from lse.
 */
#if __CUDA_ARCH__ >= 800

#define FT 64                 /* queries or keys per tile */
#define FPAD 136              /* smem row stride in bf16: 128 + 8, so the 8 rows of a fragment fall in 8 banks */

DEVICE uint f_ld32(const ushort* p) { return *(const uint*) p; }

/*
 * B fragments from a smem tile (row stride FPAD) by ldmatrix: four 8 x 8 matrices in one instruction, lane L giving
 * the address of row L % 8 of matrix L / 8, and each lane receiving its fragment elements of all four.
 * f_bfrag_nk: the tile is stored [n][k] (k, the product's inner dimension, along the row: K for Q K^T): b0, b1 of
 * k-step k0 and b0, b1 of k-step k0 + 16, for the 8 columns n0. f_bfrag_kn: stored [k][n] (V for P V), read
 * transposed: b0, b1 of n-tile n0 and b0, b1 of n-tile n0 + 8, for the k-step k0.
 */
DEVICE void f_bfrag_nk(uint* b, const ushort* tile, int n0, int k0, int lane) {
    unsigned a = (unsigned) __cvta_generic_to_shared(tile + (n0 + (lane & 7)) * FPAD + k0 + (lane >> 3) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
}

DEVICE void f_bfrag_kn(uint* b, const ushort* tile, int k0, int n0, int lane) {
    unsigned a = (unsigned) __cvta_generic_to_shared(tile + (k0 + ((lane >> 3) & 1) * 8 + (lane & 7)) * FPAD + n0 + (lane >> 4) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
}

/* Two float32 to bf16 (round to nearest even) in one instruction; a lands in the upper half (PTX cvt). */
DEVICE uint f_pack(float lo, float hi) {
    uint d;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}

DEVICE void f_mma(float* c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/* The A fragment of rows [r0, r0 + 16) x columns [c0, c0 + 16) of a row-major bf16 matrix (ld in elements). */
DEVICE void f_afrag(const ushort* m, long ld, int r0, int c0, int gr, int tig, uint* a) {
    const ushort* p = m + (long) (r0 + gr) * ld + c0 + 2 * tig;
    a[0] = f_ld32(p);
    a[1] = f_ld32(p + 8 * ld);
    a[2] = f_ld32(p + 8);
    a[3] = f_ld32(p + 8 * ld + 8);
}

/* The A fragment of rows [r0, r0 + 16) x columns [k0, k0 + 16) of a smem tile (stride FPAD), by ldmatrix. */
DEVICE void f_afrag_s(uint* a, const ushort* tile, int r0, int k0, int lane) {
    unsigned ad = (unsigned) __cvta_generic_to_shared(tile + (r0 + ((lane >> 3) & 1) * 8 + (lane & 7)) * FPAD + k0 + (lane >> 4) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(ad));
}

/*
 * The backward kernels keep four 64-row tiles, the bias table and two rows of row statistics in dynamic shared
 * memory (more than the 48 KiB of static): CudaBackend launches them with its FLASH_BWD_SMEM bytes (79 KiB), and
 * each kernel checks that it got what its layout needs.
 */
extern __shared__ __align__(16) unsigned char f_smem[];

DEVICE void f_check_smem(unsigned need) {
    unsigned have;
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(have));
    if (have < need) __trap();
}

/* Zeroes N accumulator tiles (16 x 8 each). */
template <int N>
DEVICE void f_zero(float (*c)[4]) {
    #pragma unroll
    for (int n = 0; n < N; n++) c[n][0] = c[n][1] = c[n][2] = c[n][3] = 0.0f;
}

/*
 * c[n] += A B^T over k = [0, D) for N n-tiles: A's 16 rows from row ar of smem tile at (stored [row][k]), B's
 * columns n0 + 8n from smem tile bt stored [n][k] (Q K^T, dO V^T and their transposes).
 */
template <int D, int N>
DEVICE void f_mma_nk(float (*c)[4], const ushort* at, int ar, const ushort* bt, int n0, int lane) {
    #pragma unroll
    for (int ks = 0; ks < D / 16; ks += 2) {
        uint a[4], a2[4];
        f_afrag_s(a, at, ar, ks * 16, lane);
        f_afrag_s(a2, at, ar, ks * 16 + 16, lane);
        #pragma unroll
        for (int n = 0; n < N; n++) {
            uint b[4];
            f_bfrag_nk(b, bt, n0 + n * 8, ks * 16, lane);
            f_mma(c[n], a[0], a[1], a[2], a[3], b[0], b[1]);
            f_mma(c[n], a2[0], a2[1], a2[2], a2[3], b[2], b[3]);
        }
    }
}

/*
 * c[n] += P B over the 16 K rows of tile pairs (p[2kk], p[2kk + 1]) for kk < K, all D / 8 n-tiles: P is a warp's
 * score tiles in C layout, which is the A layout (rounded to bf16 here); B comes from smem tile bt stored [k][n],
 * rows k0 + 16kk (P V, dS K, P^T dO, dS^T Q).
 */
template <int D, int K>
DEVICE void f_mma_kn(float (*c)[4], float (*p)[4], const ushort* bt, int k0, int lane) {
    #pragma unroll
    for (int kk = 0; kk < K; kk++) {
        uint a0 = f_pack(p[2 * kk][0], p[2 * kk][1]), a1 = f_pack(p[2 * kk][2], p[2 * kk][3]);
        uint a2 = f_pack(p[2 * kk + 1][0], p[2 * kk + 1][1]), a3 = f_pack(p[2 * kk + 1][2], p[2 * kk + 1][3]);
        #pragma unroll
        for (int n = 0; n < D / 8; n += 2) {
            uint b[4];
            f_bfrag_kn(b, bt, k0 + kk * 16, n * 8, lane);
            f_mma(c[n], a0, a1, a2, a3, b[0], b[1]);
            f_mma(c[n + 1], a0, a1, a2, a3, b[2], b[3]);
        }
    }
}

/*
 * Starts copying 64 rows of D bf16 (row stride ld) into a smem tile of stride FPAD, 16 bytes a thread at a time,
 * with cp.async (no registers; the copy runs while the warps compute) and closes the copy group. A thread waits
 * for its groups with f_wait, then a barrier makes every thread's part visible. Each tile is loaded while the
 * other operand's products run (one buffer per operand): a kernel waits for all groups but the newest (f_wait1)
 * before the operand that group did not bring.
 */
DEVICE void f_load_tile(ushort* dst, const ushort* src, long ld, int D) {
    int per = D / 8;
    for (int x = threadIdx.x; x < FT * per; x += blockDim.x) {
        int r = x / per, c = (x - r * per) * 8;
        unsigned a = (unsigned) __cvta_generic_to_shared(dst + r * FPAD + c);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(a), "l"(src + (long) r * ld + c));
    }
    asm volatile("cp.async.commit_group;");
}

/* An empty copy group, so that the groups in flight keep their count when there is no next tile. */
DEVICE void f_no_load() { asm volatile("cp.async.commit_group;"); }

/* Waits until at most the newest copy group is still in flight (1) or none (0), then a barrier. */
DEVICE void f_wait1() { asm volatile("cp.async.wait_group 1;" ::: "memory"); __syncthreads(); }
DEVICE void f_wait0() { asm volatile("cp.async.wait_group 0;" ::: "memory"); __syncthreads(); }

#define FWMAX 2048            /* the largest window: the CTA keeps its head's bias by distance in smem */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

/*
 * The CTA's table of T5 biases by distance d in [1, W] (times scale), read once per element from smem instead of
 * two dependent loads (bucket, then bias) from memory.
 */
DEVICE void f_bias_table(float* biasS, const float* relBias, const int* bucketOf, int h, int nbk, int W, float scale) {
    for (int d = threadIdx.x; d <= W; d += blockDim.x) biasS[d] = d == 0 ? 0.0f : relBias[h * nbk + bucketOf[d]] * scale;
}

/*
 * The bias of key j for query i, or -INFINITY where the window masks it (1 <= i + W - j <= W). A tile that lies
 * inside every row's window (not an edge) needs no test.
 */
DEVICE float f_bias_at(const float* biasS, int i, int j, int W, int edge) {
    if (W == 0) return 0.0f;
    int d = i + W - j;
    if (edge && (d < 1 || d > W)) return -INFINITY;
    return biasS[d];
}

/* Whether key tile j0 is an edge of query tile i0's band (its first or last tile), where the mask applies. */
DEVICE int f_edge(int i0, int j0, int W) { return W > 0 && (j0 < i0 + FT || j0 > i0 + W - FT); }

/* The first and one-past-last key tile a query tile [i0, i0 + FT) needs. */
DEVICE int f_key_begin(int i0, int W) { return W == 0 ? 0 : i0; }
DEVICE int f_key_end(int i0, int W, int Tk) { return W == 0 ? Tk : i0 + W + FT; }

/*
 * Forward. Grid (G * Tq / 64, H), 128 threads. out (float32) and lse are overwritten.
 */
template <int D>
DEVICE void flash_fwd(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL float* temp,
                        const GLOBAL float* relBias, const GLOBAL int* bucketOf, GLOBAL float* out, GLOBAL float* lse,
                        int Tq, int Tk, int H, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn, ushort* Ks, ushort* Vs, float* biasS) {
    int tiles = Tq / FT, g = blockIdx.x / tiles, i0 = (blockIdx.x - g * tiles) * FT, h = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gr = lane >> 2, tig = lane & 3;
    long hd = (long) H * D;
    const ushort* qb = q + (long) g * Tq * hd + h * D;
    const ushort* kb = k + (long) g * Tk * hd + h * D;
    const ushort* vb = v + (long) g * Tk * hd + h * D;
    int rw = i0 + warp * FT / 4;                       /* the warp's first query */
    int row0 = rw + gr, row1 = row0 + 8;
    const int ksteps = D / 16, ntd = D / 8;
    float tl = temp[h] * LOG2E;                         /* logits in log2 units: exp2f is one instruction */
    if (W > 0) f_bias_table(biasS, relBias, bucketOf, h, nbk, W, tl);
    uint qa[D / 16][4];
    for (int s = 0; s < ksteps; s++) f_afrag(qb, hd, rw, s * 16, gr, tig, qa[s]);
    float o[D / 8][4];
    f_zero<D / 8>(o);
    /* the phantom logit: m = -1000 and one exp(0) in the sum, counted once per row (lane tig 0) */
    float m0 = -1000.0f * LOG2E, m1 = m0, l0 = tig == 0 ? 1.0f : 0.0f, l1 = l0;
    int jBegin = f_key_begin(i0, W), jEnd = f_key_end(i0, W, Tk);
    f_load_tile(Ks, kb + (long) jBegin * hd, hd, D);
    f_load_tile(Vs, vb + (long) jBegin * hd, hd, D);
    for (int j0 = jBegin; j0 < jEnd; j0 += FT) {
        int edge = f_edge(i0, j0, W), more = j0 + FT < jEnd;
        f_wait1();                                      /* this tile's K (its V may still be coming) */
        float s[FT / 8][4];
        #pragma unroll
        for (int n = 0; n < FT / 8; n++) {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
            #pragma unroll
            for (int ks = 0; ks < ksteps; ks += 2) {
                uint b[4];
                f_bfrag_nk(b, Ks, n * 8, ks * 16, lane);
                f_mma(s[n], qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3], b[0], b[1]);
                f_mma(s[n], qa[ks + 1][0], qa[ks + 1][1], qa[ks + 1][2], qa[ks + 1][3], b[2], b[3]);
            }
        }
        __syncthreads();                                /* every warp is done with Ks: the next K comes */
        if (more) f_load_tile(Ks, kb + (long) (j0 + FT) * hd, hd, D); else f_no_load();
        float mx0 = -INFINITY, mx1 = -INFINITY;
        #pragma unroll
        for (int n = 0; n < FT / 8; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = e < 2 ? row0 : row1, j = j0 + n * 8 + 2 * tig + (e & 1);
                float x = fmaf(s[n][e], tl, f_bias_at(biasS, i, j, W, edge));
                s[n][e] = x;
                if (e < 2) mx0 = fmaxf(mx0, x); else mx1 = fmaxf(mx1, x);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1)); mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1)); mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
        float c0 = exp2f(m0 - n0), c1 = exp2f(m1 - n1);
        m0 = n0; m1 = n1; l0 *= c0; l1 *= c1;
        #pragma unroll
        for (int n = 0; n < ntd; n++) { o[n][0] *= c0; o[n][1] *= c0; o[n][2] *= c1; o[n][3] *= c1; }
        #pragma unroll
        for (int n = 0; n < FT / 8; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = e < 2 ? row0 : row1, j = j0 + n * 8 + 2 * tig + (e & 1);
                float p = exp2f(s[n][e] - (e < 2 ? m0 : m1));      /* masked: exp2(-inf) = 0 */
                if (e < 2) l0 += p; else l1 += p;
                s[n][e] = dropOn ? p * attn_scale(dropOn, seed, thr, dscale, W, h, i, j) : p;
            }
        }
        f_wait1();                                      /* this tile's V (the next K may still be coming) */
        f_mma_kn<D, FT / 16>(o, s, Vs, 0, lane);
        __syncthreads();                                /* every warp is done with Vs: the next V comes */
        if (more) f_load_tile(Vs, vb + (long) (j0 + FT) * hd, hd, D); else f_no_load();
    }
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1); l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1); l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
    float* ob = out + (long) g * Tq * hd + h * D;
    #pragma unroll
    for (int n = 0; n < ntd; n++) {
        int c = n * 8 + 2 * tig;
        ob[(long) row0 * hd + c] = o[n][0] * inv0; ob[(long) row0 * hd + c + 1] = o[n][1] * inv0;
        ob[(long) row1 * hd + c] = o[n][2] * inv1; ob[(long) row1 * hd + c + 1] = o[n][3] * inv1;
    }
    if (tig == 0) {
        long lr = ((long) g * H + h) * Tq;
        lse[lr + row0] = m0 * LN2 + logf(l0);
        lse[lr + row1] = m1 * LN2 + logf(l1);
    }
}

/*
 * Backward, per query tile. Grid (G * Tq / 64, H), 128 threads. Writes Di = out . dOut (dsum, for k_flash_bwd_kv),
 * dq (+= unless setDq), dTempRow (the temperature's gradient by row, summed by k_attn_dtemp) and, under a window,
 * partial[tile, h, o] = this tile's score gradient summed by key offset o = j - i in [0, W) (summed over tiles by
 * k_colsum, then by bucket in k_attn_dbias). The offsets are summed in a fixed order: the CTA writes its 64 x 64
 * score gradients to smem and thread e sums diagonal e; a tile whose distances all fall in W's bucket (>= farFrom,
 * GpuBackend.farFrom) is summed at once into offset 0 instead.
 */
template <int D>
DEVICE void flash_bwd_q(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                          const GLOBAL float* out, const GLOBAL float* dOut, const GLOBAL float* temp,
                          const GLOBAL float* relBias, const GLOBAL int* bucketOf, const GLOBAL float* lse,
                          GLOBAL float* dsum, GLOBAL float* dq, GLOBAL float* dTempRow, GLOBAL float* partial,
                          int Tq, int Tk, int H, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                          int setDq, int farFrom, ushort* Ks, ushort* Vs, ushort* Qt, ushort* Dt, float* biasS) {
    int tiles = Tq / FT, g = blockIdx.x / tiles, i0 = (blockIdx.x - g * tiles) * FT, h = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gr = lane >> 2, tig = lane & 3;
    long hd = (long) H * D;
    long qoff = (long) g * Tq * hd + h * D;
    const ushort* qb = q + qoff;
    const ushort* db = dO16 + qoff;
    const ushort* kb = k + (long) g * Tk * hd + h * D;
    const ushort* vb = v + (long) g * Tk * hd + h * D;
    int rw = i0 + warp * FT / 4, row0 = rw + gr, row1 = row0 + 8;
    const int ntd = D / 8;
    float t = temp[h], tl = t * LOG2E;
    if (W > 0) f_bias_table(biasS, relBias, bucketOf, h, nbk, W, 1.0f);
    long rowBase = ((long) g * H + h) * Tq;
    /* Di = out . dOut of rows row0 and row1, over this lane's columns, then summed over the row's 4 lanes */
    float di0 = 0.0f, di1 = 0.0f;
    #pragma unroll
    for (int n = 0; n < ntd; n++) {
        int c = n * 8 + 2 * tig;
        const float* o0 = out + qoff + (long) row0 * hd + c; const float* d0 = dOut + qoff + (long) row0 * hd + c;
        const float* o1 = out + qoff + (long) row1 * hd + c; const float* d1 = dOut + qoff + (long) row1 * hd + c;
        di0 += o0[0] * d0[0] + o0[1] * d0[1];
        di1 += o1[0] * d1[0] + o1[1] * d1[1];
    }
    di0 += __shfl_xor_sync(0xffffffffu, di0, 1); di0 += __shfl_xor_sync(0xffffffffu, di0, 2);
    di1 += __shfl_xor_sync(0xffffffffu, di1, 1); di1 += __shfl_xor_sync(0xffffffffu, di1, 2);
    float ls0 = lse[rowBase + row0] * LOG2E, ls1 = lse[rowBase + row1] * LOG2E;
    if (tig == 0) { dsum[rowBase + row0] = di0; dsum[rowBase + row1] = di1; }
    float* part = W > 0 ? partial + ((long) blockIdx.x * H + h) * W : partial;
    if (W > 0) for (int x = threadIdx.x; x < W; x += blockDim.x) part[x] = 0.0f;
    float acc[D / 8][4];
    f_zero<D / 8>(acc);
    float dT0 = 0.0f, dT1 = 0.0f, farSum = 0.0f;
    /* per tile: dP = dO V^T, then S = Q K^T, dS, dQ += dS K; V's next tile loads during S, K's during the next dP */
    int jBegin = f_key_begin(i0, W), jEnd = f_key_end(i0, W, Tk);
    f_load_tile(Qt, qb + (long) i0 * hd, hd, D);       /* the CTA's queries and their dO: A operands throughout */
    f_load_tile(Dt, db + (long) i0 * hd, hd, D);
    f_load_tile(Vs, vb + (long) jBegin * hd, hd, D);
    f_load_tile(Ks, kb + (long) jBegin * hd, hd, D);
    for (int j0 = jBegin; j0 < jEnd; j0 += FT) {
        int edge = f_edge(i0, j0, W), more = j0 + FT < jEnd;
        float s[FT / 8][4], dp[FT / 8][4];
        f_zero<FT / 8>(s);
        f_zero<FT / 8>(dp);
        f_wait1();                                      /* this tile's V (its K may still be coming) */
        f_mma_nk<D, FT / 8>(dp, Dt, warp * FT / 4, Vs, 0, lane);
        __syncthreads();                                /* every warp is done with Vs: the next V comes */
        if (more) f_load_tile(Vs, vb + (long) (j0 + FT) * hd, hd, D); else f_no_load();
        f_wait1();                                      /* this tile's K */
        f_mma_nk<D, FT / 8>(s, Qt, warp * FT / 4, Ks, 0, lane);
        /* s becomes the score gradient times t (the gradient of the raw score q.k + bias) */
        #pragma unroll
        for (int n = 0; n < FT / 8; n++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = e < 2 ? row0 : row1, j = j0 + n * 8 + 2 * tig + (e & 1);
                float ds = 0.0f, b = f_bias_at(biasS, i, j, W, edge);
                if (b != -INFINITY) {
                    float raw = s[n][e] + b;
                    float p = exp2f(raw * tl - (e < 2 ? ls0 : ls1));
                    float keep = attn_scale(dropOn, seed, thr, dscale, W, h, i, j);
                    ds = p * (keep * dp[n][e] - (e < 2 ? di0 : di1));
                    if (e < 2) dT0 += ds * raw; else dT1 += ds * raw;
                }
                s[n][e] = ds * t;
            }
        }
        f_mma_kn<D, FT / 16>(acc, s, Ks, 0, lane);
        if (W > 0 && i0 - j0 + W - (FT - 1) >= farFrom) {
            /* every distance of the tile is in the last bucket: one sum, no diagonals */
            #pragma unroll
            for (int n = 0; n < FT / 8; n++) farSum += (s[n][0] + s[n][1]) + (s[n][2] + s[n][3]);
        } else if (W > 0) {
            float* dsTile = (float*) Ks;                 /* 64 x 65 floats fit in Ks once every warp's dQ is done */
            __syncthreads();
            #pragma unroll
            for (int n = 0; n < FT / 8; n++) {
                int c = n * 8 + 2 * tig, r = warp * FT / 4 + gr;
                dsTile[r * (FT + 1) + c] = s[n][0]; dsTile[r * (FT + 1) + c + 1] = s[n][1];
                dsTile[(r + 8) * (FT + 1) + c] = s[n][2]; dsTile[(r + 8) * (FT + 1) + c + 1] = s[n][3];
            }
            __syncthreads();
            int e = threadIdx.x;                         /* diagonal c - r = e - (FT - 1) */
            int off = j0 - i0 + e - (FT - 1);            /* key offset j - i of the diagonal */
            if (e < 2 * FT - 1 && off >= 0 && off < W) {
                int r0 = e < FT - 1 ? FT - 1 - e : 0, r1 = e < FT ? FT : 2 * FT - 1 - e;
                float sum = 0.0f;
                for (int r = r0; r < r1; r++) sum += dsTile[r * (FT + 1) + r + e - (FT - 1)];
                part[off] += sum;
            }
        }
        __syncthreads();                                /* every warp is done with Ks: the next K comes */
        if (more) f_load_tile(Ks, kb + (long) (j0 + FT) * hd, hd, D); else f_no_load();
    }
    if (W > 0) {                                        /* the far tiles' sum goes to offset 0 (distance W) */
        for (int x = 16; x > 0; x >>= 1) farSum += __shfl_xor_sync(0xffffffffu, farSum, x);
        float* red = (float*) Ks;
        if (lane == 0) red[warp] = farSum;
        __syncthreads();
        if (threadIdx.x == 0) part[0] += (red[0] + red[1]) + (red[2] + red[3]);
    }
    dT0 += __shfl_xor_sync(0xffffffffu, dT0, 1); dT0 += __shfl_xor_sync(0xffffffffu, dT0, 2);
    dT1 += __shfl_xor_sync(0xffffffffu, dT1, 1); dT1 += __shfl_xor_sync(0xffffffffu, dT1, 2);
    if (tig == 0) { dTempRow[rowBase + row0] = dT0; dTempRow[rowBase + row1] = dT1; }
    float* qg = dq + qoff;
    #pragma unroll
    for (int n = 0; n < ntd; n++) {
        int c = n * 8 + 2 * tig;
        float* p0 = qg + (long) row0 * hd + c;
        float* p1 = qg + (long) row1 * hd + c;
        if (setDq) { p0[0] = acc[n][0]; p0[1] = acc[n][1]; p1[0] = acc[n][2]; p1[1] = acc[n][3]; }
        else { p0[0] += acc[n][0]; p0[1] += acc[n][1]; p1[0] += acc[n][2]; p1[1] += acc[n][3]; }
    }
}

/*
 * Backward, per key tile. Grid (G * Tk / 64, H), 128 threads; each warp 16 keys. dk += sum_i dS_ij t q_i and
 * dv += sum_i p_ij keep_ij dOut_i over every query that sees the key (one CTA holds all of a key's queries, so the
 * overlapping windows of neighbouring blocks need no second round). setKv: overwrite instead of adding.
 */
template <int D>
DEVICE void flash_bwd_kv(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                           const GLOBAL float* temp, const GLOBAL float* relBias, const GLOBAL int* bucketOf,
                           const GLOBAL float* lse, const GLOBAL float* dsum, GLOBAL float* dk, GLOBAL float* dv,
                           int Tq, int Tk, int H, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                           int setDk, int setDv, ushort* Qs, ushort* Ds, ushort* Kt, ushort* Vt, float* lseS, float* diS,
                           float* biasS) {
    int tiles = Tk / FT, g = blockIdx.x / tiles, j0 = (blockIdx.x - g * tiles) * FT, h = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gr = lane >> 2, tig = lane & 3;
    long hd = (long) H * D;
    long qoff = (long) g * Tq * hd + h * D, koff = (long) g * Tk * hd + h * D;
    const ushort* kb = k + koff;
    const ushort* vb = v + koff;
    int rw = j0 + warp * FT / 4, key0 = rw + gr, key1 = key0 + 8;
    const int ntd = D / 8;
    float t = temp[h], tl = t * LOG2E;
    if (W > 0) f_bias_table(biasS, relBias, bucketOf, h, nbk, W, 1.0f);
    long rowBase = ((long) g * H + h) * Tq;
    float ak[D / 8][4], av[D / 8][4];
    f_zero<D / 8>(ak);
    f_zero<D / 8>(av);
    /* the query tiles that see keys [j0, j0 + 64): queries [j0 - W + 1, j0 + 64) under a window */
    int iBegin = W == 0 ? 0 : (j0 - W > 0 ? j0 - W : 0);
    int iEnd = W == 0 ? Tq : (j0 + FT < Tq ? j0 + FT : Tq);
    /*
     * Per query tile: dP^T = V dO^T, S^T = K Q^T, then dv += P^T dO and dk += dS^T Q. dO's next tile loads during
     * dk and the next dP^T, q's during the next dP^T; lse and Di of a tile sit in one of two smem rows by parity.
     */
    f_load_tile(Kt, kb + (long) j0 * hd, hd, D);       /* the CTA's keys and values: A operands throughout */
    f_load_tile(Vt, vb + (long) j0 * hd, hd, D);
    if (iBegin < iEnd) {
        f_load_tile(Ds, dO16 + qoff + (long) iBegin * hd, hd, D);
        f_load_tile(Qs, q + qoff + (long) iBegin * hd, hd, D);
        if (threadIdx.x < FT) { lseS[threadIdx.x] = lse[rowBase + iBegin + threadIdx.x] * LOG2E; diS[threadIdx.x] = dsum[rowBase + iBegin + threadIdx.x]; }
    }
    for (int i0 = iBegin; i0 < iEnd; i0 += FT) {
        int edge = f_edge(i0, j0, W), more = i0 + FT < iEnd, par = ((i0 - iBegin) / FT & 1) * FT;
        /* the tile's 64 queries in two halves of 32: half the score registers, so the accumulators fit unspilled */
        #pragma unroll 1
        for (int half = 0; half < 2; half++) {
            const int q0 = half * FT / 2;               /* the half's first query column */
            float st[FT / 16][4], dpt[FT / 16][4];      /* transposed: rows are keys, columns queries */
            f_zero<FT / 16>(st);
            f_zero<FT / 16>(dpt);
            if (half == 0) f_wait1();                   /* this tile's dO (its q may still be coming) */
            f_mma_nk<D, FT / 16>(dpt, Vt, warp * FT / 4, Ds, q0, lane);
            if (half == 0) f_wait0();                   /* this tile's q */
            f_mma_nk<D, FT / 16>(st, Kt, warp * FT / 4, Qs, q0, lane);
            /* st becomes p * keep (for dv), dpt the score gradient times t (for dk) */
            #pragma unroll
            for (int n = 0; n < FT / 16; n++) {
                #pragma unroll
                for (int e = 0; e < 4; e++) {
                    int j = e < 2 ? key0 : key1, c = q0 + n * 8 + 2 * tig + (e & 1), i = i0 + c;
                    float pk = 0.0f, ds = 0.0f, b = f_bias_at(biasS, i, j, W, edge);
                    if (b != -INFINITY) {
                        float raw = st[n][e] + b;
                        float p = exp2f(raw * tl - lseS[par + c]);
                        float keep = attn_scale(dropOn, seed, thr, dscale, W, h, i, j);
                        pk = p * keep;
                        ds = p * (keep * dpt[n][e] - diS[par + c]) * t;
                    }
                    st[n][e] = pk;
                    dpt[n][e] = ds;
                }
            }
            f_mma_kn<D, FT / 32>(av, st, Ds, q0, lane);
            if (half == 1) {
                __syncthreads();                        /* every warp is done with Ds: the next dO comes */
                if (more) f_load_tile(Ds, dO16 + qoff + (long) (i0 + FT) * hd, hd, D); else f_no_load();
            }
            f_mma_kn<D, FT / 32>(ak, dpt, Qs, q0, lane);
        }
        __syncthreads();                                /* every warp is done with Qs: the next q comes */
        if (more) {
            f_load_tile(Qs, q + qoff + (long) (i0 + FT) * hd, hd, D);
            int nx = FT - par;                           /* the other parity's row */
            if (threadIdx.x < FT) { lseS[nx + threadIdx.x] = lse[rowBase + i0 + FT + threadIdx.x] * LOG2E; diS[nx + threadIdx.x] = dsum[rowBase + i0 + FT + threadIdx.x]; }
        } else {
            f_no_load();
        }
    }
    f_wait0();                                          /* no copy outlives the kernel (a CTA without queries) */
    #pragma unroll
    for (int n = 0; n < ntd; n++) {
        int c = n * 8 + 2 * tig;
        float* k0p = dk + koff + (long) key0 * hd + c; float* k1p = dk + koff + (long) key1 * hd + c;
        float* v0p = dv + koff + (long) key0 * hd + c; float* v1p = dv + koff + (long) key1 * hd + c;
        if (setDk) { k0p[0] = ak[n][0]; k0p[1] = ak[n][1]; k1p[0] = ak[n][2]; k1p[1] = ak[n][3]; }
        else { k0p[0] += ak[n][0]; k0p[1] += ak[n][1]; k1p[0] += ak[n][2]; k1p[1] += ak[n][3]; }
        if (setDv) { v0p[0] = av[n][0]; v0p[1] = av[n][1]; v1p[0] = av[n][2]; v1p[1] = av[n][3]; }
        else { v0p[0] += av[n][0]; v0p[1] += av[n][1]; v1p[0] += av[n][2]; v1p[1] += av[n][3]; }
    }
}

/* The CTA bodies of the kernels below, shared with their pair versions. */
DEVICE void flash_fwd_cta(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL float* temp,
                          const GLOBAL float* relBias, const GLOBAL int* bucketOf, GLOBAL float* out, GLOBAL float* lse,
                          int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn) {
    __shared__ __align__(16) ushort Ks[FT * FPAD];
    __shared__ __align__(16) ushort Vs[FT * FPAD];
    __shared__ float biasS[FWMAX + 1];
    if (D == 128) flash_fwd<128>(q, k, v, temp, relBias, bucketOf, out, lse, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, Ks, Vs, biasS);
    else flash_fwd<64>(q, k, v, temp, relBias, bucketOf, out, lse, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, Ks, Vs, biasS);
}

DEVICE void flash_bwd_q_cta(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                            const GLOBAL float* out, const GLOBAL float* dOut, const GLOBAL float* temp,
                            const GLOBAL float* relBias, const GLOBAL int* bucketOf, const GLOBAL float* lse,
                            GLOBAL float* dsum, GLOBAL float* dq, GLOBAL float* dTempRow, GLOBAL float* partial,
                            int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                            int setDq, int farFrom) {
    ushort* Ks = (ushort*) f_smem;                     /* after dQ: the tile's score gradients (float, stride FT + 1) */
    ushort* Vs = Ks + FT * FPAD;
    ushort* Qt = Vs + FT * FPAD;
    ushort* Dt = Qt + FT * FPAD;
    float* biasS = (float*) (Dt + FT * FPAD);
    f_check_smem(4 * FT * FPAD * 2 + (FWMAX + 1) * 4);
    if (D == 128) flash_bwd_q<128>(q, k, v, dO16, out, dOut, temp, relBias, bucketOf, lse, dsum, dq, dTempRow, partial, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, setDq, farFrom, Ks, Vs, Qt, Dt, biasS);
    else flash_bwd_q<64>(q, k, v, dO16, out, dOut, temp, relBias, bucketOf, lse, dsum, dq, dTempRow, partial, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, setDq, farFrom, Ks, Vs, Qt, Dt, biasS);
}

DEVICE void flash_bwd_kv_cta(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                             const GLOBAL float* temp, const GLOBAL float* relBias, const GLOBAL int* bucketOf,
                             const GLOBAL float* lse, const GLOBAL float* dsum, GLOBAL float* dk, GLOBAL float* dv,
                             int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                             int setDk, int setDv) {
    ushort* Qs = (ushort*) f_smem;
    ushort* Ds = Qs + FT * FPAD;
    ushort* Kt = Ds + FT * FPAD;
    ushort* Vt = Kt + FT * FPAD;
    float* lseS = (float*) (Vt + FT * FPAD);
    float* diS = lseS + 2 * FT;
    float* biasS = diS + 2 * FT;
    f_check_smem(4 * FT * FPAD * 2 + 4 * FT * 4 + (FWMAX + 1) * 4);
    if (D == 128) flash_bwd_kv<128>(q, k, v, dO16, temp, relBias, bucketOf, lse, dsum, dk, dv, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, setDk, setDv, Qs, Ds, Kt, Vt, lseS, diS, biasS);
    else flash_bwd_kv<64>(q, k, v, dO16, temp, relBias, bucketOf, lse, dsum, dk, dv, Tq, Tk, H, W, nbk, seed, thr, dscale, dropOn, setDk, setDv, Qs, Ds, Kt, Vt, lseS, diS, biasS);
}

KERNEL void k_flash_fwd(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL float* temp,
                        const GLOBAL float* relBias, const GLOBAL int* bucketOf, GLOBAL float* out, GLOBAL float* lse,
                        int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn) {
    flash_fwd_cta(q, k, v, temp, relBias, bucketOf, out, lse, Tq, Tk, H, D, W, nbk, seed, thr, dscale, dropOn);
}

KERNEL void k_flash_bwd_q(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                          const GLOBAL float* out, const GLOBAL float* dOut, const GLOBAL float* temp,
                          const GLOBAL float* relBias, const GLOBAL int* bucketOf, const GLOBAL float* lse,
                          GLOBAL float* dsum, GLOBAL float* dq, GLOBAL float* dTempRow, GLOBAL float* partial,
                          int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                          int setDq, int farFrom) {
    flash_bwd_q_cta(q, k, v, dO16, out, dOut, temp, relBias, bucketOf, lse, dsum, dq, dTempRow, partial, Tq, Tk, H, D, W,
                    nbk, seed, thr, dscale, dropOn, setDq, farFrom);
}

KERNEL void k_flash_bwd_kv(const GLOBAL ushort* q, const GLOBAL ushort* k, const GLOBAL ushort* v, const GLOBAL ushort* dO16,
                           const GLOBAL float* temp, const GLOBAL float* relBias, const GLOBAL int* bucketOf,
                           const GLOBAL float* lse, const GLOBAL float* dsum, GLOBAL float* dk, GLOBAL float* dv,
                           int Tq, int Tk, int H, int D, int W, int nbk, ulong seed, uint thr, float dscale, int dropOn,
                           int setDk, int setDv) {
    flash_bwd_kv_cta(q, k, v, dO16, temp, relBias, bucketOf, lse, dsum, dk, dv, Tq, Tk, H, D, W, nbk, seed, thr, dscale,
                     dropOn, setDk, setDv);
}

/*
 * Two independent attentions without window, bias or dropout in one launch (the recurrent cell's self- and
 * cross-attention of a block: 64 CTAs each on 132 SMs one after the other, side by side here). blockIdx.z picks the
 * problem; x runs to the larger problem's CTA count (nx0, nx1), so the smaller one's extra CTAs return at once.
 * Each problem's outputs are its own buffers (GpuBackend checks), so the CTAs of the two never write the same memory.
 */
KERNEL void k_flash_fwd2(const GLOBAL ushort* q0, const GLOBAL ushort* k0, const GLOBAL ushort* v0, const GLOBAL float* temp0,
                         GLOBAL float* out0, GLOBAL float* lse0, int Tq0, int Tk0, int nx0,
                         const GLOBAL ushort* q1, const GLOBAL ushort* k1, const GLOBAL ushort* v1, const GLOBAL float* temp1,
                         GLOBAL float* out1, GLOBAL float* lse1, int Tq1, int Tk1, int nx1, const GLOBAL float* none,
                         const GLOBAL int* noneI, int H, int D) {
    if (blockIdx.z == 0) {
        if (blockIdx.x < nx0) flash_fwd_cta(q0, k0, v0, temp0, none, noneI, out0, lse0, Tq0, Tk0, H, D, 0, 1, 0, 0, 1.0f, 0);
    } else if (blockIdx.x < nx1) {
        flash_fwd_cta(q1, k1, v1, temp1, none, noneI, out1, lse1, Tq1, Tk1, H, D, 0, 1, 0, 0, 1.0f, 0);
    }
}

KERNEL void k_flash_bwd_q2(const GLOBAL ushort* q0, const GLOBAL ushort* k0, const GLOBAL ushort* v0, const GLOBAL ushort* dO0,
                           const GLOBAL float* out0, const GLOBAL float* dOut0, const GLOBAL float* temp0,
                           const GLOBAL float* lse0, GLOBAL float* dsum0, GLOBAL float* dq0, GLOBAL float* dTempRow0,
                           int Tq0, int Tk0, int setDq0, int nx0,
                           const GLOBAL ushort* q1, const GLOBAL ushort* k1, const GLOBAL ushort* v1, const GLOBAL ushort* dO1,
                           const GLOBAL float* out1, const GLOBAL float* dOut1, const GLOBAL float* temp1,
                           const GLOBAL float* lse1, GLOBAL float* dsum1, GLOBAL float* dq1, GLOBAL float* dTempRow1,
                           int Tq1, int Tk1, int setDq1, int nx1, const GLOBAL float* none, const GLOBAL int* noneI,
                           GLOBAL float* noPartial, int H, int D) {
    if (blockIdx.z == 0) {
        if (blockIdx.x < nx0) flash_bwd_q_cta(q0, k0, v0, dO0, out0, dOut0, temp0, none, noneI, lse0, dsum0, dq0, dTempRow0,
                                              noPartial, Tq0, Tk0, H, D, 0, 1, 0, 0, 1.0f, 0, setDq0, 0);
    } else if (blockIdx.x < nx1) {
        flash_bwd_q_cta(q1, k1, v1, dO1, out1, dOut1, temp1, none, noneI, lse1, dsum1, dq1, dTempRow1, noPartial, Tq1, Tk1,
                        H, D, 0, 1, 0, 0, 1.0f, 0, setDq1, 0);
    }
}

KERNEL void k_flash_bwd_kv2(const GLOBAL ushort* q0, const GLOBAL ushort* k0, const GLOBAL ushort* v0, const GLOBAL ushort* dO0,
                            const GLOBAL float* temp0, const GLOBAL float* lse0, const GLOBAL float* dsum0,
                            GLOBAL float* dk0, GLOBAL float* dv0, int Tq0, int Tk0, int setDk0, int setDv0, int nx0,
                            const GLOBAL ushort* q1, const GLOBAL ushort* k1, const GLOBAL ushort* v1, const GLOBAL ushort* dO1,
                            const GLOBAL float* temp1, const GLOBAL float* lse1, const GLOBAL float* dsum1,
                            GLOBAL float* dk1, GLOBAL float* dv1, int Tq1, int Tk1, int setDk1, int setDv1, int nx1,
                            const GLOBAL float* none, const GLOBAL int* noneI, int H, int D) {
    if (blockIdx.z == 0) {
        if (blockIdx.x < nx0) flash_bwd_kv_cta(q0, k0, v0, dO0, temp0, none, noneI, lse0, dsum0, dk0, dv0, Tq0, Tk0, H, D, 0, 1,
                                               0, 0, 1.0f, 0, setDk0, setDv0);
    } else if (blockIdx.x < nx1) {
        flash_bwd_kv_cta(q1, k1, v1, dO1, temp1, none, noneI, lse1, dsum1, dk1, dv1, Tq1, Tk1, H, D, 0, 1, 0, 0, 1.0f, 0,
                         setDk1, setDv1);
    }
}

#endif
