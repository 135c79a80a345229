/* Attention kernels (RT_K_ATTN_FWD, _BWD_Q, _BWD_KV) against a plain
 * double-precision reference that builds the whole probability matrix,
 * finite differences of the forward kernel, both accum modes and thread
 * independence. */
#include "kernel_harness.h"

#include <math.h>

typedef struct attn_case {
    int batch, heads, Tq, Tk, D;
    bool causal;
} attn_case;

typedef struct attn_bufs {
    attn_case c;
    size_t nq, nkv, nrows;
    float *q, *k, *v, *out, *lse, *dout, *delta, *dq, *dk, *dv;
} attn_bufs;

static attn_bufs attn_alloc(attn_case c, uint64_t seed)
{
    attn_bufs b = {c, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t E = (size_t)c.heads * (size_t)c.D;
    b.nq = (size_t)c.batch * (size_t)c.Tq * E;
    b.nkv = (size_t)c.batch * (size_t)c.Tk * E;
    b.nrows = (size_t)c.batch * (size_t)c.heads * (size_t)c.Tq;
    b.q = kh_frand(b.nq, seed, -1.5f, 1.5f);
    b.k = kh_frand(b.nkv, seed + 1, -1.5f, 1.5f);
    b.v = kh_frand(b.nkv, seed + 2, -1, 1);
    b.dout = kh_frand(b.nq, seed + 3, -1, 1);
    b.out = kh_fzeros(b.nq), b.dq = kh_fzeros(b.nq);
    b.lse = kh_fzeros(b.nrows), b.delta = kh_fzeros(b.nrows);
    b.dk = kh_fzeros(b.nkv), b.dv = kh_fzeros(b.nkv);
    return b;
}

static void attn_params(kh_launch *l, const attn_case *c)
{
    l->p.i[0] = c->batch, l->p.i[1] = c->heads, l->p.i[2] = c->Tq, l->p.i[3] = c->Tk, l->p.i[4] = c->D;
    l->p.i[5] = c->causal;
    l->p.f[0] = 1.0f / sqrtf((float)c->D);
}

static kh_launch fwd_launch(attn_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_ATTN_FWD);
    attn_params(&l, &b->c);
    kh_bind(&l, 0, b->q, b->nq);
    kh_bind(&l, 1, b->k, b->nkv);
    kh_bind(&l, 2, b->v, b->nkv);
    kh_bind(&l, 3, b->out, b->nq);
    kh_bind(&l, 4, b->lse, b->nrows);
    return l;
}

static kh_launch bwd_q_launch(attn_bufs *b, float *dq)
{
    kh_launch l = kh_make_launch(RT_K_ATTN_BWD_Q);
    attn_params(&l, &b->c);
    kh_bind(&l, 0, b->q, b->nq);
    kh_bind(&l, 1, b->k, b->nkv);
    kh_bind(&l, 2, b->v, b->nkv);
    kh_bind(&l, 3, b->out, b->nq);
    kh_bind(&l, 4, b->dout, b->nq);
    kh_bind(&l, 5, b->lse, b->nrows);
    kh_bind(&l, 6, b->delta, b->nrows);
    kh_bind(&l, 7, dq, dq ? b->nq : 0);
    return l;
}

static kh_launch bwd_kv_launch(attn_bufs *b, float *dk, float *dv)
{
    kh_launch l = kh_make_launch(RT_K_ATTN_BWD_KV);
    attn_params(&l, &b->c);
    kh_bind(&l, 0, b->q, b->nq);
    kh_bind(&l, 1, b->k, b->nkv);
    kh_bind(&l, 2, b->v, b->nkv);
    kh_bind(&l, 3, b->dout, b->nq);
    kh_bind(&l, 4, b->lse, b->nrows);
    kh_bind(&l, 5, b->delta, b->nrows);
    kh_bind(&l, 6, dk, dk ? b->nkv : 0);
    kh_bind(&l, 7, dv, dv ? b->nkv : 0);
    return l;
}

/* Reference: P = softmax(Q K^T / sqrt(D) + mask) per (sample, head) in
 * double, out = P V, lse, and the gradients of sum(dout o out). */
typedef struct attn_ref {
    double *out, *lse, *dq, *dk, *dv;
} attn_ref;

static size_t idx(const attn_case *c, int b, int t, int T, int h, int d)
{
    return (((size_t)b * (size_t)T + (size_t)t) * (size_t)c->heads + (size_t)h) * (size_t)c->D + (size_t)d;
}

static attn_ref reference(const attn_bufs *bf)
{
    const attn_case *c = &bf->c;
    attn_ref r = {kh_dzeros(bf->nq), kh_dzeros(bf->nrows), kh_dzeros(bf->nq), kh_dzeros(bf->nkv),
                  kh_dzeros(bf->nkv)};
    double scale = 1.0 / sqrt((double)c->D);
    double *P = kh_dzeros((size_t)c->Tq * (size_t)c->Tk), *dS = kh_dzeros((size_t)c->Tq * (size_t)c->Tk);
    for (int b = 0; b < c->batch; b++)
        for (int h = 0; h < c->heads; h++) {
            for (int i = 0; i < c->Tq; i++) {
                double m = -INFINITY, sum = 0;
                double *row = P + (size_t)i * (size_t)c->Tk;
                for (int j = 0; j < c->Tk; j++) {
                    double s = 0;
                    for (int d = 0; d < c->D; d++)
                        s += (double)bf->q[idx(c, b, i, c->Tq, h, d)] * bf->k[idx(c, b, j, c->Tk, h, d)];
                    row[j] = c->causal && j > i ? -INFINITY : s * scale;
                    m = fmax(m, row[j]);
                }
                for (int j = 0; j < c->Tk; j++)
                    sum += (row[j] = exp(row[j] - m));
                for (int j = 0; j < c->Tk; j++)
                    row[j] /= sum;
                r.lse[((size_t)b * (size_t)c->heads + (size_t)h) * (size_t)c->Tq + (size_t)i] = m + log(sum);
                for (int d = 0; d < c->D; d++) {
                    double o = 0;
                    for (int j = 0; j < c->Tk; j++)
                        o += row[j] * bf->v[idx(c, b, j, c->Tk, h, d)];
                    r.out[idx(c, b, i, c->Tq, h, d)] = o;
                }
            }
            for (int i = 0; i < c->Tq; i++) { /* dS = P o (dO V^T - rowsum(dO o O)) */
                double delta = 0;
                for (int d = 0; d < c->D; d++)
                    delta += (double)bf->dout[idx(c, b, i, c->Tq, h, d)] * r.out[idx(c, b, i, c->Tq, h, d)];
                for (int j = 0; j < c->Tk; j++) {
                    double dp = 0;
                    for (int d = 0; d < c->D; d++)
                        dp += (double)bf->dout[idx(c, b, i, c->Tq, h, d)] * bf->v[idx(c, b, j, c->Tk, h, d)];
                    double p = P[(size_t)i * (size_t)c->Tk + (size_t)j];
                    dS[(size_t)i * (size_t)c->Tk + (size_t)j] = p * (dp - delta);
                    for (int d = 0; d < c->D; d++)
                        r.dv[idx(c, b, j, c->Tk, h, d)] += p * bf->dout[idx(c, b, i, c->Tq, h, d)];
                }
            }
            for (int i = 0; i < c->Tq; i++)
                for (int j = 0; j < c->Tk; j++) {
                    double ds = dS[(size_t)i * (size_t)c->Tk + (size_t)j] * scale;
                    for (int d = 0; d < c->D; d++) {
                        r.dq[idx(c, b, i, c->Tq, h, d)] += ds * bf->k[idx(c, b, j, c->Tk, h, d)];
                        r.dk[idx(c, b, j, c->Tk, h, d)] += ds * bf->q[idx(c, b, i, c->Tq, h, d)];
                    }
                }
        }
    return r;
}

static const attn_case cases[] = {
    {2, 3, 5, 7, 5, false}, /* D not a multiple of the 4 dot lanes */
    {2, 2, 6, 6, 4, true},
    {1, 1, 9, 4, 1, true},  /* Tq > Tk, causal: late queries see every key */
    {3, 2, 3, 8, 6, true},  /* Tq < Tk, causal: late keys get no gradient */
};

static void test_attn_fwd(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        attn_bufs b = attn_alloc(cases[n], 300 + n);
        kh_launch l = fwd_launch(&b);
        kh_fill_nan(b.out, b.nq);
        kh_run(&l);
        attn_ref r = reference(&b);
        kh_expect_close(b.out, r.out, b.nq, 1e-5, "attention out");
        kh_expect_close(b.lse, r.lse, b.nrows, 1e-5, "attention lse");
    }
}

static void test_attn_bwd_reference(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        attn_bufs b = attn_alloc(cases[n], 400 + n);
        kh_launch fwd = fwd_launch(&b);
        kh_run(&fwd);
        attn_ref r = reference(&b);
        kh_launch q = bwd_q_launch(&b, b.dq);
        kh_check_both_modes(&q, 6, 7, b.nq, r.dq, 1e-5);
        kh_launch kv = bwd_kv_launch(&b, b.dk, NULL);
        kh_check_both_modes(&kv, 6, 6, b.nkv, r.dk, 1e-5);
        kv = bwd_kv_launch(&b, NULL, b.dv);
        kh_check_both_modes(&kv, 7, 7, b.nkv, r.dv, 1e-5);
        /* both at once give the same bits as one at a time */
        kh_launch only_k = bwd_kv_launch(&b, b.dk, NULL), only_v = bwd_kv_launch(&b, NULL, b.dv);
        kh_run(&only_k);
        kh_run(&only_v);
        float *dk1 = kh_fcopy(b.dk, b.nkv), *dv1 = kh_fcopy(b.dv, b.nkv);
        kh_fill_nan(b.dk, b.nkv);
        kh_fill_nan(b.dv, b.nkv);
        kv = bwd_kv_launch(&b, b.dk, b.dv);
        kh_run(&kv);
        assert_memory_equal(dk1, b.dk, b.nkv * 4);
        assert_memory_equal(dv1, b.dv, b.nkv * 4);
        /* dq absent: delta alone is written */
        kh_fill_nan(b.delta, b.nrows);
        q = bwd_q_launch(&b, NULL);
        kh_run(&q);
        for (size_t i = 0; i < b.nrows; i++)
            assert_false(isnan(b.delta[i]));
    }
}

static void test_attn_bwd_gradcheck(void **state)
{
    (void)state;
    attn_case c = {2, 2, 4, 5, 3, true};
    attn_bufs b = attn_alloc(c, 500);
    kh_launch fwd = fwd_launch(&b);
    double *num = kh_dzeros(b.nkv > b.nq ? b.nkv : b.nq);
    kh_run(&fwd);
    kh_launch q = bwd_q_launch(&b, b.dq), kv = bwd_kv_launch(&b, b.dk, b.dv);
    kh_run(&q);
    kh_run(&kv);
    kh_numeric_grad(&fwd, b.q, b.nq, b.out, b.dout, b.nq, num);
    kh_expect_grad(b.dq, num, b.nq, 2e-3, "attention dq");
    kh_numeric_grad(&fwd, b.k, b.nkv, b.out, b.dout, b.nq, num);
    kh_expect_grad(b.dk, num, b.nkv, 2e-3, "attention dk");
    kh_numeric_grad(&fwd, b.v, b.nkv, b.out, b.dout, b.nq, num);
    kh_expect_grad(b.dv, num, b.nkv, 2e-3, "attention dv");
}

static void test_attn_thread_independent(void **state)
{
    (void)state;
    cpu_pool *one = NULL, *three = NULL;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);
    attn_case c = {3, 2, 41, 37, 7, false}; /* rows over several chunks */
    attn_bufs b = attn_alloc(c, 600);
    kh_launch fwd = fwd_launch(&b);
    kh_expect_thread_independent(&fwd, one, three, "attn_fwd");
    kh_run(&fwd);
    kh_launch q = bwd_q_launch(&b, b.dq);
    kh_expect_thread_independent(&q, one, three, "attn_bwd_q");
    kh_run(&q);
    kh_launch kv = bwd_kv_launch(&b, b.dk, b.dv);
    kh_expect_thread_independent(&kv, one, three, "attn_bwd_kv");
    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_attn_fwd),
        KH_TEST(test_attn_bwd_reference),
        KH_TEST(test_attn_bwd_gradcheck),
        KH_TEST(test_attn_thread_independent),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
