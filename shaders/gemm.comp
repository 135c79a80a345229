#version 450
// RT_K_GEMM: C = op(A) op(B) (+ bias), `batch` problems, or their sum
// (reduce_batch). Geometry: GEMM, (ceil(N/64), ceil(M/64),
// reduce_batch ? 1 : batch) workgroups.
//
// A workgroup owns one 64x64 tile of one output matrix. K is walked in
// slices of TK: the workgroup loads a 64 x TK slice of op(A) and a TK x 64
// slice of op(B) into shared memory (reading along whichever index is
// contiguous in memory, zero outside the matrices), then every thread
// updates its 4x4 micro-tile: rows 4 ty + i, columns 4 tx + j, read from
// shared memory as one vec4 of op(A) and one of op(B) per k.
//
// Determinism: each element of C is computed by one thread as a single
// chain of fma over k = 0..K-1 (over every batch item in order, in
// reduce mode), started from C (accum) or 0, with the bias added last --
// the order of the CPU backend, independent of the tiling. (Whether the
// driver fuses fma is its choice: lavapipe does not, so results there
// differ from the CPU's in the last bits.)
//
// The tile is cut into 256 micro-tiles, one per thread at the intended
// local size of 256; at a clamped local size (the Vulkan minimum is 128)
// a thread takes two.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, set = 0, binding = 2) buffer BufC { float C[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufBias { float bias[]; };

const uint TM = 64u;       // rows of the output tile
const uint TN = 64u;       // columns of the output tile
const uint TK = 32u;       // K slice held in shared memory
const uint PITCH4 = 17u;   // shared row pitch in vec4 (68 floats: padding)
const uint MICROS = 256u;  // 16 x 16 micro-tiles of 4 x 4
const uint MAX_PER_THREAD = 2u;                            // LOCAL_SIZE >= 128
const uint PER_THREAD = (MICROS + LOCAL_SIZE - 1u) / LOCAL_SIZE;

shared vec4 As[TK * PITCH4]; // op(A) slice: element (m, k) at As[k * PITCH4 + m / 4][m % 4]
shared vec4 Bs[TK * PITCH4]; // op(B) slice: element (k, n) at Bs[k * PITCH4 + n / 4][n % 4]

void main()
{
    const uint M = uint(p.i[0]), N = uint(p.i[1]), K = uint(p.i[2]);
    const bool trans_a = p.i[3] != 0, trans_b = p.i[4] != 0;
    const uint lda = uint(p.i[5]), ldb = uint(p.i[6]), ldc = uint(p.i[7]);
    const uint batch = uint(p.i[8]);
    const uint stride_a = uint(p.i[9]), stride_b = uint(p.i[10]), stride_c = uint(p.i[11]);
    const int bias_mode = arg_present(3u) ? p.i[12] : 0;
    const bool accum = p.i[13] != 0, reduce = p.i[14] != 0;

    const uint m0 = gl_WorkGroupID.y * TM, n0 = gl_WorkGroupID.x * TN;
    // p.i[15]: first batch item of this dispatch when the backend splits a
    // long reduction into several (see vk_backend.c); 0 otherwise.
    const uint b_begin = reduce ? uint(p.i[15]) : gl_WorkGroupID.z;
    const uint b_end = reduce ? batch : b_begin + 1u;
    const uint off_a = arg_offset(0u), off_b = arg_offset(1u), off_bias = arg_offset(3u);
    const uint off_c = arg_offset(2u) + (reduce ? 0u : b_begin * stride_c);
    const uint lid = gl_LocalInvocationID.x;

    // acc[r * 4 + i][j]: row 4 ty + i, column 4 tx + j of micro-tile r.
    vec4 acc[MAX_PER_THREAD * 4u];
    for (uint r = 0u; r < PER_THREAD; r++) {
        uint t = lid + r * LOCAL_SIZE, tx = t % 16u, ty = t / 16u;
        for (uint i = 0u; i < 4u; i++) {
            acc[r * 4u + i] = vec4(0.0);
            for (uint j = 0u; j < 4u; j++) {
                uint m = m0 + 4u * ty + i, n = n0 + 4u * tx + j;
                if (accum && t < MICROS && m < M && n < N)
                    acc[r * 4u + i][j] = C[off_c + m * ldc + n];
            }
        }
    }

    for (uint b = b_begin; b < b_end; b++) {
        const uint base_a = off_a + b * stride_a, base_b = off_b + b * stride_b;
        for (uint k0 = 0u; k0 < K; k0 += TK) {
            barrier(); // the previous slice has been consumed
            for (uint e = lid; e < TM * TK; e += LOCAL_SIZE) {
                // op(A)[m][k]: A[k*lda + m] (m contiguous) or A[m*lda + k]
                uint mm = trans_a ? e % TM : e / TK, kk = trans_a ? e / TM : e % TK;
                uint m = m0 + mm, k = k0 + kk;
                float v = 0.0;
                if (m < M && k < K)
                    v = A[base_a + (trans_a ? k * lda + m : m * lda + k)];
                As[kk * PITCH4 + mm / 4u][mm % 4u] = v;
            }
            for (uint e = lid; e < TN * TK; e += LOCAL_SIZE) {
                // op(B)[k][n]: B[n*ldb + k] (k contiguous) or B[k*ldb + n]
                uint nn = trans_b ? e / TK : e % TN, kk = trans_b ? e % TK : e / TN;
                uint n = n0 + nn, k = k0 + kk;
                float v = 0.0;
                if (n < N && k < K)
                    v = B[base_b + (trans_b ? n * ldb + k : k * ldb + n)];
                Bs[kk * PITCH4 + nn / 4u][nn % 4u] = v;
            }
            barrier();

            // Only the real k steps: a short last slice (small K) costs its
            // length, not TK.
            const uint klen = min(TK, K - k0);
            for (uint r = 0u; r < PER_THREAD; r++) {
                uint t = lid + r * LOCAL_SIZE, tx = t % 16u, ty = t / 16u;
                if (t >= MICROS)
                    continue;
                if (klen == TK) {
                    for (uint kk = 0u; kk < TK; kk++) {
                        vec4 a = As[kk * PITCH4 + ty], bv = Bs[kk * PITCH4 + tx];
                        for (uint i = 0u; i < 4u; i++)
                            acc[r * 4u + i] = fma(vec4(a[i]), bv, acc[r * 4u + i]);
                    }
                } else {
                    for (uint kk = 0u; kk < klen; kk++) {
                        vec4 a = As[kk * PITCH4 + ty], bv = Bs[kk * PITCH4 + tx];
                        for (uint i = 0u; i < 4u; i++)
                            acc[r * 4u + i] = fma(vec4(a[i]), bv, acc[r * 4u + i]);
                    }
                }
            }
        }
    }

    for (uint r = 0u; r < PER_THREAD; r++) {
        uint t = lid + r * LOCAL_SIZE, tx = t % 16u, ty = t / 16u;
        if (t >= MICROS)
            continue;
        for (uint i = 0u; i < 4u; i++) {
            uint m = m0 + 4u * ty + i;
            if (m >= M)
                continue;
            float row_bias = 0.0;
            if (bias_mode == 1)
                row_bias = bias[off_bias + m];
            for (uint j = 0u; j < 4u; j++) {
                uint n = n0 + 4u * tx + j;
                if (n >= N)
                    continue;
                float v = acc[r * 4u + i][j];
                if (bias_mode == 1)
                    v += row_bias;
                else if (bias_mode == 2)
                    v += bias[off_bias + n];
                C[off_c + m * ldc + n] = v;
            }
        }
    }
}
