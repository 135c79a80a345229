/* Launch validation internals: the checker a kernel's rule fills, its
 * helpers, and the rule functions, one file per kernel family
 * (launch_rules_*.c). launch.c runs a launch's rule, then checks its
 * views against what the rule asked for.
 *
 * Every rule reads like the kernel's spec in kernels.h: it names each
 * parameter it uses and each argument with the number of elements the
 * kernel may read or write there. Helpers are static inline so each
 * rule file has its own copy and no symbol leaves the runtime. */
#ifndef VKT_LAUNCH_RULES_H
#define VKT_LAUNCH_RULES_H

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

static inline void fail(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void fail(checker *c, const char *fmt, ...)
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
static inline int64_t dim(checker *c, int slot, const char *name, int64_t min)
{
    int64_t v = c->l->params.i[slot];
    if (v < min) {
        fail(c, "%s (i[%d]) is %lld, must be >= %lld", name, slot, (long long)v, (long long)min);
        return min;
    }
    return v;
}

/* An enum parameter in [0, count). */
static inline int choice(checker *c, int slot, const char *name, int count)
{
    int v = c->l->params.i[slot];
    if (v < 0 || v >= count) {
        fail(c, "%s (i[%d]) is %d, must be in 0..%d", name, slot, v, count - 1);
        return 0;
    }
    return v;
}

static inline bool flag(checker *c, int slot, const char *name)
{
    return choice(c, slot, name, 2) != 0;
}

/* A float parameter in [lo, hi] (or [lo, hi) when hi_open); NaN fails. */
static inline float frange(checker *c, int slot, const char *name, float lo, float hi, bool hi_open)
{
    float v = c->l->params.f[slot];
    bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    if (!ok)
        fail(c, "%s (f[%d]) is %g, must be in [%g, %g%s", name, slot, (double)v, (double)lo, (double)hi,
             hi_open ? ")" : "]");
    return ok ? v : lo;
}

/* A float parameter that must be >= 0 (infinity allowed, NaN not). */
static inline float fnonneg(checker *c, int slot, const char *name)
{
    float v = c->l->params.f[slot];
    if (!(v >= 0)) {
        fail(c, "%s (f[%d]) is %g, must be >= 0", name, slot, (double)v);
        return 0;
    }
    return v;
}

/* ---- size arithmetic: an overflow is reported and yields 0 ---- */

static inline int64_t mul(checker *c, int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > MAX_ELEMS) {
        fail(c, "sizes overflow (%lld x %lld elements)", (long long)a, (long long)b);
        return 0;
    }
    return r;
}

static inline int64_t add(checker *c, int64_t a, int64_t b)
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
static inline int64_t tensor_elems(checker *c, int n, const int64_t *d)
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
static inline int64_t matrix_span(checker *c, int64_t rows, int64_t cols, int64_t ld)
{
    if (rows == 0 || cols == 0)
        return 0;
    return add(c, mul(c, rows - 1, ld), cols);
}

/* Elements spanned by `count` blocks of `span` elements, `stride` apart.
 * The offset of the last block must fit even when blocks are empty. */
static inline int64_t batch_span(checker *c, int64_t count, int64_t stride, int64_t span)
{
    int64_t last = count > 0 ? mul(c, count - 1, stride) : 0;
    return count == 0 || span == 0 ? 0 : add(c, last, span);
}

/* ---- arguments ---- */

static inline void arg(checker *c, int slot, const char *name, int64_t elems)
{
    c->args[slot] = (arg_rule){name, elems, false};
}

static inline void opt_arg(checker *c, int slot, const char *name, int64_t elems)
{
    c->args[slot] = (arg_rule){name, elems, true};
}

static inline void scalars_arg(checker *c, int slot)
{
    arg(c, slot, "scalars", RT_SC_COUNT);
}

/* ---- per-kernel rules ---- */

/* launch_rules_conv.c: GEMM and convolutions (im2col, Winograd, depthwise) */
void rules_gemm(checker *c);
void rules_im2col(checker *c);
void rules_col2im(checker *c);
void rules_wino_weight(checker *c);
void rules_wino_weight_bwd(checker *c);
void rules_wino_input(checker *c);
void rules_wino_input_bwd(checker *c);
void rules_wino_output(checker *c);
void rules_wino_output_bwd(checker *c);
void rules_dwconv_fwd(checker *c);
void rules_dwconv_bwd_input(checker *c);
void rules_dwconv_bwd_weight(checker *c);

/* launch_rules_elementwise.c: elementwise, copies, rows, embeddings, fp16 packing */
void rules_act_fwd(checker *c);
void rules_act_bwd(checker *c);
void rules_add(checker *c);
void rules_copy(checker *c);
void rules_copy2d(checker *c);
void rules_fill(checker *c);
void rules_bias_grad(checker *c);
void rules_dropout_fwd(checker *c);
void rules_dropout_bwd(checker *c);
void rules_embed_fwd(checker *c);
void rules_rows(checker *c);
void rules_embed_bwd(checker *c);
void rules_pack_f16(checker *c);
void rules_unpack_f16(checker *c);

/* launch_rules_norm_pool.c: pooling and normalisation */
void rules_maxpool_fwd(checker *c);
void rules_maxpool_bwd(checker *c);
void rules_avgpool_fwd(checker *c);
void rules_avgpool_bwd(checker *c);
void rules_gap_fwd(checker *c);
void rules_gap_bwd(checker *c);
void rules_bn_train_fwd(checker *c);
void rules_bn_eval_fwd(checker *c);
void rules_bn_bwd(checker *c);
void rules_ln_fwd(checker *c);
void rules_ln_bwd(checker *c);

/* launch_rules_loss_optim.c: losses and optimizers */
void rules_softmax_ce_fwd(checker *c);
void rules_softmax_ce_bwd(checker *c);
void rules_mse_fwd(checker *c);
void rules_mse_bwd(checker *c);
void rules_grad_norm(checker *c);
void rules_sgd(checker *c);
void rules_adamw(checker *c);

/* launch_rules_attention.c: attention */
void rules_attn_fwd(checker *c);
void rules_attn_bwd_q(checker *c);
void rules_attn_bwd_kv(checker *c);

#endif
