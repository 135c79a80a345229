/* Launch validation, shared by every backend.
 *
 * Kernels trust their arguments: they index with the shape parameters
 * and never look at a view's size. This file is what makes that safe.
 * For each kernel it checks the parameters (non-negative shapes, sizes
 * whose byte counts cannot overflow, flags and enums in range) and
 * derives how many elements each view must hold; a launch that passes
 * cannot make any backend touch memory outside its views.
 *
 * Every rule function below reads like the kernel's spec in kernels.h:
 * it names each parameter it uses and each argument with the number of
 * elements the kernel may read or write there. */
#include <float.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "rt_error.h"

/* Every argument holds 32-bit words (float, int32 or uint32). */
#define ELEM_BYTES 4

/* Largest element count a view may need: its byte count fits size_t and
 * int64_t, with room for kernels to add two such counts. */
#define MAX_ELEMS_64 ((uint64_t)INT64_MAX / ELEM_BYTES)
#define MAX_ELEMS ((int64_t)(SIZE_MAX / ELEM_BYTES < MAX_ELEMS_64 ? SIZE_MAX / ELEM_BYTES : MAX_ELEMS_64))

static const char *const kernel_names[RT_K_COUNT] = {
    [RT_K_GEMM] = "gemm",
    [RT_K_IM2COL] = "im2col",
    [RT_K_COL2IM] = "col2im",
    [RT_K_ACT_FWD] = "act_fwd",
    [RT_K_ACT_BWD] = "act_bwd",
    [RT_K_ADD] = "add",
    [RT_K_COPY] = "copy",
    [RT_K_COPY2D] = "copy2d",
    [RT_K_FILL] = "fill",
    [RT_K_BIAS_GRAD] = "bias_grad",
    [RT_K_MAXPOOL_FWD] = "maxpool_fwd",
    [RT_K_MAXPOOL_BWD] = "maxpool_bwd",
    [RT_K_AVGPOOL_FWD] = "avgpool_fwd",
    [RT_K_AVGPOOL_BWD] = "avgpool_bwd",
    [RT_K_GAP_FWD] = "gap_fwd",
    [RT_K_GAP_BWD] = "gap_bwd",
    [RT_K_BN_TRAIN_FWD] = "bn_train_fwd",
    [RT_K_BN_EVAL_FWD] = "bn_eval_fwd",
    [RT_K_BN_BWD] = "bn_bwd",
    [RT_K_LN_FWD] = "ln_fwd",
    [RT_K_LN_BWD] = "ln_bwd",
    [RT_K_DROPOUT_FWD] = "dropout_fwd",
    [RT_K_DROPOUT_BWD] = "dropout_bwd",
    [RT_K_EMBED_FWD] = "embed_fwd",
    [RT_K_EMBED_BWD] = "embed_bwd",
    [RT_K_SOFTMAX_CE_FWD] = "softmax_ce_fwd",
    [RT_K_SOFTMAX_CE_BWD] = "softmax_ce_bwd",
    [RT_K_MSE_FWD] = "mse_fwd",
    [RT_K_MSE_BWD] = "mse_bwd",
    [RT_K_GRAD_NORM] = "grad_norm",
    [RT_K_SGD] = "sgd",
    [RT_K_ADAMW] = "adamw",
    [RT_K_PACK_F16] = "pack_f16",
    [RT_K_UNPACK_F16] = "unpack_f16",
    [RT_K_GATHER_ROWS] = "gather_rows",
    [RT_K_SCATTER_ROWS] = "scatter_rows",
    [RT_K_WINO_WEIGHT] = "wino_weight",
    [RT_K_WINO_WEIGHT_BWD] = "wino_weight_bwd",
    [RT_K_WINO_INPUT] = "wino_input",
    [RT_K_WINO_INPUT_BWD] = "wino_input_bwd",
    [RT_K_WINO_OUTPUT] = "wino_output",
    [RT_K_WINO_OUTPUT_BWD] = "wino_output_bwd",
    [RT_K_ATTN_FWD] = "attn_fwd",
    [RT_K_ATTN_BWD_Q] = "attn_bwd_q",
    [RT_K_ATTN_BWD_KV] = "attn_bwd_kv",
    [RT_K_DWCONV_FWD] = "dwconv_fwd",
    [RT_K_DWCONV_BWD_INPUT] = "dwconv_bwd_input",
    [RT_K_DWCONV_BWD_WEIGHT] = "dwconv_bwd_weight",
};

const char *rt_kernel_name(rt_kernel k)
{
    if ((unsigned)k >= RT_K_COUNT || !kernel_names[k])
        return "unknown kernel";
    return kernel_names[k];
}

/* What one argument slot must hold. */
typedef struct arg_rule {
    const char *name; /* NULL: the kernel does not use this slot */
    int64_t elems;    /* elements the kernel may touch */
    bool optional;    /* may be absent (size 0) */
} arg_rule;

/* State of one validation: the first failure is reported, later checks
 * become no-ops so rule functions need no error plumbing. */
typedef struct checker {
    const rt_launch *l;
    const char *kname;
    bool failed;
    arg_rule args[RT_MAX_ARGS];
} checker;

static void fail(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(checker *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt_error(VKT_ERR_INVALID_ARG, "%s: %s", c->kname, msg);
    c->failed = true;
}

/* ---- parameters ---- */

/* An integer parameter that must be >= min. */
static int64_t dim(checker *c, int slot, const char *name, int64_t min)
{
    int64_t v = c->l->params.i[slot];
    if (v < min) {
        fail(c, "%s (i[%d]) is %lld, must be >= %lld", name, slot, (long long)v, (long long)min);
        return min;
    }
    return v;
}

/* An enum parameter in [0, count). */
static int choice(checker *c, int slot, const char *name, int count)
{
    int v = c->l->params.i[slot];
    if (v < 0 || v >= count) {
        fail(c, "%s (i[%d]) is %d, must be in 0..%d", name, slot, v, count - 1);
        return 0;
    }
    return v;
}

static bool flag(checker *c, int slot, const char *name)
{
    return choice(c, slot, name, 2) != 0;
}

/* A float parameter in [lo, hi] (or [lo, hi) when hi_open); NaN fails. */
static float frange(checker *c, int slot, const char *name, float lo, float hi, bool hi_open)
{
    float v = c->l->params.f[slot];
    bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    if (!ok)
        fail(c, "%s (f[%d]) is %g, must be in [%g, %g%s", name, slot, (double)v, (double)lo, (double)hi,
             hi_open ? ")" : "]");
    return ok ? v : lo;
}

/* A float parameter that must be >= 0 (infinity allowed, NaN not). */
static float fnonneg(checker *c, int slot, const char *name)
{
    float v = c->l->params.f[slot];
    if (!(v >= 0)) {
        fail(c, "%s (f[%d]) is %g, must be >= 0", name, slot, (double)v);
        return 0;
    }
    return v;
}

/* ---- size arithmetic: an overflow is reported and yields 0 ---- */

static int64_t mul(checker *c, int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > MAX_ELEMS) {
        fail(c, "sizes overflow (%lld x %lld elements)", (long long)a, (long long)b);
        return 0;
    }
    return r;
}

static int64_t add(checker *c, int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r > MAX_ELEMS) {
        fail(c, "sizes overflow (%lld + %lld elements)", (long long)a, (long long)b);
        return 0;
    }
    return r;
}

/* Elements of a tensor with dims d[0..n). The product of its non-zero
 * dims must fit as well, so a kernel may multiply any subset of the dims
 * (say batch * C before it learns that W is 0) without overflow. */
static int64_t tensor_elems(checker *c, int n, const int64_t *d)
{
    int64_t nonzero = 1;
    bool empty = false;
    for (int i = 0; i < n; i++) {
        empty |= d[i] == 0;
        nonzero = mul(c, nonzero, d[i] > 0 ? d[i] : 1);
    }
    return empty ? 0 : nonzero;
}

#define ELEMS(c, ...) \
    tensor_elems(c, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* Elements spanned by a rows x cols matrix with leading dimension ld. */
static int64_t matrix_span(checker *c, int64_t rows, int64_t cols, int64_t ld)
{
    if (rows == 0 || cols == 0)
        return 0;
    return add(c, mul(c, rows - 1, ld), cols);
}

/* Elements spanned by `count` blocks of `span` elements, `stride` apart.
 * The offset of the last block must fit even when blocks are empty. */
static int64_t batch_span(checker *c, int64_t count, int64_t stride, int64_t span)
{
    int64_t last = count > 0 ? mul(c, count - 1, stride) : 0;
    return count == 0 || span == 0 ? 0 : add(c, last, span);
}

/* ---- arguments ---- */

static void arg(checker *c, int slot, const char *name, int64_t elems)
{
    c->args[slot] = (arg_rule){name, elems, false};
}

static void opt_arg(checker *c, int slot, const char *name, int64_t elems)
{
    c->args[slot] = (arg_rule){name, elems, true};
}

static void scalars_arg(checker *c, int slot)
{
    arg(c, slot, "scalars", RT_SC_COUNT);
}

/* ---- per-kernel rules ---- */

static void rules_gemm(checker *c)
{
    int64_t M = dim(c, 0, "M", 0), N = dim(c, 1, "N", 0), K = dim(c, 2, "K", 0);
    bool ta = flag(c, 3, "transA"), tb = flag(c, 4, "transB");
    int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;
    int64_t b_rows = tb ? N : K, b_cols = tb ? K : N;
    int64_t lda = dim(c, 5, "lda", a_cols > 1 ? a_cols : 1);
    int64_t ldb = dim(c, 6, "ldb", b_cols > 1 ? b_cols : 1);
    int64_t ldc = dim(c, 7, "ldc", N > 1 ? N : 1);
    int64_t batch = dim(c, 8, "batch", 1);
    int64_t sa = dim(c, 9, "strideA", 0), sb = dim(c, 10, "strideB", 0), sc = dim(c, 11, "strideC", 0);
    int bias_mode = choice(c, 12, "bias_mode", 3);
    flag(c, 13, "accum");
    bool reduce = flag(c, 14, "reduce_batch");

    arg(c, 0, "A", batch_span(c, batch, sa, matrix_span(c, a_rows, a_cols, lda)));
    arg(c, 1, "B", batch_span(c, batch, sb, matrix_span(c, b_rows, b_cols, ldb)));
    int64_t c_span = matrix_span(c, M, N, ldc);
    arg(c, 2, "C", reduce ? c_span : batch_span(c, batch, sc, c_span));
    if (bias_mode == 0)
        opt_arg(c, 3, "bias", 0);
    else
        arg(c, 3, "bias", bias_mode == 1 ? M : N);
}

/* Shared by IM2COL and COL2IM: returns the x and col element counts. */
static void conv_geometry(checker *c, int64_t *x_elems, int64_t *col_elems)
{
    int64_t batch = dim(c, 0, "batch", 0), C = dim(c, 1, "C", 0);
    int64_t H = dim(c, 2, "H", 0), W = dim(c, 3, "W", 0);
    int64_t KH = dim(c, 4, "KH", 1), KW = dim(c, 5, "KW", 1);
    dim(c, 6, "SH", 1), dim(c, 7, "SW", 1);
    dim(c, 8, "PH", 0), dim(c, 9, "PW", 0);
    dim(c, 10, "DH", 1), dim(c, 11, "DW", 1);
    int64_t OH = dim(c, 12, "OH", 0), OW = dim(c, 13, "OW", 0);
    *x_elems = ELEMS(c, batch, C, H, W);
    *col_elems = ELEMS(c, batch, C, KH, KW, OH, OW);
}

static void rules_im2col(checker *c)
{
    int64_t xe, ce;
    conv_geometry(c, &xe, &ce);
    arg(c, 0, "x", xe);
    arg(c, 1, "col", ce);
}

static void rules_col2im(checker *c)
{
    int64_t xe, ce;
    conv_geometry(c, &xe, &ce);
    flag(c, 14, "accum");
    arg(c, 0, "col", ce);
    arg(c, 1, "dx", xe);
}

/* Words of a one-bit-per-element mask. */
static int64_t mask_words(int64_t n)
{
    return n / 32 + (n % 32 != 0);
}

/* A derivative mask exists for the piecewise-linear activations only. */
static void mask_act(checker *c, int act, const char *mode)
{
    if (act != RT_ACT_RELU && act != RT_ACT_RELU6)
        fail(c, "%s needs act RELU or RELU6, got %d", mode, act);
}

static void rules_act_fwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    int act = choice(c, 1, "act", RT_ACT_TANH + 1);
    bool mask = flag(c, 2, "write_mask");
    arg(c, 0, "x", n);
    arg(c, 1, "y", n);
    if (mask) {
        mask_act(c, act, "write_mask");
        arg(c, 2, "mask", mask_words(n));
    }
}

static void rules_act_bwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    int act = choice(c, 1, "act", RT_ACT_TANH + 1);
    flag(c, 2, "accum");
    bool from_mask = flag(c, 3, "from_mask");
    arg(c, 2, "dy", n);
    arg(c, 3, "dx", n);
    if (from_mask) { /* x and y stay unused: absent */
        mask_act(c, act, "from_mask");
        arg(c, 4, "mask", mask_words(n));
        return;
    }
    bool reads_x = act == RT_ACT_GELU || act == RT_ACT_SILU;
    c->args[0] = (arg_rule){"x", n, !reads_x};
    c->args[1] = (arg_rule){"y", n, reads_x};
}

static void rules_add(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "a", n);
    arg(c, 1, "b", n);
    arg(c, 2, "y", n);
}

static void rules_copy(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    flag(c, 1, "accum");
    arg(c, 0, "src", n);
    arg(c, 1, "dst", n);
}

static void rules_copy2d(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), cols = dim(c, 1, "cols", 0);
    int64_t ss = dim(c, 2, "src_stride", 0);
    /* Overlapping destination rows would race between threads. */
    int64_t ds = dim(c, 3, "dst_stride", rows > 1 ? cols : 0);
    int64_t so = dim(c, 4, "src_off", 0), doff = dim(c, 5, "dst_off", 0);
    flag(c, 6, "accum");
    int64_t src_span = matrix_span(c, rows, cols, ss), dst_span = matrix_span(c, rows, cols, ds);
    arg(c, 0, "src", src_span ? add(c, so, src_span) : 0);
    arg(c, 1, "dst", dst_span ? add(c, doff, dst_span) : 0);
}

static void rules_fill(checker *c)
{
    arg(c, 0, "dst", dim(c, 0, "count", 0));
}

static void rules_bias_grad(checker *c)
{
    int64_t outer = dim(c, 0, "outer", 0), C = dim(c, 1, "C", 0), inner = dim(c, 2, "inner", 0);
    flag(c, 3, "accum");
    arg(c, 0, "dy", ELEMS(c, outer, C, inner));
    arg(c, 1, "db", C);
}

/* Shared pooling geometry; returns the x and y element counts. As in
 * PyTorch, planes are not empty and padding is at most half the kernel
 * (so windows of PyTorch's output size are never all padding). */
static void pool_geometry(checker *c, int64_t *x_elems, int64_t *y_elems)
{
    int64_t planes = dim(c, 0, "planes", 0), H = dim(c, 1, "H", 1), W = dim(c, 2, "W", 1);
    int64_t KH = dim(c, 3, "KH", 1), KW = dim(c, 4, "KW", 1);
    dim(c, 5, "SH", 1), dim(c, 6, "SW", 1);
    int64_t PH = dim(c, 7, "PH", 0), PW = dim(c, 8, "PW", 0);
    int64_t OH = dim(c, 9, "OH", 0), OW = dim(c, 10, "OW", 0);
    if (PH > KH / 2 || PW > KW / 2)
        fail(c, "padding %lldx%lld exceeds half the %lldx%lld kernel", (long long)PH, (long long)PW,
             (long long)KH, (long long)KW);
    *x_elems = ELEMS(c, planes, H, W);
    *y_elems = ELEMS(c, planes, OH, OW);
}

/* Words holding ye argmax entries in the format of i[12]. */
static int64_t argmax_words(checker *c, int64_t ye)
{
    int format = choice(c, 12, "argmax_format", RT_ARGMAX_U8 + 1);
    if (format == RT_ARGMAX_I32)
        return ye;
    int64_t window = mul(c, c->l->params.i[3], c->l->params.i[4]);
    if (window > RT_ARGMAX_U8_MAX_WINDOW)
        fail(c, "byte argmax needs KH*KW <= %d, got %lld", RT_ARGMAX_U8_MAX_WINDOW, (long long)window);
    return ye / 4 + (ye % 4 != 0);
}

static void rules_maxpool_fwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    arg(c, 0, "x", xe);
    arg(c, 1, "y", ye);
    arg(c, 2, "argmax", argmax_words(c, ye));
}

static void rules_maxpool_bwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "argmax", argmax_words(c, ye));
    arg(c, 2, "dx", xe);
}

static void rules_avgpool_fwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "count_include_pad");
    arg(c, 0, "x", xe);
    arg(c, 1, "y", ye);
}

static void rules_avgpool_bwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "count_include_pad");
    flag(c, 12, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "dx", xe);
}

static void rules_gap_fwd(checker *c)
{
    int64_t planes = dim(c, 0, "planes", 0), hw = dim(c, 1, "hw", 1);
    arg(c, 0, "x", ELEMS(c, planes, hw));
    arg(c, 1, "y", planes);
}

static void rules_gap_bwd(checker *c)
{
    int64_t planes = dim(c, 0, "planes", 0), hw = dim(c, 1, "hw", 1);
    flag(c, 2, "accum");
    arg(c, 0, "dy", planes);
    arg(c, 1, "dx", ELEMS(c, planes, hw));
}

/* Batch norm shape [N, C, HW]; returns the element count. Batch
 * statistics need two values per channel (PyTorch refuses fewer: the
 * unbiased variance divides by n - 1). */
static int64_t bn_shape(checker *c, int64_t *C, bool batch_stats)
{
    int64_t N = dim(c, 0, "N", 0);
    *C = dim(c, 1, "C", 0);
    int64_t HW = dim(c, 2, "HW", 0);
    int64_t n = ELEMS(c, N, *C, HW), per_channel = ELEMS(c, N, HW);
    if (batch_stats && *C > 0 && per_channel < 2)
        fail(c, "batch statistics need more than one value per channel, got N*HW = %lld", (long long)per_channel);
    return n;
}

static void rules_bn_train_fwd(checker *c)
{
    int64_t C, n = bn_shape(c, &C, true);
    fnonneg(c, 0, "eps");
    frange(c, 1, "momentum", 0, 1, false);
    arg(c, 0, "x", n);
    arg(c, 1, "gamma", C);
    arg(c, 2, "beta", C);
    arg(c, 3, "y", n);
    arg(c, 4, "save_mean", C);
    arg(c, 5, "save_invstd", C);
    arg(c, 6, "running_mean", C);
    arg(c, 7, "running_var", C);
}

static void rules_bn_eval_fwd(checker *c)
{
    int64_t C, n = bn_shape(c, &C, false);
    fnonneg(c, 0, "eps");
    flag(c, 3, "from_batch_stats");
    arg(c, 0, "x", n);
    arg(c, 1, "gamma", C);
    arg(c, 2, "beta", C);
    arg(c, 3, "running_mean", C);
    arg(c, 4, "running_var", C);
    arg(c, 5, "y", n);
}

static void rules_bn_bwd(checker *c)
{
    int64_t C, n = bn_shape(c, &C, true);
    flag(c, 3, "accum_dx");
    flag(c, 4, "accum_dparams");
    arg(c, 0, "x", n);
    arg(c, 1, "dy", n);
    arg(c, 2, "gamma", C);
    arg(c, 3, "save_mean", C);
    arg(c, 4, "save_invstd", C);
    opt_arg(c, 5, "dx", n);
    opt_arg(c, 6, "dgamma", C);
    opt_arg(c, 7, "dbeta", C);
}

static void rules_ln_fwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), D = dim(c, 1, "D", 1);
    fnonneg(c, 0, "eps");
    int64_t n = ELEMS(c, rows, D);
    arg(c, 0, "x", n);
    arg(c, 1, "gamma", D);
    arg(c, 2, "beta", D);
    arg(c, 3, "y", n);
    arg(c, 4, "save_mean", rows);
    arg(c, 5, "save_rstd", rows);
}

static void rules_ln_bwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), D = dim(c, 1, "D", 1);
    flag(c, 2, "accum_dx");
    flag(c, 3, "accum_dparams");
    int64_t n = ELEMS(c, rows, D);
    arg(c, 0, "x", n);
    arg(c, 1, "dy", n);
    arg(c, 2, "gamma", D);
    arg(c, 3, "save_mean", rows);
    arg(c, 4, "save_rstd", rows);
    opt_arg(c, 5, "dx", n);
    opt_arg(c, 6, "dgamma", D);
    opt_arg(c, 7, "dbeta", D);
}

static void rules_dropout_fwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    frange(c, 0, "p", 0, 1, false);
    arg(c, 0, "x", n);
    arg(c, 1, "y", n);
    scalars_arg(c, 2);
}

static void rules_dropout_bwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    flag(c, 2, "accum");
    frange(c, 0, "p", 0, 1, false);
    arg(c, 0, "dy", n);
    arg(c, 1, "dx", n);
    scalars_arg(c, 2);
}

static void rules_embed_fwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), num = dim(c, 1, "num", 0), d = dim(c, 2, "dim", 0);
    arg(c, 0, "idx", rows);
    arg(c, 1, "W", ELEMS(c, num, d));
    arg(c, 2, "y", ELEMS(c, rows, d));
}

/* Winograd F(2x2, 3x3): K x C filter pairs, 16 positions each. */
static int64_t wino_filters(checker *c, int64_t *w_elems)
{
    int64_t K = dim(c, 0, "K", 0), C = dim(c, 1, "C", 0);
    *w_elems = ELEMS(c, K, C, 3, 3);
    return ELEMS(c, 16, K, C);
}

static void rules_wino_weight(checker *c)
{
    int64_t we, ue = wino_filters(c, &we);
    arg(c, 0, "w", we);
    arg(c, 1, "U", ue);
}

static void rules_wino_weight_bwd(checker *c)
{
    int64_t we, ue = wino_filters(c, &we);
    flag(c, 2, "accum");
    arg(c, 0, "dU", ue);
    arg(c, 1, "dw", we);
}

/* Tiles of a WINO_INPUT / WINO_OUTPUT launch: batch * ceil(OH/2) *
 * ceil(OW/2), and the transformed tensor's 16 * ch * tiles elements. */
static int64_t wino_transformed(checker *c, int64_t batch, int64_t ch, int64_t OH, int64_t OW)
{
    return ELEMS(c, 16, ch, batch, (OH + 1) / 2, (OW + 1) / 2);
}

/* Shared by WINO_INPUT and WINO_INPUT_BWD: the x and V element counts. */
static void wino_input_geometry(checker *c, int64_t *x_elems, int64_t *v_elems)
{
    int64_t batch = dim(c, 0, "batch", 0), C = dim(c, 1, "C", 0);
    int64_t H = dim(c, 2, "H", 0), W = dim(c, 3, "W", 0);
    dim(c, 4, "PH", 0), dim(c, 5, "PW", 0);
    int64_t OH = dim(c, 6, "OH", 0), OW = dim(c, 7, "OW", 0);
    *x_elems = ELEMS(c, batch, C, H, W);
    *v_elems = wino_transformed(c, batch, C, OH, OW);
}

static void rules_wino_input(checker *c)
{
    int64_t xe, ve;
    wino_input_geometry(c, &xe, &ve);
    arg(c, 0, "x", xe);
    arg(c, 1, "V", ve);
}

static void rules_wino_input_bwd(checker *c)
{
    int64_t xe, ve;
    wino_input_geometry(c, &xe, &ve);
    flag(c, 8, "accum");
    arg(c, 0, "dV", ve);
    arg(c, 1, "dx", xe);
}

/* Shared by WINO_OUTPUT and WINO_OUTPUT_BWD: the y and M element counts. */
static int64_t wino_output_geometry(checker *c, int64_t *y_elems, int64_t *m_elems)
{
    int64_t batch = dim(c, 0, "batch", 0), K = dim(c, 1, "K", 0);
    int64_t OH = dim(c, 2, "OH", 0), OW = dim(c, 3, "OW", 0);
    *y_elems = ELEMS(c, batch, K, OH, OW);
    *m_elems = wino_transformed(c, batch, K, OH, OW);
    return K;
}

static void rules_wino_output(checker *c)
{
    int64_t ye, me, K = wino_output_geometry(c, &ye, &me);
    arg(c, 0, "M", me);
    opt_arg(c, 1, "bias", K);
    arg(c, 2, "y", ye);
}

static void rules_wino_output_bwd(checker *c)
{
    int64_t ye, me;
    wino_output_geometry(c, &ye, &me);
    arg(c, 0, "dy", ye);
    arg(c, 1, "dM", me);
}

static void rules_rows(checker *c)
{
    int64_t items = dim(c, 0, "items", 0), rows = dim(c, 1, "rows", 0), k = dim(c, 2, "k", 0);
    int64_t w = dim(c, 3, "width", 0);
    bool gather = c->l->kernel == RT_K_GATHER_ROWS;
    arg(c, 0, "src", ELEMS(c, items, gather ? rows : k, w));
    arg(c, 1, "idx", k);
    arg(c, 2, "dst", ELEMS(c, items, gather ? k : rows, w));
}

static void rules_embed_bwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), num = dim(c, 1, "num", 0), d = dim(c, 2, "dim", 0);
    flag(c, 3, "accum");
    arg(c, 0, "idx", rows);
    arg(c, 1, "dy", ELEMS(c, rows, d));
    arg(c, 2, "dW", ELEMS(c, num, d));
}

static void rules_softmax_ce_fwd(checker *c)
{
    int64_t N = dim(c, 0, "N", 1), C = dim(c, 1, "C", 1);
    frange(c, 0, "smoothing", 0, 1, false);
    arg(c, 0, "logits", ELEMS(c, N, C));
    arg(c, 1, "labels", N);
    arg(c, 2, "probs", ELEMS(c, N, C));
    scalars_arg(c, 3);
}

static void rules_softmax_ce_bwd(checker *c)
{
    int64_t N = dim(c, 0, "N", 1), C = dim(c, 1, "C", 1);
    flag(c, 2, "accum");
    frange(c, 0, "smoothing", 0, 1, false);
    arg(c, 0, "probs", ELEMS(c, N, C));
    arg(c, 1, "labels", N);
    arg(c, 2, "dlogits", ELEMS(c, N, C));
}

static void rules_mse_fwd(checker *c)
{
    int64_t n = ELEMS(c, dim(c, 0, "N", 1), dim(c, 1, "D", 1));
    arg(c, 0, "pred", n);
    arg(c, 1, "target", n);
    scalars_arg(c, 2);
}

static void rules_mse_bwd(checker *c)
{
    int64_t n = ELEMS(c, dim(c, 0, "N", 1), dim(c, 1, "D", 1));
    flag(c, 2, "accum");
    arg(c, 0, "pred", n);
    arg(c, 1, "target", n);
    arg(c, 2, "dpred", n);
}

static void rules_grad_norm(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    fnonneg(c, 0, "max_norm");
    arg(c, 0, "grads", n);
    scalars_arg(c, 1);
}

/* Ranges as torch.optim checks them. */
static void rules_sgd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    bool momentum = flag(c, 1, "has_momentum");
    bool nesterov = flag(c, 2, "nesterov");
    flag(c, 3, "use_clip");
    fnonneg(c, 0, "momentum");
    fnonneg(c, 1, "dampening");
    fnonneg(c, 2, "weight_decay");
    if (nesterov && !momentum)
        fail(c, "nesterov needs has_momentum");
    arg(c, 0, "param", n);
    arg(c, 1, "grad", n);
    if (momentum)
        arg(c, 2, "momentum_buf", n);
    else
        opt_arg(c, 2, "momentum_buf", n);
    scalars_arg(c, 3);
}

static void rules_adamw(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    flag(c, 1, "use_clip");
    frange(c, 0, "beta1", 0, 1, true);
    frange(c, 1, "beta2", 0, 1, true);
    fnonneg(c, 2, "eps");
    fnonneg(c, 3, "weight_decay");
    arg(c, 0, "param", n);
    arg(c, 1, "grad", n);
    arg(c, 2, "m", n);
    arg(c, 3, "v", n);
    scalars_arg(c, 4);
}

static void rules_pack_f16(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "src", n);
    arg(c, 1, "dst", n / 2 + n % 2);
}

static void rules_unpack_f16(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "src", n / 2 + n % 2);
    arg(c, 1, "dst", n);
}

/* Shared attention geometry: the q-side ([batch, Tq, heads*D]),
 * kv-side ([batch, Tk, heads*D]) and per-row ([batch, heads, Tq])
 * element counts. */
static void attn_geometry(checker *c, int64_t *q_elems, int64_t *kv_elems, int64_t *rows)
{
    int64_t batch = dim(c, 0, "batch", 0), heads = dim(c, 1, "heads", 1);
    int64_t Tq = dim(c, 2, "Tq", 0), Tk = dim(c, 3, "Tk", 1), D = dim(c, 4, "D", 1);
    if (D > RT_ATTN_MAX_HEAD_DIM)
        fail(c, "D (i[4]) is %lld, must be <= %d", (long long)D, RT_ATTN_MAX_HEAD_DIM);
    flag(c, 5, "causal");
    frange(c, 0, "scale", FLT_MIN, FLT_MAX, false);
    *q_elems = ELEMS(c, batch, Tq, heads, D);
    *kv_elems = ELEMS(c, batch, Tk, heads, D);
    *rows = ELEMS(c, batch, heads, Tq);
}

static void rules_attn_fwd(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "out", qe);
    arg(c, 4, "lse", rows);
}

static void rules_attn_bwd_q(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    flag(c, 6, "accum_dq");
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "out", qe);
    arg(c, 4, "dout", qe);
    arg(c, 5, "lse", rows);
    arg(c, 6, "delta", rows);
    opt_arg(c, 7, "dq", qe);
}

static void rules_attn_bwd_kv(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    flag(c, 6, "accum_dk");
    flag(c, 7, "accum_dv");
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "dout", qe);
    arg(c, 4, "lse", rows);
    arg(c, 5, "delta", rows);
    opt_arg(c, 6, "dk", kve);
    opt_arg(c, 7, "dv", kve);
}

/* Shared by the three depthwise kernels: the x, w and y element counts. */
static void dwconv_geometry(checker *c, int64_t *x_elems, int64_t *w_elems, int64_t *y_elems)
{
    int64_t batch = dim(c, 0, "batch", 0), C = dim(c, 1, "C", 0);
    int64_t H = dim(c, 2, "H", 0), W = dim(c, 3, "W", 0);
    int64_t KH = dim(c, 4, "KH", 1), KW = dim(c, 5, "KW", 1);
    dim(c, 6, "SH", 1), dim(c, 7, "SW", 1);
    dim(c, 8, "PH", 0), dim(c, 9, "PW", 0);
    dim(c, 10, "DH", 1), dim(c, 11, "DW", 1);
    int64_t OH = dim(c, 12, "OH", 0), OW = dim(c, 13, "OW", 0);
    *x_elems = ELEMS(c, batch, C, H, W);
    *w_elems = ELEMS(c, C, KH, KW);
    *y_elems = ELEMS(c, batch, C, OH, OW);
}

static void rules_dwconv_fwd(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    arg(c, 0, "x", xe);
    arg(c, 1, "w", we);
    opt_arg(c, 2, "bias", c->l->params.i[1]);
    arg(c, 3, "y", ye);
}

static void rules_dwconv_bwd_input(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    flag(c, 14, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "w", we);
    arg(c, 2, "dx", xe);
}

static void rules_dwconv_bwd_weight(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    flag(c, 14, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "x", xe);
    arg(c, 2, "dw", we);
}

static void (*const kernel_rules[RT_K_COUNT])(checker *) = {
    [RT_K_GEMM] = rules_gemm,
    [RT_K_IM2COL] = rules_im2col,
    [RT_K_COL2IM] = rules_col2im,
    [RT_K_ACT_FWD] = rules_act_fwd,
    [RT_K_ACT_BWD] = rules_act_bwd,
    [RT_K_ADD] = rules_add,
    [RT_K_COPY] = rules_copy,
    [RT_K_COPY2D] = rules_copy2d,
    [RT_K_FILL] = rules_fill,
    [RT_K_BIAS_GRAD] = rules_bias_grad,
    [RT_K_MAXPOOL_FWD] = rules_maxpool_fwd,
    [RT_K_MAXPOOL_BWD] = rules_maxpool_bwd,
    [RT_K_AVGPOOL_FWD] = rules_avgpool_fwd,
    [RT_K_AVGPOOL_BWD] = rules_avgpool_bwd,
    [RT_K_GAP_FWD] = rules_gap_fwd,
    [RT_K_GAP_BWD] = rules_gap_bwd,
    [RT_K_BN_TRAIN_FWD] = rules_bn_train_fwd,
    [RT_K_BN_EVAL_FWD] = rules_bn_eval_fwd,
    [RT_K_BN_BWD] = rules_bn_bwd,
    [RT_K_LN_FWD] = rules_ln_fwd,
    [RT_K_LN_BWD] = rules_ln_bwd,
    [RT_K_DROPOUT_FWD] = rules_dropout_fwd,
    [RT_K_DROPOUT_BWD] = rules_dropout_bwd,
    [RT_K_EMBED_FWD] = rules_embed_fwd,
    [RT_K_EMBED_BWD] = rules_embed_bwd,
    [RT_K_SOFTMAX_CE_FWD] = rules_softmax_ce_fwd,
    [RT_K_SOFTMAX_CE_BWD] = rules_softmax_ce_bwd,
    [RT_K_MSE_FWD] = rules_mse_fwd,
    [RT_K_MSE_BWD] = rules_mse_bwd,
    [RT_K_GRAD_NORM] = rules_grad_norm,
    [RT_K_SGD] = rules_sgd,
    [RT_K_ADAMW] = rules_adamw,
    [RT_K_PACK_F16] = rules_pack_f16,
    [RT_K_UNPACK_F16] = rules_unpack_f16,
    [RT_K_GATHER_ROWS] = rules_rows,
    [RT_K_SCATTER_ROWS] = rules_rows,
    [RT_K_WINO_WEIGHT] = rules_wino_weight,
    [RT_K_WINO_WEIGHT_BWD] = rules_wino_weight_bwd,
    [RT_K_WINO_INPUT] = rules_wino_input,
    [RT_K_WINO_INPUT_BWD] = rules_wino_input_bwd,
    [RT_K_WINO_OUTPUT] = rules_wino_output,
    [RT_K_WINO_OUTPUT_BWD] = rules_wino_output_bwd,
    [RT_K_ATTN_FWD] = rules_attn_fwd,
    [RT_K_ATTN_BWD_Q] = rules_attn_bwd_q,
    [RT_K_ATTN_BWD_KV] = rules_attn_bwd_kv,
    [RT_K_DWCONV_FWD] = rules_dwconv_fwd,
    [RT_K_DWCONV_BWD_INPUT] = rules_dwconv_bwd_input,
    [RT_K_DWCONV_BWD_WEIGHT] = rules_dwconv_bwd_weight,
};

/* Compares each view with its rule: a view the kernel touches must be
 * present (unless optional or nothing is touched), backed by a buffer,
 * 4-byte aligned and large enough; a slot the kernel does not use must
 * be empty. */
static void check_views(checker *c)
{
    const rt_launch *l = c->l;
    for (int i = 0; i < RT_MAX_ARGS && !c->failed; i++) {
        const arg_rule *r = &c->args[i];
        const rt_view *v = i < l->nargs ? &l->args[i] : NULL;
        bool present = v && v->size > 0;
        if (!r->name) {
            if (present)
                fail(c, "arg %d is not used by this kernel but is %zu bytes", i, v->size);
            continue;
        }
        if (!present) {
            if (!r->optional && r->elems > 0)
                fail(c, "%s (arg %d) is missing, needs %lld bytes", r->name, i, (long long)r->elems * ELEM_BYTES);
            continue;
        }
        if (!v->buf)
            fail(c, "%s (arg %d) has %zu bytes but no buffer", r->name, i, v->size);
        else if (v->offset % ELEM_BYTES)
            fail(c, "%s (arg %d) offset %zu is not a multiple of %d", r->name, i, v->offset, ELEM_BYTES);
        else if (v->size < (size_t)r->elems * ELEM_BYTES)
            fail(c, "%s (arg %d) is %zu bytes, needs %lld", r->name, i, v->size, (long long)r->elems * ELEM_BYTES);
    }
}

/* Elementwise kernels may run in place: an output is either the very
 * view of an input or shares no byte with it (a shifted overlap would
 * make one element's write clobber another's input). */
static bool views_overlap(const rt_view *a, const rt_view *b)
{
    return a->size && b->size && a->buf == b->buf && a->offset < b->offset + b->size &&
           b->offset < a->offset + a->size;
}

static bool same_view(const rt_view *a, const rt_view *b)
{
    return a->buf == b->buf && a->offset == b->offset && a->size == b->size;
}

static const rt_view *view_at(const checker *c, int i)
{
    static const rt_view absent = {NULL, 0, 0};
    return i < c->l->nargs ? &c->l->args[i] : &absent;
}

static void in_place_or_apart(checker *c, int in, int out)
{
    const rt_view *a = view_at(c, in), *b = view_at(c, out);
    if (views_overlap(a, b) && !same_view(a, b))
        fail(c, "%s (arg %d) partly overlaps %s (arg %d): must be the same view or apart", c->args[out].name, out,
             c->args[in].name, in);
}

static void apart(checker *c, int i, int j)
{
    if (views_overlap(view_at(c, i), view_at(c, j)))
        fail(c, "%s (arg %d) overlaps %s (arg %d)", c->args[i].name, i, c->args[j].name, j);
}

/* Outputs from arg `first` on overlap no other argument. */
static void outputs_apart(checker *c, int first)
{
    for (int o = first; o < RT_MAX_ARGS; o++)
        for (int a = 0; a < o; a++)
            apart(c, a, o);
}

static void check_aliasing(checker *c)
{
    if (c->failed)
        return;
    if (c->l->kernel == RT_K_ATTN_FWD)
        outputs_apart(c, 3);
    else if (c->l->kernel == RT_K_ATTN_BWD_Q || c->l->kernel == RT_K_ATTN_BWD_KV)
        outputs_apart(c, 6);
    if (c->l->kernel == RT_K_ACT_FWD) {
        in_place_or_apart(c, 0, 1);
        apart(c, 2, 0); /* the mask, when written */
        apart(c, 2, 1);
    } else if (c->l->kernel == RT_K_ADD) {
        in_place_or_apart(c, 0, 2);
        in_place_or_apart(c, 1, 2);
    } else if (c->l->kernel == RT_K_DWCONV_FWD) {
        apart(c, 0, 3), apart(c, 1, 3), apart(c, 2, 3);
    } else if (c->l->kernel == RT_K_DWCONV_BWD_INPUT || c->l->kernel == RT_K_DWCONV_BWD_WEIGHT) {
        apart(c, 0, 2), apart(c, 1, 2);
    }
}

vkt_status rt_launch_validate(const rt_launch *l)
{
    if (!l)
        return rt_error(VKT_ERR_INVALID_ARG, "launch is NULL");
    if ((unsigned)l->kernel >= RT_K_COUNT)
        return rt_error(VKT_ERR_INVALID_ARG, "kernel id %d out of range 0..%d", (int)l->kernel, RT_K_COUNT - 1);
    checker c = {.l = l, .kname = kernel_names[l->kernel]};
    if (l->nargs < 0 || l->nargs > RT_MAX_ARGS) {
        fail(&c, "nargs %d out of range 0..%d", l->nargs, RT_MAX_ARGS);
        return VKT_ERR_INVALID_ARG;
    }
    kernel_rules[l->kernel](&c);
    check_views(&c);
    check_aliasing(&c);
    return c.failed ? VKT_ERR_INVALID_ARG : VKT_OK;
}
