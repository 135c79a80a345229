/* Launch validation, shared by every backend.
 *
 * Kernels trust their arguments: they index with the shape parameters
 * and never look at a view's size. This file is what makes that safe.
 * For each kernel it checks the parameters (non-negative shapes, sizes
 * whose byte counts cannot overflow, flags and enums in range) and
 * derives how many elements each view must hold; a launch that passes
 * cannot make any backend touch memory outside its views.
 *
 * The rules live by kernel family in launch_rules_*.c, with the checker
 * they fill in launch_rules.h; this file maps kernels to their rules and
 * names and checks the views (sizes, alignment, aliasing). */
#include "launch_rules.h"

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
