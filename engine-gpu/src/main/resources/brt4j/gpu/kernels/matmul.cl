/*
 * c = alpha * op(a) op(b) + beta * c over a batch (gridDim z), row-major. Used by the OpenCL backend; the CUDA
 * backend calls cuBLAS instead (tensor cores, TF32 and bf16), which is why this tile is plain: 16 x 16 outputs per
 * work-group, TS-deep slabs of a and b staged in local memory. beta == 0 ignores c's old contents (even NaN).
 */
#define TS 16

KERNEL void k_matmul(const GLOBAL float* A, const GLOBAL float* B, GLOBAL float* C, int M, int N, int K, int ta, int tb,
                     float alpha, float beta) {
    LOCAL float As[TS][TS + 1];
    LOCAL float Bs[TS][TS + 1];
    long bi = GROUP_ID(2);
    const GLOBAL float* a = A + bi * M * K;
    const GLOBAL float* b = B + bi * K * N;
    GLOBAL float* c = C + bi * M * N;
    int ly = LOCAL_ID(1), lx = LOCAL_ID(0);
    int row = GROUP_ID(1) * TS + ly, col = GROUP_ID(0) * TS + lx;
    float acc = 0.0f;
    for (int t0 = 0; t0 < K; t0 += TS) {
        int ak = t0 + lx, bk = t0 + ly;
        As[ly][lx] = (row < M && ak < K) ? (ta ? a[(long) ak * M + row] : a[(long) row * K + ak]) : 0.0f;
        Bs[ly][lx] = (bk < K && col < N) ? (tb ? b[(long) col * K + bk] : b[(long) bk * N + col]) : 0.0f;
        BARRIER();
        for (int p = 0; p < TS; p++) acc += As[ly][p] * Bs[p][lx];
        BARRIER();
    }
    if (row < M && col < N) {
        long ci = (long) row * N + col;
        c[ci] = beta == 0.0f ? alpha * acc : alpha * acc + beta * c[ci];
    }
}

/*
 * The general form the blocked attention needs: operands at element offsets, row strides (lda, ldb, ldc) and batch
 * strides (sA, sB, sC), like cublasGemmStridedBatchedEx. Same tile as k_matmul.
 */
KERNEL void k_matmul_ex(const GLOBAL float* A, long offA, int lda, long sA, const GLOBAL float* B, long offB, int ldb,
                        long sB, GLOBAL float* C, long offC, int ldc, long sC, int M, int N, int K, int ta, int tb,
                        float alpha, float beta) {
    LOCAL float As[TS][TS + 1];
    LOCAL float Bs[TS][TS + 1];
    long bi = GROUP_ID(2);
    const GLOBAL float* a = A + offA + bi * sA;
    const GLOBAL float* b = B + offB + bi * sB;
    GLOBAL float* c = C + offC + bi * sC;
    int ly = LOCAL_ID(1), lx = LOCAL_ID(0);
    int row = GROUP_ID(1) * TS + ly, col = GROUP_ID(0) * TS + lx;
    float acc = 0.0f;
    for (int t0 = 0; t0 < K; t0 += TS) {
        int ak = t0 + lx, bk = t0 + ly;
        As[ly][lx] = (row < M && ak < K) ? (ta ? a[(long) ak * lda + row] : a[(long) row * lda + ak]) : 0.0f;
        Bs[ly][lx] = (bk < K && col < N) ? (tb ? b[(long) col * ldb + bk] : b[(long) bk * ldb + col]) : 0.0f;
        BARRIER();
        for (int p = 0; p < TS; p++) acc += As[ly][p] * Bs[p][lx];
        BARRIER();
    }
    if (row < M && col < N) {
        long ci = (long) row * ldc + col;
        c[ci] = beta == 0.0f ? alpha * acc : alpha * acc + beta * c[ci];
    }
}
