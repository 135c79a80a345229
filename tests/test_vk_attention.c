/* Attention kernels (RT_K_ATTN_*): CPU-vs-Vulkan parity per kernel on
 * odd sizes, both accum modes, absent outputs, and sequences long enough
 * to come near lavapipe's per-invocation loop limit (docs/vulkan.md). */
#include <math.h>
#include <stdlib.h>

#include "test_util.h"
#include "vk_harness.h"

#define RTOL 1e-4
#define ATOL 1e-5

typedef struct attn_shape {
    int batch, heads, Tq, Tk, D;
    bool causal;
    const char *label;
} attn_shape;

static rt_params params_of(const attn_shape *s, int accum_a, int accum_b)
{
    rt_params p = {{0}, {0}};
    p.i[0] = s->batch, p.i[1] = s->heads, p.i[2] = s->Tq, p.i[3] = s->Tk, p.i[4] = s->D, p.i[5] = s->causal;
    p.i[6] = accum_a, p.i[7] = accum_b;
    p.f[0] = 1.0f / sqrtf((float)s->D);
    return p;
}

static void check(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, const char *label)
{
    double worst = vkh_compare(k, p, nargs, args, RTOL, ATOL, label);
    if (!(worst <= 1))
        fail_msg("%s: CPU and Vulkan differ (worst error / tolerance %g)", label, worst);
    vkh_assert_no_validation_messages();
}

/* Every kernel of one shape, with outputs present or absent and accum
 * on or off. The backward inputs (out, lse, delta) are the forward's
 * kind of values: random, lse above the scores' range. */
static void check_shape(const attn_shape *s, unsigned seed)
{
    size_t E = (size_t)s->heads * (size_t)s->D;
    size_t nq = (size_t)s->batch * (size_t)s->Tq * E, nkv = (size_t)s->batch * (size_t)s->Tk * E;
    size_t rows = (size_t)s->batch * (size_t)s->heads * (size_t)s->Tq;
    float *q = vkh_rand(nq, seed, -1, 1), *k = vkh_rand(nkv, seed + 1, -1, 1), *v = vkh_rand(nkv, seed + 2, -1, 1);
    float *out = vkh_rand(nq, seed + 3, -1, 1), *dout = vkh_rand(nq, seed + 4, -1, 1);
    float *lse = vkh_rand(rows, seed + 5, 2, 4), *delta = vkh_rand(rows, seed + 6, -1, 1);
    float *stale_q = vkh_rand(nq, seed + 7, -1, 1), *stale_kv = vkh_rand(nkv, seed + 8, -1, 1);
    float *stale_rows = vkh_rand(rows, seed + 9, -1, 1), *stale_kv2 = vkh_rand(nkv, seed + 10, -1, 1);

    rt_params p = params_of(s, 0, 0);
    vkh_arg fwd[5] = {{nq, false, q}, {nkv, false, k}, {nkv, false, v}, {nq, false, stale_q}, {rows, false, stale_rows}};
    check(RT_K_ATTN_FWD, &p, 5, fwd, s->label);

    for (int accum = 0; accum < 2; accum++) {
        p = params_of(s, accum, accum);
        vkh_arg bq[8] = {{nq, false, q},     {nkv, false, k},        {nkv, false, v},
                         {nq, false, out},   {nq, false, dout},      {rows, false, lse},
                         {rows, false, stale_rows}, {nq, false, stale_q}};
        check(RT_K_ATTN_BWD_Q, &p, 8, bq, s->label);
        vkh_arg bkv[8] = {{nq, false, q},      {nkv, false, k},      {nkv, false, v},
                          {nq, false, dout},   {rows, false, lse},   {rows, false, delta},
                          {nkv, false, stale_kv}, {nkv, false, stale_kv2}};
        check(RT_K_ATTN_BWD_KV, &p, 8, bkv, s->label);
        bkv[6].count = 0; /* dv only */
        check(RT_K_ATTN_BWD_KV, &p, 8, bkv, s->label);
        bkv[6].count = nkv, bkv[7].count = 0; /* dk only */
        check(RT_K_ATTN_BWD_KV, &p, 8, bkv, s->label);
    }
    p = params_of(s, 0, 0);
    vkh_arg delta_only[8] = {{nq, false, q},   {nkv, false, k},    {nkv, false, v},   {nq, false, out},
                             {nq, false, dout}, {rows, false, lse}, {rows, false, stale_rows}, {0, false, NULL}};
    check(RT_K_ATTN_BWD_Q, &p, 8, delta_only, s->label);
    free(q), free(k), free(v), free(out), free(dout), free(lse), free(delta);
    free(stale_q), free(stale_kv), free(stale_rows), free(stale_kv2);
}

static void test_attention_shapes(void **state)
{
    (void)state;
    assert_non_null(vkh_vulkan());
    static const attn_shape shapes[] = {
        {2, 3, 5, 7, 5, false, "2x3 heads, Tq 5, Tk 7, D 5"},
        {3, 2, 37, 29, 8, true, "causal, 37 queries over 29 keys"},
        {1, 4, 6, 11, 1, true, "D 1, causal, Tq < Tk"},
        {2, 1, 9, 4, 6, true, "causal, Tq > Tk"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(&shapes[i], 10 + 20 * (unsigned)i);
}

/* About 3000 * (64/4 + 1) = 51,000 loop iterations per invocation on
 * the long side: within lavapipe's 65,535, which would silently cut
 * the sums short past it. */
static void test_attention_long_sequences(void **state)
{
    (void)state;
    assert_non_null(vkh_vulkan());
    attn_shape keys = {1, 1, 3, 3000, 64, false, "3000 keys, D 64"};
    check_shape(&keys, 200);
    attn_shape queries = {1, 1, 3000, 3, 64, false, "3000 queries, D 64"};
    check_shape(&queries, 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_shapes),
        cmocka_unit_test(test_attention_long_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
