/* Conv2d (torch.nn.Conv2d): stride, padding, dilation and groups, so
 * depthwise convolution is groups == in_channels.
 *
 * Depthwise convolutions (groups == in == out channels) run direct
 * kernels, one launch each for forward, input and weight gradient
 * (RT_K_DWCONV_*), with no column buffer. Other convolutions are
 * lowered to im2col + GEMM per group, batched over images. The column
 * buffer is a temporary: backward rebuilds it from the saved input rather
 * than keeping it alive across the step (the input is KH*KW times smaller).
 * A 1x1 convolution with stride 1 and no padding uses the input directly.
 * 3x3 stride-1 convolutions with enough channels use Winograd instead
 * (conv_winograd.c). */
#include <math.h>

#include "conv_winograd.h"
#include "lora.h"
#include "ops.h"

enum { A_CIN, A_H, A_W, A_KH, A_KW, A_SH, A_SW, A_PH, A_PW, A_DH, A_DW, A_GROUPS, A_BIAS, A_OH, A_OW, A_COUT };

vkt_tensor vkt_conv2d(vkt_graph *g, vkt_tensor x, const vkt_conv2d_params *cp, const char *name)
{
    const node *in = op_operand(g, x, "conv2d");
    if (!in)
        return VKT_NO_TENSOR;
    const char *nm = name ? name : "?";
    if (!cp)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "conv2d '%s': params are NULL", nm);
    if (in->dtype != VKT_F32 || in->rank != 3) {
        char b[64];
        return graph_fail(g, VKT_ERR_SHAPE, "conv2d '%s': input must be [C, H, W], got %s", nm, op_shape_str(in, b));
    }
    int sh = cp->stride_h ? cp->stride_h : 1, sw = cp->stride_w ? cp->stride_w : 1;
    int dh = cp->dilation_h ? cp->dilation_h : 1, dw = cp->dilation_w ? cp->dilation_w : 1;
    int groups = cp->groups ? cp->groups : 1;
    int cin = in->dims[0], h = in->dims[1], w = in->dims[2];
    if (cp->out_channels < 1 || cp->kernel_h < 1 || cp->kernel_w < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 ||
        cp->pad_h < 0 || cp->pad_w < 0 || groups < 1)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "conv2d '%s': sizes must be positive (padding >= 0)", nm);
    if (cin % groups || cp->out_channels % groups)
        return graph_fail(g, VKT_ERR_SHAPE, "conv2d '%s': groups %d must divide in (%d) and out (%d) channels", nm,
                          groups, cin, cp->out_channels);
    int ekh = dh * (cp->kernel_h - 1) + 1, ekw = dw * (cp->kernel_w - 1) + 1;
    if (h + 2 * cp->pad_h < ekh || w + 2 * cp->pad_w < ekw)
        return graph_fail(g, VKT_ERR_SHAPE, "conv2d '%s': kernel larger than the padded %dx%d input", nm, h, w);
    node n = op_node(OP_CONV2D, x);
    n.rank = 3;
    n.dims[0] = cp->out_channels;
    n.dims[1] = (h + 2 * cp->pad_h - ekh) / sh + 1;
    n.dims[2] = (w + 2 * cp->pad_w - ekw) / sw + 1;
    int at[] = {[A_CIN] = cin, [A_H] = h, [A_W] = w, [A_KH] = cp->kernel_h, [A_KW] = cp->kernel_w,
                [A_SH] = sh, [A_SW] = sw, [A_PH] = cp->pad_h, [A_PW] = cp->pad_w, [A_DH] = dh, [A_DW] = dw,
                [A_GROUPS] = groups, [A_BIAS] = cp->bias, [A_OH] = n.dims[1], [A_OW] = n.dims[2],
                [A_COUT] = cp->out_channels};
    for (int i = 0; i <= A_COUT; i++)
        n.iattr[i] = at[i];
    n.name = (char *)name;

    int64_t wdims[4] = {cp->out_channels, cin / groups, cp->kernel_h, cp->kernel_w};
    int64_t bdims[1] = {cp->out_channels};
    int wp = graph_add_param(g, name, "weight", 4, wdims, false);
    int bp = cp->bias ? graph_add_param(g, name, "bias", 1, bdims, false) : -1;
    if (wp < 0 || (cp->bias && bp < 0))
        return VKT_NO_TENSOR;
    float bound = 1.0f / sqrtf((float)(cin / groups * cp->kernel_h * cp->kernel_w));
    init_uniform(g, g->params[wp].data, g->params[wp].numel, bound);
    if (bp >= 0)
        init_uniform(g, g->params[bp].data, g->params[bp].numel, bound);
    n.params[n.nparams++] = wp;
    if (bp >= 0)
        n.params[n.nparams++] = bp;
    return graph_add_node(g, &n);
}

/* The im2col path works through the batch in chunks of images whose
 * column buffer stays under COL_CHUNK_BYTES (the whole batch when it
 * fits, one image at least), so a convolution's workspace does not grow
 * with the batch: a depthwise 3x3 layer's columns are 9x its input. */
#define COL_CHUNK_BYTES ((size_t)2 << 20)

typedef struct conv_geom {
    int batch, cin, cout, groups, cin_g, cout_g;
    size_t kk, ckk_g, ohw, hw;
    bool direct; /* 1x1, stride 1, no padding: the input is its own column buffer */
    size_t chunk_cap; /* bytes of columns per chunk of images */
} conv_geom;

static conv_geom geom_of(emit_ctx *e, const node *n)
{
    const int *a = n->iattr;
    conv_geom c;
    c.batch = ec_batch(e);
    c.cin = a[A_CIN], c.cout = a[A_COUT], c.groups = a[A_GROUPS];
    c.cin_g = c.cin / c.groups, c.cout_g = c.cout / c.groups;
    c.kk = (size_t)a[A_KH] * (size_t)a[A_KW];
    c.ckk_g = (size_t)c.cin_g * c.kk;
    c.ohw = (size_t)a[A_OH] * (size_t)a[A_OW];
    c.hw = (size_t)a[A_H] * (size_t)a[A_W];
    c.chunk_cap = e->col_chunk_bytes ? e->col_chunk_bytes : COL_CHUNK_BYTES;
    c.direct = a[A_KH] == 1 && a[A_KW] == 1 && a[A_SH] == 1 && a[A_SW] == 1 && a[A_PH] == 0 && a[A_PW] == 0;
    return c;
}

/* Whether the node takes the Winograd path (*wc filled in if so). A
 * sparse channel update computes its weight gradient's rows by im2col. */
static bool winograd_of(const emit_ctx *e, const node *n, int batch, wino_conv *wc)
{
    const int *a = n->iattr;
    if (ec_param_rows(e, n->params[0]) || a[A_KH] != 3 || a[A_KW] != 3 || a[A_SH] != 1 || a[A_SW] != 1 || a[A_DH] != 1 || a[A_DW] != 1 ||
        a[A_GROUPS] != 1)
        return false;
    *wc = (wino_conv){batch, a[A_CIN], a[A_COUT], a[A_H], a[A_W], a[A_PH], a[A_PW], a[A_OH], a[A_OW]};
    return wino_conv_chosen(wc);
}

static rt_params im2col_params(const node *n, int batch)
{
    const int *a = n->iattr;
    rt_params p = rt_params_zero();
    int v[] = {batch, a[A_CIN], a[A_H], a[A_W], a[A_KH], a[A_KW], a[A_SH], a[A_SW],
               a[A_PH], a[A_PW], a[A_DH], a[A_DW], a[A_OH], a[A_OW]};
    for (int i = 0; i < 14; i++)
        p.i[i] = v[i];
    return p;
}

/* Whether the node takes the direct depthwise kernels: groups == in ==
 * out channels. A sparse channel update (whose gradient rows the
 * im2col path gathers) and LoRA adapters (1x1 ungrouped only, so at
 * most a one-channel layer) keep the im2col path. */
static bool depthwise_of(const emit_ctx *e, const node *n)
{
    const int *a = n->iattr;
    return a[A_GROUPS] == a[A_CIN] && a[A_COUT] == a[A_CIN] && !ec_param_rows(e, n->params[0]) && !n->lora_rank;
}

/* One launch for the whole batch: y = depthwise(x, w) + b. Reads only
 * x, w and b. */
static void depthwise_forward(emit_ctx *e, const node *n, const conv_geom *c, int w, int b, int y)
{
    rt_params p = im2col_params(n, c->batch);
    size_t x_elems = (size_t)c->batch * (size_t)c->cin * c->hw, y_elems = (size_t)c->batch * (size_t)c->cout * c->ohw;
    plan_arg args[4] = {arg_at(ec_value(e, n->inputs[0]), 0, x_elems), arg_at(w, 0, (size_t)c->cin * c->kk),
                        b >= 0 ? arg_at(b, 0, (size_t)c->cout) : arg_none(), arg_at(y, 0, y_elems)};
    ec_emit_args(e, RT_K_DWCONV_FWD, &p, 4, args);
}

/* dW (+)= from dY and the saved x; dX (+)= from dY and w (a gather, no
 * column buffer). Either may be skipped (slot -1). */
static void depthwise_backward(emit_ctx *e, const node *n, const conv_geom *c, int dy, int dw, int dw_acc, int dx,
                               int dx_acc)
{
    size_t x_elems = (size_t)c->batch * (size_t)c->cin * c->hw, y_elems = (size_t)c->batch * (size_t)c->cout * c->ohw;
    size_t w_elems = (size_t)c->cin * c->kk;
    if (dw >= 0) {
        rt_params p = im2col_params(n, c->batch);
        p.i[14] = dw_acc;
        plan_arg args[3] = {arg_at(dy, 0, y_elems), arg_at(ec_value(e, n->inputs[0]), 0, x_elems),
                            arg_at(dw, 0, w_elems)};
        ec_emit_args(e, RT_K_DWCONV_BWD_WEIGHT, &p, 3, args);
    }
    if (dx >= 0) {
        rt_params p = im2col_params(n, c->batch);
        p.i[14] = dx_acc;
        plan_arg args[3] = {arg_at(dy, 0, y_elems), arg_at(ec_param(e, n->params[0]), 0, w_elems),
                            arg_at(dx, 0, x_elems)};
        ec_emit_args(e, RT_K_DWCONV_BWD_INPUT, &p, 3, args);
    }
}


static int chunk_images(const conv_geom *c)
{
    if (c->direct)
        return c->batch;
    size_t per_image = (size_t)c->groups * c->ckk_g * c->ohw * 4;
    size_t nb = c->chunk_cap / per_image;
    return nb < 1 ? 1 : nb > (size_t)c->batch ? c->batch : (int)nb;
}

/* Columns of images [b0, b0 + nb) of x into `col` (laid out for nb
 * images); a direct 1x1 convolution reads the input itself. Returns the
 * slot holding them and *offset, the float offset of image b0's columns. */
static int columns_of(emit_ctx *e, const node *n, const conv_geom *c, int col, int b0, int nb, size_t *offset)
{
    int x = ec_value(e, n->inputs[0]);
    if (c->direct) {
        *offset = (size_t)b0 * (size_t)c->cin * c->hw;
        return x;
    }
    rt_params p = im2col_params(n, nb);
    plan_arg args[2] = {arg_at(x, (size_t)b0 * (size_t)c->cin * c->hw, (size_t)nb * (size_t)c->cin * c->hw),
                        arg_at(col, 0, (size_t)nb * c->groups * c->ckk_g * c->ohw)};
    ec_emit_args(e, RT_K_IM2COL, &p, 2, args);
    *offset = 0;
    return col;
}

/* A temporary for one chunk's columns (-1 for a direct convolution). */
static int column_temp(emit_ctx *e, const conv_geom *c, int nb)
{
    return c->direct ? -1 : ec_temp(e, (size_t)nb * c->groups * c->ckk_g * c->ohw * 4);
}

/* Adapters sit on 1x1 convolutions only, whose input is its own
 * column buffer: per image, [cin, HW] in, [cout, HW] out. */
static lora_layout lora_layout_of(const conv_geom *c)
{
    lora_layout l = {c->cin, c->cout, true, (int)c->ohw};
    return l;
}

static void conv_forward(emit_ctx *e, const node *n, int id)
{
    conv_geom c = geom_of(e, n);
    int y = ec_value(e, id), w = ec_param(e, n->params[0]);
    int b = n->iattr[A_BIAS] ? ec_param(e, n->params[1]) : -1;
    wino_conv wc;
    if (winograd_of(e, n, c.batch, &wc)) {
        bool dw = ec_runs_backward(e, id) && ec_param_trainable(e, n->params[0]);
        wino_conv_forward(e, &wc, id, dw, ec_value(e, n->inputs[0]), w, b, y);
        return;
    }
    if (depthwise_of(e, n)) {
        depthwise_forward(e, n, &c, w, b, y);
        return;
    }
    int chunk = chunk_images(&c), temp = column_temp(e, &c, chunk);
    size_t col_img = c.direct ? (size_t)c.cin * c.hw : (size_t)c.groups * c.ckk_g * c.ohw; /* floats per image */
    for (int b0 = 0; b0 < c.batch; b0 += chunk) {
        int nb = c.batch - b0 < chunk ? c.batch - b0 : chunk;
        size_t at;
        int col = columns_of(e, n, &c, temp, b0, nb, &at);
        size_t y_at = (size_t)b0 * (size_t)c.cout * c.ohw;
        for (int gi = 0; gi < c.groups; gi++) {
            /* Y[b][g] (cout_g x ohw) = W_g (cout_g x ckk_g) * col[b][g] (ckk_g x ohw) */
            rt_params p = rt_params_zero();
            p.i[0] = c.cout_g, p.i[1] = (int)c.ohw, p.i[2] = (int)c.ckk_g;
            p.i[5] = (int)c.ckk_g, p.i[6] = (int)c.ohw, p.i[7] = (int)c.ohw;
            p.i[8] = nb, p.i[9] = 0, p.i[10] = (int)col_img, p.i[11] = c.cout * (int)c.ohw;
            p.i[12] = b >= 0 ? 1 : 0;
            plan_arg args[4] = {
                arg_at(w, (size_t)gi * c.cout_g * c.ckk_g, (size_t)c.cout_g * c.ckk_g),
                arg_at(col, at + (size_t)gi * c.ckk_g * c.ohw, col_img * (size_t)(nb - 1) + c.ckk_g * c.ohw),
                arg_at(y, y_at + (size_t)gi * c.cout_g * c.ohw,
                       (size_t)c.cout * c.ohw * (size_t)(nb - 1) + (size_t)c.cout_g * c.ohw),
                b >= 0 ? arg_at(b, (size_t)gi * c.cout_g, (size_t)c.cout_g) : arg_none(),
            };
            ec_emit_args(e, RT_K_GEMM, &p, 4, args);
        }
    }
    if (n->lora_rank) {
        lora_layout l = lora_layout_of(&c);
        lora_forward(e, n, id, &l, ec_value(e, n->inputs[0]), y);
    }
}

/* dW (+)= sum over the batch of dY[b] col[b]^T, chunk by chunk (the
 * chunks' sums chained in image order). `src` is dY, or for a sparse
 * update the gathered rows of dY with `rows` channels per image. */
static void weight_gradient(emit_ctx *e, const node *n, const conv_geom *c, int src, int rows, int dw, int acc)
{
    int chunk = chunk_images(c), temp = column_temp(e, c, chunk);
    bool sparse = rows != c->cout;
    size_t col_img = c->direct ? (size_t)c->cin * c->hw : (size_t)c->groups * c->ckk_g * c->ohw;
    size_t src_img = (size_t)rows * c->ohw;
    for (int b0 = 0; b0 < c->batch; b0 += chunk) {
        int nb = c->batch - b0 < chunk ? c->batch - b0 : chunk;
        size_t at;
        int col = columns_of(e, n, c, temp, b0, nb, &at);
        int groups = sparse ? 1 : c->groups;
        for (int gi = 0; gi < groups; gi++) {
            /* dW_g (m x ckk_g) += sum_b src[b][g] (m x ohw) * col[b][g]^T */
            int m = sparse ? rows : c->cout_g;
            rt_params p = rt_params_zero();
            p.i[0] = m, p.i[1] = (int)c->ckk_g, p.i[2] = (int)c->ohw, p.i[4] = 1;
            p.i[5] = (int)c->ohw, p.i[6] = (int)c->ohw, p.i[7] = (int)c->ckk_g;
            p.i[8] = nb, p.i[9] = (int)src_img, p.i[10] = (int)col_img, p.i[14] = 1;
            p.i[13] = b0 > 0 ? 1 : acc;
            plan_arg args[4] = {
                arg_at(src, (size_t)b0 * src_img + (size_t)gi * (size_t)m * c->ohw,
                       src_img * (size_t)(nb - 1) + (size_t)m * c->ohw),
                arg_at(col, at + (size_t)gi * c->ckk_g * c->ohw, col_img * (size_t)(nb - 1) + c->ckk_g * c->ohw),
                arg_at(dw, (size_t)gi * (size_t)m * c->ckk_g, (size_t)m * c->ckk_g),
                arg_none(),
            };
            ec_emit_args(e, RT_K_GEMM, &p, 4, args);
        }
    }
}

/* dX (+)= col2im(W^T dY), chunk by chunk; a direct 1x1 convolution's
 * GEMM writes dX itself. */
static void input_gradient(emit_ctx *e, const node *n, const conv_geom *c, int dy, int dx, int acc)
{
    int chunk = chunk_images(c), dcol = column_temp(e, c, chunk);
    int w = ec_param(e, n->params[0]);
    size_t col_img = c->direct ? (size_t)c->cin * c->hw : (size_t)c->groups * c->ckk_g * c->ohw;
    size_t y_img = (size_t)c->cout * c->ohw, x_img = (size_t)c->cin * c->hw;
    for (int b0 = 0; b0 < c->batch; b0 += chunk) {
        int nb = c->batch - b0 < chunk ? c->batch - b0 : chunk;
        int out = c->direct ? dx : dcol;
        size_t out_at = c->direct ? (size_t)b0 * x_img : 0;
        for (int gi = 0; gi < c->groups; gi++) {
            /* dcol[b][g] (ckk_g x ohw) = W_g^T * dY[b][g] */
            rt_params p = rt_params_zero();
            p.i[0] = (int)c->ckk_g, p.i[1] = (int)c->ohw, p.i[2] = c->cout_g, p.i[3] = 1;
            p.i[5] = (int)c->ckk_g, p.i[6] = (int)c->ohw, p.i[7] = (int)c->ohw;
            p.i[8] = nb, p.i[9] = 0, p.i[10] = (int)y_img, p.i[11] = (int)col_img;
            p.i[13] = c->direct ? acc : 0;
            plan_arg args[4] = {
                arg_at(w, (size_t)gi * c->cout_g * c->ckk_g, (size_t)c->cout_g * c->ckk_g),
                arg_at(dy, (size_t)b0 * y_img + (size_t)gi * c->cout_g * c->ohw,
                       y_img * (size_t)(nb - 1) + (size_t)c->cout_g * c->ohw),
                arg_at(out, out_at + (size_t)gi * c->ckk_g * c->ohw, col_img * (size_t)(nb - 1) + c->ckk_g * c->ohw),
                arg_none(),
            };
            ec_emit_args(e, RT_K_GEMM, &p, 4, args);
        }
        if (!c->direct) {
            rt_params p = im2col_params(n, nb);
            p.i[14] = acc;
            plan_arg args[2] = {arg_at(dcol, 0, (size_t)nb * col_img),
                                arg_at(dx, (size_t)b0 * x_img, (size_t)nb * x_img)};
            ec_emit_args(e, RT_K_COL2IM, &p, 2, args);
        }
    }
}

static void conv_backward(emit_ctx *e, const node *n, int id)
{
    conv_geom c = geom_of(e, n);
    int acc;
    int dy = ec_grad(e, id, &acc);
    int wp = n->params[0];

    if (n->iattr[A_BIAS] && ec_param_trainable(e, n->params[1])) {
        rt_params p = rt_params_zero();
        int db = ec_param_grad(e, n->params[1], &acc);
        p.i[0] = c.batch, p.i[1] = c.cout, p.i[2] = (int)c.ohw, p.i[3] = acc;
        emit2(e, RT_K_BIAS_GRAD, &p, dy, db);
    }
    wino_conv wc;
    if (winograd_of(e, n, c.batch, &wc)) {
        int dw = -1, dw_acc = 0, dx = -1, dx_acc = 0;
        if (ec_param_trainable(e, wp))
            dw = ec_param_grad(e, wp, &dw_acc);
        if (ec_needs_grad(e, n->inputs[0]))
            dx = ec_grad(e, n->inputs[0], &dx_acc);
        wino_conv_backward(e, &wc, id, ec_param(e, wp), dy, dw, dw_acc, dx, dx_acc);
        return;
    }
    if (depthwise_of(e, n)) {
        int dw = -1, dw_acc = 0, dx = -1, dx_acc = 0;
        if (ec_param_trainable(e, wp))
            dw = ec_param_grad(e, wp, &dw_acc);
        if (ec_needs_grad(e, n->inputs[0]))
            dx = ec_grad(e, n->inputs[0], &dx_acc);
        depthwise_backward(e, n, &c, dy, dw, dw_acc, dx, dx_acc);
        return;
    }
    if (ec_param_trainable(e, wp)) {
        /* A sparse update (groups == 1) takes only the trained output
         * channels' rows of dY, and computes only their gradient. */
        int rows, src = op_rows_of_dy(e, wp, dy, c.batch, c.cout, (int)c.ohw, &rows);
        int dw = ec_param_grad(e, wp, &acc);
        weight_gradient(e, n, &c, src, rows, dw, acc);
    }
    if (ec_needs_grad(e, n->inputs[0])) {
        int dx = ec_grad(e, n->inputs[0], &acc);
        input_gradient(e, n, &c, dy, dx, acc);
    }
    if (n->lora_rank) {
        lora_layout l = lora_layout_of(&c);
        lora_backward(e, n, id, &l, ec_value(e, n->inputs[0]), dy);
    }
}

const op_def op_conv2d_def = {.name = "conv2d", .forward = conv_forward, .backward = conv_backward};
