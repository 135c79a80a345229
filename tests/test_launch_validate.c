/* rt_launch_validate: the launches it accepts and the ones it rejects
 * (with a message naming the kernel), and rt_kernel_name. */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/rt_error.h"

static char g_buf; /* non-NULL rt_buffer stand-in */

static rt_view view(size_t elems)
{
    return (rt_view){elems ? (rt_buffer *)(void *)&g_buf : NULL, 0, elems * 4};
}

static void expect_rejected(const rt_launch *l, const char *why)
{
    rt_error_clear();
    if (rt_launch_validate(l) != VKT_ERR_INVALID_ARG)
        fail_msg("accepted a launch with %s", why);
    const char *name = rt_kernel_name(l->kernel);
    const char *msg = rt_error_message();
    if ((unsigned)l->kernel < RT_K_COUNT && strncmp(msg, name, strlen(name)) != 0)
        fail_msg("message for %s does not name the kernel: '%s'", why, msg);
}

static void expect_accepted(const rt_launch *l, const char *what)
{
    if (rt_launch_validate(l) != VKT_OK)
        fail_msg("rejected %s: %s", what, rt_error_message());
}

/* C[M, N] = A[M, K] B[K, N] over 3 batches. */
static rt_launch gemm_launch(void)
{
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_GEMM;
    l.nargs = 4;
    int M = 5, N = 6, K = 7, batch = 3, lda = 8, ldb = 6, ldc = 9;
    int v[15] = {M, N, K, 0, 0, lda, ldb, ldc, batch, 50, 42, 60, 0, 0, 0};
    memcpy(l.params.i, v, sizeof v);
    l.args[0] = view(2 * 50 + 4 * 8 + 7);  /* (batch-1)*strideA + (M-1)*lda + K */
    l.args[1] = view(2 * 42 + 6 * 6 + 6);  /* (batch-1)*strideB + (K-1)*ldb + N */
    l.args[2] = view(2 * 60 + 4 * 9 + 6);  /* (batch-1)*strideC + (M-1)*ldc + N */
    return l;
}

static void test_validate_gemm(void **state)
{
    (void)state;
    rt_launch l = gemm_launch();
    expect_accepted(&l, "a batched gemm");
    l.args[0].size -= 4;
    expect_rejected(&l, "A one element short");
    l = gemm_launch();
    l.args[2].size -= 4;
    expect_rejected(&l, "C one element short");
    l = gemm_launch();
    l.params.i[14] = 1; /* reduce_batch: C is one matrix */
    l.args[2] = view(4 * 9 + 6);
    expect_accepted(&l, "reduce_batch with a single C");
    l = gemm_launch();
    l.params.i[5] = 6;
    expect_rejected(&l, "lda < K");
    l = gemm_launch();
    l.params.i[3] = 1; /* transA: A is [K, M], lda >= M */
    l.params.i[5] = 5;
    l.args[0] = view(2 * 50 + 6 * 5 + 5);
    expect_accepted(&l, "transA");
    l.args[0].size -= 4;
    expect_rejected(&l, "transA A short");
    l = gemm_launch();
    l.params.i[4] = 1; /* transB: B is [N, K], ldb >= K */
    expect_rejected(&l, "transB with ldb < K");
    l.params.i[6] = 7;
    l.args[1] = view(2 * 42 + 5 * 7 + 7);
    expect_accepted(&l, "transB");
    l = gemm_launch();
    l.params.i[12] = 2;
    expect_rejected(&l, "bias_mode 2 without bias");
    l.args[3] = view(6);
    expect_accepted(&l, "bias[N]");
    l.params.i[12] = 1;
    expect_accepted(&l, "bias[M] (6 >= M = 5)");
    l.args[3] = view(4);
    expect_rejected(&l, "bias[M] short");
    l.params.i[12] = 3;
    expect_rejected(&l, "bias_mode 3");
    l = gemm_launch();
    l.params.i[8] = 0;
    expect_rejected(&l, "batch 0");
    l = gemm_launch();
    l.params.i[9] = -1;
    expect_rejected(&l, "a negative stride");
    l = gemm_launch();
    l.params.i[13] = 2;
    expect_rejected(&l, "accum 2");
    l = gemm_launch();
    l.params.i[0] = 0; /* an empty product needs no A or C */
    l.args[0] = view(0);
    l.args[2] = view(0);
    expect_accepted(&l, "M = 0 with A and C absent");
}

static void test_validate_rejects_bad_launches(void **state)
{
    (void)state;
    rt_launch l;
    memset(&l, 0, sizeof l);

    /* kernel id and nargs */
    l.kernel = RT_K_COUNT;
    expect_rejected(&l, "an unknown kernel");
    l.kernel = (rt_kernel)-1;
    expect_rejected(&l, "a negative kernel id");
    l.kernel = RT_K_FILL;
    l.nargs = RT_MAX_ARGS + 1;
    expect_rejected(&l, "too many args");

    /* act_fwd: shapes, enums, sizes, unused slots */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_FWD;
    l.nargs = 2;
    l.params.i[0] = 10;
    l.args[0] = view(10), l.args[1] = view(10);
    expect_accepted(&l, "act_fwd");
    l.params.i[0] = -1;
    expect_rejected(&l, "a negative count");
    l.params.i[0] = 10;
    l.params.i[1] = 6;
    expect_rejected(&l, "act 6");
    l.params.i[1] = -1;
    expect_rejected(&l, "act -1");
    l.params.i[1] = RT_ACT_TANH;
    l.args[1] = view(9);
    expect_rejected(&l, "y one element short");
    l.args[1] = view(10);
    l.args[1].offset = 2;
    expect_rejected(&l, "a misaligned view");
    l.args[1].offset = 0;
    l.args[1].buf = NULL;
    expect_rejected(&l, "a view without a buffer");
    l.args[1] = view(10);
    l.nargs = 3;
    l.args[2] = view(1);
    expect_rejected(&l, "a view in an unused slot");
    l.args[2] = view(0);
    expect_accepted(&l, "an empty view in an unused slot");
    l.nargs = 1;
    expect_rejected(&l, "y missing (nargs too small)");

    /* act_bwd: which of x and y is optional depends on act */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_BWD;
    l.nargs = 4;
    l.params.i[0] = 8, l.params.i[1] = RT_ACT_RELU;
    l.args[1] = view(8), l.args[2] = view(8), l.args[3] = view(8);
    expect_accepted(&l, "relu bwd without x");
    l.params.i[1] = RT_ACT_GELU;
    expect_rejected(&l, "gelu bwd without x");
    l.args[0] = view(8), l.args[1] = view(0);
    expect_accepted(&l, "gelu bwd without y");
    l.params.i[2] = 2;
    expect_rejected(&l, "accum 2");

    /* size overflow */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_IM2COL;
    l.nargs = 2;
    int huge[14] = {1 << 30, 1 << 30, 1, 1, 1 << 20, 1 << 20, 1, 1, 0, 0, 1, 1, 1 << 20, 1 << 20};
    memcpy(l.params.i, huge, sizeof huge);
    l.args[0] = view(1), l.args[1] = view(1);
    expect_rejected(&l, "sizes that overflow");
    assert_non_null(strstr(rt_error_message(), "overflow"));

    /* float parameter ranges */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_DROPOUT_FWD;
    l.nargs = 3;
    l.params.i[0] = 4;
    l.params.f[0] = 0.5f;
    l.args[0] = view(4), l.args[1] = view(4), l.args[2] = view(RT_SC_COUNT);
    expect_accepted(&l, "dropout");
    l.params.i[3] = INT32_MAX - 4; /* a part that ends at the last int32 index */
    expect_accepted(&l, "dropout at the end of a huge batch");
    l.params.i[3] = INT32_MAX - 3;
    expect_rejected(&l, "first");
    l.params.i[3] = -1;
    expect_rejected(&l, "first");
    l.params.i[3] = 0;
    l.params.f[0] = 1.5f;
    expect_rejected(&l, "dropout p 1.5");
    l.params.f[0] = NAN;
    expect_rejected(&l, "dropout p NaN");
    l.params.f[0] = 0.5f;
    l.args[2] = view(RT_SC_COUNT - 1);
    expect_rejected(&l, "a short scalars buffer");

    /* pooling: padding above half the kernel */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_AVGPOOL_FWD;
    l.nargs = 2;
    int pool[11] = {2, 5, 5, 3, 3, 1, 1, 1, 1, 5, 5};
    memcpy(l.params.i, pool, sizeof pool);
    l.args[0] = view(50), l.args[1] = view(50);
    expect_accepted(&l, "avgpool");
    l.params.i[7] = 2;
    expect_rejected(&l, "padding above half the kernel");
    l.params.i[7] = 1;
    l.params.i[5] = 0;
    expect_rejected(&l, "stride 0");

    /* batch norm: required and optional args, one value per channel */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_BN_TRAIN_FWD;
    l.nargs = 8;
    l.params.i[0] = 2, l.params.i[1] = 3, l.params.i[2] = 4;
    l.params.f[0] = 1e-5f, l.params.f[1] = 0.1f;
    for (int i = 0; i < 8; i++)
        l.args[i] = view(i == 0 || i == 3 ? 24 : 3);
    expect_accepted(&l, "bn_train_fwd");
    l.args[7] = view(0);
    expect_rejected(&l, "running_var missing");
    l.args[7] = view(3);
    l.params.i[0] = 1, l.params.i[2] = 1;
    expect_rejected(&l, "one value per channel");
    l.params.i[0] = 2;
    l.params.f[1] = 2;
    expect_rejected(&l, "momentum 2");

    memset(&l, 0, sizeof l);
    l.kernel = RT_K_BN_BWD;
    l.nargs = 8;
    l.params.i[0] = 2, l.params.i[1] = 3, l.params.i[2] = 4;
    for (int i = 0; i < 5; i++)
        l.args[i] = view(i < 2 ? 24 : 3);
    expect_accepted(&l, "bn_bwd with every output absent");
    l.args[6] = view(2);
    expect_rejected(&l, "dgamma present but short");

    /* copy2d: overlapping destination rows, broadcast source */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_COPY2D;
    l.nargs = 2;
    int c2d[7] = {4, 5, 0, 5, 0, 0, 0};
    memcpy(l.params.i, c2d, sizeof c2d);
    l.args[0] = view(5), l.args[1] = view(20);
    expect_accepted(&l, "copy2d broadcasting one source row");
    l.params.i[3] = 4;
    expect_rejected(&l, "overlapping destination rows");

    /* sgd: momentum buffer required only with momentum */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_SGD;
    l.nargs = 4;
    l.params.i[0] = 3;
    l.args[0] = view(3), l.args[1] = view(3), l.args[3] = view(RT_SC_COUNT);
    expect_accepted(&l, "sgd without momentum");
    l.params.i[1] = 1;
    expect_rejected(&l, "momentum without a buffer");
    l.params.i[1] = 0, l.params.i[2] = 1;
    expect_rejected(&l, "nesterov without momentum");

    /* adamw: beta1 must be < 1 */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ADAMW;
    l.nargs = 5;
    l.params.i[0] = 3;
    l.params.f[0] = 0.9f, l.params.f[1] = 0.999f, l.params.f[2] = 1e-8f;
    for (int i = 0; i < 4; i++)
        l.args[i] = view(3);
    l.args[4] = view(RT_SC_COUNT);
    expect_accepted(&l, "adamw");
    l.params.f[0] = 1;
    expect_rejected(&l, "beta1 = 1");
}

/* Views into distinct stand-in buffers, for the aliasing rules. */
static char g_bufs[4];

static rt_view view_in(int buf, size_t offset_elems, size_t elems)
{
    return (rt_view){(rt_buffer *)(void *)&g_bufs[buf], offset_elems * 4, elems * 4};
}

static void test_validate_masks_and_aliasing(void **state)
{
    (void)state;
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_FWD;
    l.nargs = 3;
    l.params.i[0] = 33, l.params.i[1] = RT_ACT_RELU6, l.params.i[2] = 1;
    l.args[0] = view_in(0, 0, 33), l.args[1] = view_in(1, 0, 33), l.args[2] = view_in(2, 0, 2);
    expect_accepted(&l, "relu6 forward writing a 2-word mask for 33 elements");
    l.args[2] = view_in(2, 0, 1);
    expect_rejected(&l, "a mask one word short");
    l.args[2] = view_in(2, 0, 2);
    l.params.i[1] = RT_ACT_SIGMOID;
    expect_rejected(&l, "a mask for sigmoid");
    l.params.i[1] = RT_ACT_RELU, l.params.i[2] = 2;
    expect_rejected(&l, "write_mask 2");
    l.params.i[2] = 1;
    l.args[1] = view_in(0, 0, 33);
    expect_accepted(&l, "in place (x and y the same view)");
    l.args[1] = view_in(0, 1, 33);
    expect_rejected(&l, "y shifted one element over x");
    l.args[1] = view_in(1, 0, 33), l.args[2] = view_in(1, 32, 2);
    expect_rejected(&l, "the mask overlapping y");
    l.args[2] = view_in(1, 33, 2);
    expect_accepted(&l, "the mask right after y in one buffer");
    l.params.i[2] = 0, l.args[2] = view_in(2, 0, 2);
    expect_rejected(&l, "a mask without write_mask");

    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_BWD;
    l.nargs = 5;
    l.params.i[0] = 64, l.params.i[1] = RT_ACT_RELU, l.params.i[3] = 1;
    l.args[2] = view_in(0, 0, 64), l.args[3] = view_in(1, 0, 64), l.args[4] = view_in(2, 0, 2);
    expect_accepted(&l, "relu backward from a mask");
    l.args[1] = view_in(3, 0, 64);
    expect_rejected(&l, "y present with from_mask");
    l.args[1] = view_in(3, 0, 0);
    l.args[4] = view_in(2, 0, 1);
    expect_rejected(&l, "a short mask");
    l.args[4] = view_in(2, 0, 2);
    l.params.i[1] = RT_ACT_TANH;
    expect_rejected(&l, "tanh from a mask");

    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ADD;
    l.nargs = 3;
    l.params.i[0] = 10;
    l.args[0] = view_in(0, 0, 10), l.args[1] = view_in(1, 0, 10), l.args[2] = view_in(1, 0, 10);
    expect_accepted(&l, "add in place over b");
    l.args[2] = view_in(0, 0, 10);
    expect_accepted(&l, "add in place over a");
    l.args[2] = view_in(0, 5, 10);
    expect_rejected(&l, "y half over a");

    /* byte argmax: a word per 4 outputs, windows of at most 255 */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_MAXPOOL_FWD;
    l.nargs = 3;
    int pool[13] = {3, 4, 4, 2, 2, 2, 2, 0, 0, 2, 3, 0, RT_ARGMAX_U8}; /* 3 planes of 2x3 outputs */
    memcpy(l.params.i, pool, sizeof pool);
    l.args[0] = view_in(0, 0, 48), l.args[1] = view_in(1, 0, 18), l.args[2] = view_in(2, 0, 5);
    expect_accepted(&l, "maxpool with 18 byte argmax values in 5 words");
    l.args[2] = view_in(2, 0, 4);
    expect_rejected(&l, "byte argmax one word short");
    l.params.i[12] = RT_ARGMAX_I32;
    expect_rejected(&l, "int32 argmax in 4 words for 18 outputs");
    l.args[2] = view_in(2, 0, 18);
    expect_accepted(&l, "int32 argmax");
    l.params.i[12] = 2;
    expect_rejected(&l, "argmax format 2");
    l.params.i[12] = RT_ARGMAX_U8, l.params.i[3] = 16, l.params.i[4] = 16, l.params.i[1] = 16, l.params.i[2] = 16;
    l.params.i[9] = 1, l.params.i[10] = 1;
    l.args[0] = view_in(0, 0, 3 * 256), l.args[1] = view_in(1, 0, 3), l.args[2] = view_in(2, 0, 1);
    expect_rejected(&l, "byte argmax of a 16x16 window");
    l.params.i[4] = 15;
    expect_accepted(&l, "byte argmax of a 16x15 window");

    l.kernel = RT_K_MAXPOOL_BWD; /* args: dy, argmax, dx */
    l.params.i[11] = 1;
    l.args[0] = view_in(1, 0, 3), l.args[1] = view_in(2, 0, 1), l.args[2] = view_in(0, 0, 3 * 256);
    expect_accepted(&l, "maxpool backward with byte argmax, accum");
}

static void test_kernel_names(void **state)
{
    (void)state;
    for (int k = 0; k < RT_K_COUNT; k++) {
        const char *name = rt_kernel_name((rt_kernel)k);
        assert_string_not_equal(name, "unknown kernel");
        for (int j = 0; j < k; j++)
            assert_string_not_equal(name, rt_kernel_name((rt_kernel)j));
    }
    assert_string_equal(rt_kernel_name(RT_K_COUNT), "unknown kernel");
    assert_string_equal(rt_kernel_name(RT_K_BN_BWD), "bn_bwd");
}

/* x[2, 3, 5, 6] with padding 1 -> 5x6 output: 3x3 tiles of 2x2 a plane,
 * P = 18 tiles; C = 3 input, K = 4 output channels. */
static rt_launch wino_launch(rt_kernel k)
{
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.nargs = 3;
    int v[8] = {2, 3, 5, 6, 1, 1, 5, 6};
    if (k == RT_K_WINO_OUTPUT || k == RT_K_WINO_OUTPUT_BWD) {
        int o[4] = {2, 4, 5, 6};
        memcpy(l.params.i, o, sizeof o);
    } else if (k == RT_K_WINO_WEIGHT || k == RT_K_WINO_WEIGHT_BWD) {
        l.params.i[0] = 4, l.params.i[1] = 3;
    } else {
        memcpy(l.params.i, v, sizeof v);
    }
    switch (k) {
    case RT_K_WINO_WEIGHT: l.args[0] = view(4 * 3 * 9), l.args[1] = view(16 * 12); break;
    case RT_K_WINO_WEIGHT_BWD: l.args[0] = view(16 * 12), l.args[1] = view(4 * 3 * 9); break;
    case RT_K_WINO_INPUT: l.args[0] = view(2 * 3 * 30), l.args[1] = view(16 * 3 * 18); break;
    case RT_K_WINO_INPUT_BWD: l.args[0] = view(16 * 3 * 18), l.args[1] = view(2 * 3 * 30); break;
    case RT_K_WINO_OUTPUT: l.args[0] = view(16 * 4 * 18), l.args[2] = view(2 * 4 * 30); break;
    default: l.args[0] = view(2 * 4 * 30), l.args[1] = view(16 * 4 * 18); break;
    }
    return l;
}

static void test_validate_winograd(void **state)
{
    (void)state;
    const rt_kernel kernels[] = {RT_K_WINO_WEIGHT, RT_K_WINO_WEIGHT_BWD, RT_K_WINO_INPUT,
                                 RT_K_WINO_INPUT_BWD, RT_K_WINO_OUTPUT, RT_K_WINO_OUTPUT_BWD};
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
        rt_launch l = wino_launch(kernels[k]);
        expect_accepted(&l, rt_kernel_name(kernels[k]));
        for (int a = 0; a < 3; a++) {
            if (!l.args[a].size)
                continue;
            l.args[a].size -= 4;
            expect_rejected(&l, "an argument one element short");
            l = wino_launch(kernels[k]);
        }
        l.params.i[1] = -1;
        expect_rejected(&l, "a negative channel count");
    }
    rt_launch l = wino_launch(RT_K_WINO_INPUT);
    l.params.i[7] = 7; /* OW 7: 4 tiles a row, P = 24 */
    expect_rejected(&l, "V sized for fewer tiles");
    l.params.i[4] = -1;
    expect_rejected(&l, "negative padding");
    l = wino_launch(RT_K_WINO_INPUT_BWD);
    l.params.i[8] = 2;
    expect_rejected(&l, "accum 2");
    l = wino_launch(RT_K_WINO_WEIGHT_BWD);
    l.params.i[2] = 1;
    expect_accepted(&l, "wino_weight_bwd accum");
    l = wino_launch(RT_K_WINO_OUTPUT);
    l.args[1] = view(4);
    expect_accepted(&l, "wino_output with bias");
    l.args[1] = view(3);
    expect_rejected(&l, "bias short");
}

/* Attention on batch 2, heads 3, Tq 4, Tk 5, D 6: q-side 144, kv-side
 * 180, row statistics 24 elements; every argument in its own range of
 * one buffer (outputs must overlap nothing). */
static const size_t attn_q = 2 * 4 * 18, attn_kv = 2 * 5 * 18, attn_rows = 2 * 3 * 4;

static rt_launch attn_launch(rt_kernel k)
{
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    int v[6] = {2, 3, 4, 5, 6, 1};
    memcpy(l.params.i, v, sizeof v);
    l.params.f[0] = 0.4f;
    size_t sizes[3][8] = {{attn_q, attn_kv, attn_kv, attn_q, attn_rows},
                          {attn_q, attn_kv, attn_kv, attn_q, attn_q, attn_rows, attn_rows, attn_q},
                          {attn_q, attn_kv, attn_kv, attn_q, attn_rows, attn_rows, attn_kv, attn_kv}};
    const size_t *sz = sizes[k - RT_K_ATTN_FWD];
    size_t at = 0;
    l.nargs = k == RT_K_ATTN_FWD ? 5 : 8;
    for (int a = 0; a < l.nargs; a++) {
        l.args[a] = view_in(3, at, sz[a]);
        at += sz[a];
    }
    return l;
}

static void test_validate_attention(void **state)
{
    (void)state;
    for (rt_kernel k = RT_K_ATTN_FWD; k <= RT_K_ATTN_BWD_KV; k++) {
        rt_launch l = attn_launch(k);
        expect_accepted(&l, rt_kernel_name(k));
        for (int a = 0; a < l.nargs; a++) {
            l.args[a].size -= 4;
            expect_rejected(&l, "an argument one element short");
            l = attn_launch(k);
        }
        l.params.i[3] = 0;
        expect_rejected(&l, "no keys");
        l = attn_launch(k);
        l.params.i[4] = RT_ATTN_MAX_HEAD_DIM + 1;
        expect_rejected(&l, "a head dimension over the limit");
        l = attn_launch(k);
        l.params.i[5] = 2;
        expect_rejected(&l, "causal 2");
        l = attn_launch(k);
        l.params.f[0] = NAN;
        expect_rejected(&l, "a NaN scale");
        l.params.f[0] = 0;
        expect_rejected(&l, "a zero scale");
        l = attn_launch(k);
        l.args[l.nargs - 1] = l.args[0];
        expect_rejected(&l, "an output on an input");
    }
    rt_launch l = attn_launch(RT_K_ATTN_BWD_KV);
    l.args[6] = (rt_view){NULL, 0, 0};
    expect_accepted(&l, "attn_bwd_kv without dk");
    l.args[7] = l.args[6];
    expect_accepted(&l, "attn_bwd_kv without dk or dv");
    l = attn_launch(RT_K_ATTN_BWD_KV);
    l.args[7] = l.args[6];
    expect_rejected(&l, "dk and dv the same view");
    l = attn_launch(RT_K_ATTN_BWD_Q);
    l.args[7] = (rt_view){NULL, 0, 0};
    expect_accepted(&l, "attn_bwd_q without dq");
    l.args[6] = (rt_view){NULL, 0, 0};
    expect_rejected(&l, "attn_bwd_q without delta");
    l = attn_launch(RT_K_ATTN_FWD);
    l.params.i[0] = 0, l.params.i[2] = 0;
    expect_accepted(&l, "attn_fwd on an empty batch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_gemm),
        cmocka_unit_test(test_validate_rejects_bad_launches),
        cmocka_unit_test(test_validate_winograd),
        cmocka_unit_test(test_validate_masks_and_aliasing),
        cmocka_unit_test(test_kernel_names),
        cmocka_unit_test(test_validate_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
