/* Launch rules: pooling and normalisation (see launch_rules.h). */
#include "launch_rules.h"

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

void rules_maxpool_fwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    arg(c, 0, "x", xe);
    arg(c, 1, "y", ye);
    arg(c, 2, "argmax", argmax_words(c, ye));
}

void rules_maxpool_bwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "argmax", argmax_words(c, ye));
    arg(c, 2, "dx", xe);
}

void rules_avgpool_fwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "count_include_pad");
    arg(c, 0, "x", xe);
    arg(c, 1, "y", ye);
}

void rules_avgpool_bwd(checker *c)
{
    int64_t xe, ye;
    pool_geometry(c, &xe, &ye);
    flag(c, 11, "count_include_pad");
    flag(c, 12, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "dx", xe);
}

void rules_gap_fwd(checker *c)
{
    int64_t planes = dim(c, 0, "planes", 0), hw = dim(c, 1, "hw", 1);
    arg(c, 0, "x", ELEMS(c, planes, hw));
    arg(c, 1, "y", planes);
}

void rules_gap_bwd(checker *c)
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

void rules_bn_train_fwd(checker *c)
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

void rules_bn_eval_fwd(checker *c)
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

void rules_bn_bwd(checker *c)
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

void rules_ln_fwd(checker *c)
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

void rules_ln_bwd(checker *c)
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
