/* Multi-head scaled dot-product attention (RT_K_ATTN_*, kernels.h).
 *
 * Each kernel is a loop over independent rows: a (sample, head, query)
 * row for the forward and the query side of backward, a (sample, head,
 * key) row for the key side. Rows are split between threads and every
 * row is summed in the same fixed order as the shaders (keys or queries
 * ascending, dot products in four interleaved lanes), so results do not
 * depend on the thread count. A row's accumulators live on the stack (D
 * is at most RT_ATTN_MAX_HEAD_DIM). Exponentials use exp_approx (fastmath.h),
 * which the shaders copy, so both backends get the same probabilities. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"

/* Rows per parallel chunk: enough work to amortise a hand-off. */
#define ROWS_PER_CHUNK 16

typedef struct attn_job {
    const float *q, *k, *v, *out, *dout, *lse;
    float *o_write, *lse_write, *delta, *dq, *dk, *dv;
    int64_t heads, Tq, Tk, D;
    bool causal;
    float scale;
    int accum_a, accum_b;
} attn_job;

static attn_job job_of(const cpu_kernel_args *a)
{
    const int32_t *i = a->p->i;
    attn_job j = {0};
    j.heads = i[1], j.Tq = i[2], j.Tk = i[3], j.D = i[4];
    j.causal = i[5] != 0;
    j.scale = a->p->f[0];
    j.accum_a = i[6], j.accum_b = i[7];
    return j;
}

/* Dot product in ATTN_DOT_LANES interleaved partial sums (lane k takes
 * the d = k mod 4 terms in order), joined as (l0 + l1) + (l2 + l3): four
 * independent chains the compiler can vectorise, and the order the
 * shaders use (shaders/attention.glsl). */
#define ATTN_DOT_LANES 4

static inline __attribute__((always_inline)) float dot(const float *restrict a, const float *restrict b, int64_t n)
{
    float s[ATTN_DOT_LANES] = {0};
    int64_t d = 0;
    for (; d + ATTN_DOT_LANES <= n; d += ATTN_DOT_LANES)
        for (int k = 0; k < ATTN_DOT_LANES; k++)
            s[k] += a[d + k] * b[d + k];
    for (; d < n; d++)
        s[d % ATTN_DOT_LANES] += a[d] * b[d];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Row r of [batch, heads, T] as (sample, head, position). */
static void split_row(const attn_job *j, int64_t r, int64_t T, int64_t *b, int64_t *h, int64_t *t)
{
    *t = r % T;
    *h = (r / T) % j->heads;
    *b = r / (T * j->heads);
}

/* Element offset of position t, head h of sample b in a [batch, T, E] tensor. */
static int64_t at(const attn_job *j, int64_t b, int64_t t, int64_t T, int64_t h)
{
    return (b * T + t) * j->heads * j->D + h * j->D;
}

/* Keys that query i sees: [0, key_end). */
static int64_t key_end(const attn_job *j, int64_t i)
{
    return j->causal && i + 1 < j->Tk ? i + 1 : j->Tk;
}

static void store(float *restrict dst, const float *restrict src, int64_t n, float scale, bool accum)
{
    for (int64_t d = 0; d < n; d++)
        dst[d] = accum ? dst[d] + scale * src[d] : scale * src[d];
}

/* Scores are taken ATTN_BLOCK positions at a time so their exponentials
 * run as one vectorisable loop (exp_approx, as the shaders' copy). */
#define ATTN_BLOCK 16

static int64_t block_len(int64_t from, int64_t end)
{
    return end - from < ATTN_BLOCK ? end - from : ATTN_BLOCK;
}

/* p[n] = e^(s[n] - sub[n]) for n < len (sub_step 0: one value). */
static void block_exp(float *restrict p, const float *restrict s, const float *restrict sub, int64_t sub_step,
                      int64_t len)
{
    for (int64_t n = 0; n < len; n++)
        p[n] = exp_approx(s[n] - sub[n * sub_step]);
}

static void fwd_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const attn_job *j = ctx;
    int64_t D = j->D;
    float acc[RT_ATTN_MAX_HEAD_DIM], s[ATTN_BLOCK], p[ATTN_BLOCK];
    for (int64_t r = begin; r < end; r++) {
        int64_t b, h, i;
        split_row(j, r, j->Tq, &b, &h, &i);
        const float *q = j->q + at(j, b, i, j->Tq, h);
        memset(acc, 0, (size_t)D * sizeof acc[0]);
        float m = -INFINITY, l = 0.0f;
        for (int64_t j0 = 0; j0 < key_end(j, i); j0 += ATTN_BLOCK) {
            int64_t len = block_len(j0, key_end(j, i));
            float top = m;
            for (int64_t n = 0; n < len; n++) {
                s[n] = j->scale * dot(q, j->k + at(j, b, j0 + n, j->Tk, h), D);
                top = s[n] > top ? s[n] : top;
            }
            if (top > m) { /* a new maximum: rescale what was summed so far */
                float c = exp_approx(m - top);
                l *= c;
                for (int64_t d = 0; d < D; d++)
                    acc[d] *= c;
                m = top;
            }
            block_exp(p, s, &m, 0, len);
            for (int64_t n = 0; n < len; n++) {
                const float *v = j->v + at(j, b, j0 + n, j->Tk, h);
                l += p[n];
                for (int64_t d = 0; d < D; d++)
                    acc[d] += p[n] * v[d];
            }
        }
        float *o = j->o_write + at(j, b, i, j->Tq, h);
        for (int64_t d = 0; d < D; d++)
            o[d] = acc[d] / l;
        j->lse_write[r] = m + logf(l);
    }
}

void cpu_attn_fwd(const cpu_kernel_args *a)
{
    attn_job j = job_of(a);
    j.q = a->args[0], j.k = a->args[1], j.v = a->args[2];
    j.o_write = a->args[3], j.lse_write = a->args[4];
    cpu_parallel_for(a->pool, (int64_t)a->p->i[0] * j.heads * j.Tq, ROWS_PER_CHUNK, fwd_rows, &j);
}

static void bwd_q_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const attn_job *j = ctx;
    int64_t D = j->D;
    float acc[RT_ATTN_MAX_HEAD_DIM], s[ATTN_BLOCK], dp[ATTN_BLOCK], p[ATTN_BLOCK];
    for (int64_t r = begin; r < end; r++) {
        int64_t b, h, i;
        split_row(j, r, j->Tq, &b, &h, &i);
        int64_t row = at(j, b, i, j->Tq, h);
        const float *q = j->q + row, *dout = j->dout + row;
        float delta = dot(dout, j->out + row, D), lse = j->lse[r];
        j->delta[r] = delta;
        if (!j->dq)
            continue;
        memset(acc, 0, (size_t)D * sizeof acc[0]);
        for (int64_t j0 = 0; j0 < key_end(j, i); j0 += ATTN_BLOCK) {
            int64_t len = block_len(j0, key_end(j, i));
            for (int64_t n = 0; n < len; n++) {
                s[n] = j->scale * dot(q, j->k + at(j, b, j0 + n, j->Tk, h), D);
                dp[n] = dot(dout, j->v + at(j, b, j0 + n, j->Tk, h), D);
            }
            block_exp(p, s, &lse, 0, len);
            for (int64_t n = 0; n < len; n++) {
                const float *k = j->k + at(j, b, j0 + n, j->Tk, h);
                float ds = p[n] * (dp[n] - delta);
                for (int64_t d = 0; d < D; d++)
                    acc[d] += ds * k[d];
            }
        }
        store(j->dq + row, acc, D, j->scale, j->accum_a);
    }
}

void cpu_attn_bwd_q(const cpu_kernel_args *a)
{
    attn_job j = job_of(a);
    j.q = a->args[0], j.k = a->args[1], j.v = a->args[2], j.out = a->args[3], j.dout = a->args[4];
    j.lse = a->args[5], j.delta = a->args[6];
    j.dq = a->sizes[7] ? a->args[7] : NULL;
    cpu_parallel_for(a->pool, (int64_t)a->p->i[0] * j.heads * j.Tq, ROWS_PER_CHUNK, bwd_q_rows, &j);
}

static void bwd_kv_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const attn_job *j = ctx;
    int64_t D = j->D;
    float acc_k[RT_ATTN_MAX_HEAD_DIM], acc_v[RT_ATTN_MAX_HEAD_DIM], s[ATTN_BLOCK], dp[ATTN_BLOCK], p[ATTN_BLOCK];
    for (int64_t r = begin; r < end; r++) {
        int64_t b, h, kj;
        split_row(j, r, j->Tk, &b, &h, &kj);
        int64_t row = at(j, b, kj, j->Tk, h);
        const float *k = j->k + row, *v = j->v + row;
        memset(acc_k, 0, (size_t)D * sizeof acc_k[0]);
        memset(acc_v, 0, (size_t)D * sizeof acc_v[0]);
        int64_t stats = (b * j->heads + h) * j->Tq;
        for (int64_t i0 = j->causal ? kj : 0; i0 < j->Tq; i0 += ATTN_BLOCK) {
            int64_t len = block_len(i0, j->Tq);
            for (int64_t n = 0; n < len; n++) {
                int64_t qrow = at(j, b, i0 + n, j->Tq, h);
                s[n] = j->scale * dot(j->q + qrow, k, D);
                dp[n] = dot(j->dout + qrow, v, D);
            }
            block_exp(p, s, j->lse + stats + i0, 1, len);
            for (int64_t n = 0; n < len; n++) {
                int64_t qrow = at(j, b, i0 + n, j->Tq, h);
                const float *q = j->q + qrow, *dout = j->dout + qrow;
                float ds = p[n] * (dp[n] - j->delta[stats + i0 + n]);
                for (int64_t d = 0; d < D; d++) {
                    acc_v[d] += p[n] * dout[d];
                    acc_k[d] += ds * q[d];
                }
            }
        }
        if (j->dk)
            store(j->dk + row, acc_k, D, j->scale, j->accum_a);
        if (j->dv)
            store(j->dv + row, acc_v, D, 1.0f, j->accum_b);
    }
}

void cpu_attn_bwd_kv(const cpu_kernel_args *a)
{
    attn_job j = job_of(a);
    j.q = a->args[0], j.k = a->args[1], j.v = a->args[2], j.dout = a->args[3];
    j.lse = a->args[4], j.delta = a->args[5];
    j.dk = a->sizes[6] ? a->args[6] : NULL;
    j.dv = a->sizes[7] ? a->args[7] : NULL;
    cpu_parallel_for(a->pool, (int64_t)a->p->i[0] * j.heads * j.Tk, ROWS_PER_CHUNK, bwd_kv_rows, &j);
}
