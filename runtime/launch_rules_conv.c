/* Launch rules: GEMM and convolutions (im2col, Winograd, depthwise) (see launch_rules.h). */
#include "launch_rules.h"

void rules_gemm(checker *c)
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
/* The geometry IM2COL, COL2IM and the depthwise kernels share (i[0..13]),
 * checked once for all of them. */
typedef struct conv_dims {
    int64_t batch, C, H, W, KH, KW, OH, OW;
} conv_dims;

static conv_dims conv_dims_of(checker *c)
{
    conv_dims d;
    d.batch = dim(c, 0, "batch", 0), d.C = dim(c, 1, "C", 0);
    d.H = dim(c, 2, "H", 0), d.W = dim(c, 3, "W", 0);
    d.KH = dim(c, 4, "KH", 1), d.KW = dim(c, 5, "KW", 1);
    dim(c, 6, "SH", 1), dim(c, 7, "SW", 1);
    dim(c, 8, "PH", 0), dim(c, 9, "PW", 0);
    dim(c, 10, "DH", 1), dim(c, 11, "DW", 1);
    d.OH = dim(c, 12, "OH", 0), d.OW = dim(c, 13, "OW", 0);
    return d;
}

static void conv_geometry(checker *c, int64_t *x_elems, int64_t *col_elems)
{
    conv_dims d = conv_dims_of(c);
    *x_elems = ELEMS(c, d.batch, d.C, d.H, d.W);
    *col_elems = ELEMS(c, d.batch, d.C, d.KH, d.KW, d.OH, d.OW);
}

void rules_im2col(checker *c)
{
    int64_t xe, ce;
    conv_geometry(c, &xe, &ce);
    arg(c, 0, "x", xe);
    arg(c, 1, "col", ce);
}

void rules_col2im(checker *c)
{
    int64_t xe, ce;
    conv_geometry(c, &xe, &ce);
    flag(c, 14, "accum");
    arg(c, 0, "col", ce);
    arg(c, 1, "dx", xe);
}

/* Winograd F(2x2, 3x3): K x C filter pairs, 16 positions each. */
static int64_t wino_filters(checker *c, int64_t *w_elems)
{
    int64_t K = dim(c, 0, "K", 0), C = dim(c, 1, "C", 0);
    *w_elems = ELEMS(c, K, C, 3, 3);
    return ELEMS(c, 16, K, C);
}

void rules_wino_weight(checker *c)
{
    int64_t we, ue = wino_filters(c, &we);
    arg(c, 0, "w", we);
    arg(c, 1, "U", ue);
}

void rules_wino_weight_bwd(checker *c)
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

void rules_wino_input(checker *c)
{
    int64_t xe, ve;
    wino_input_geometry(c, &xe, &ve);
    arg(c, 0, "x", xe);
    arg(c, 1, "V", ve);
}

void rules_wino_input_bwd(checker *c)
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

void rules_wino_output(checker *c)
{
    int64_t ye, me, K = wino_output_geometry(c, &ye, &me);
    arg(c, 0, "M", me);
    opt_arg(c, 1, "bias", K);
    arg(c, 2, "y", ye);
}

void rules_wino_output_bwd(checker *c)
{
    int64_t ye, me;
    wino_output_geometry(c, &ye, &me);
    arg(c, 0, "dy", ye);
    arg(c, 1, "dM", me);
}

/* Shared by the three depthwise kernels: the x, w and y element counts. */
static void dwconv_geometry(checker *c, int64_t *x_elems, int64_t *w_elems, int64_t *y_elems)
{
    conv_dims d = conv_dims_of(c);
    *x_elems = ELEMS(c, d.batch, d.C, d.H, d.W);
    *w_elems = ELEMS(c, d.C, d.KH, d.KW);
    *y_elems = ELEMS(c, d.batch, d.C, d.OH, d.OW);
}

void rules_dwconv_fwd(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    arg(c, 0, "x", xe);
    arg(c, 1, "w", we);
    opt_arg(c, 2, "bias", c->l->params.i[1]);
    arg(c, 3, "y", ye);
}

void rules_dwconv_bwd_input(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    flag(c, 14, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "w", we);
    arg(c, 2, "dx", xe);
}

void rules_dwconv_bwd_weight(checker *c)
{
    int64_t xe, we, ye;
    dwconv_geometry(c, &xe, &we, &ye);
    flag(c, 14, "accum");
    arg(c, 0, "dy", ye);
    arg(c, 1, "x", xe);
    arg(c, 2, "dw", we);
}
