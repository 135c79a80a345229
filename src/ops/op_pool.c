/* 2-D max and average pooling (torch.nn.MaxPool2d / AvgPool2d, floor
 * mode) and global average pooling. Max pooling keeps the argmax of each
 * window for backward instead of the input: one byte per output (the
 * winner's place in its window) for windows of up to 255 elements. */
#include "ops.h"

enum { A_H, A_W, A_KH, A_KW, A_SH, A_SW, A_PH, A_PW, A_INCLUDE_PAD };
enum { SAVED_ARGMAX = 0 };

static vkt_tensor pool_build(vkt_graph *g, vkt_tensor x, const vkt_pool2d_params *pp, op_kind kind, const char *op)
{
    const node *in = op_operand(g, x, op);
    if (!in)
        return VKT_NO_TENSOR;
    if (!pp)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (in->dtype != VKT_F32 || in->rank != 3) {
        char b[64];
        return graph_fail(g, VKT_ERR_SHAPE, "%s: input must be [C, H, W], got %s", op, op_shape_str(in, b));
    }
    int kh = pp->kernel_h, kw = pp->kernel_w;
    int sh = pp->stride_h ? pp->stride_h : kh, sw = pp->stride_w ? pp->stride_w : kw;
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || pp->pad_h < 0 || pp->pad_w < 0)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "%s: kernel and stride must be positive, padding >= 0", op);
    if (pp->pad_h > kh / 2 || pp->pad_w > kw / 2)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "%s: padding must be at most half the kernel size", op);
    int h = in->dims[1], w = in->dims[2];
    if (h + 2 * pp->pad_h < kh || w + 2 * pp->pad_w < kw)
        return graph_fail(g, VKT_ERR_SHAPE, "%s: kernel %dx%d larger than the padded %dx%d input", op, kh, kw, h, w);
    node n = op_node(kind, x);
    n.rank = 3;
    n.dims[0] = in->dims[0];
    n.dims[1] = (h + 2 * pp->pad_h - kh) / sh + 1;
    n.dims[2] = (w + 2 * pp->pad_w - kw) / sw + 1;
    int at[] = {h, w, kh, kw, sh, sw, pp->pad_h, pp->pad_w, pp->count_include_pad};
    for (int i = 0; i <= A_INCLUDE_PAD; i++)
        n.iattr[i] = at[i];
    return graph_add_node(g, &n);
}

vkt_tensor vkt_max_pool2d(vkt_graph *g, vkt_tensor x, const vkt_pool2d_params *p)
{
    return pool_build(g, x, p, OP_MAXPOOL, "max_pool2d");
}

vkt_tensor vkt_avg_pool2d(vkt_graph *g, vkt_tensor x, const vkt_pool2d_params *p)
{
    return pool_build(g, x, p, OP_AVGPOOL, "avg_pool2d");
}

static rt_params pool_params(emit_ctx *e, const node *n)
{
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e) * n->dims[0];
    for (int i = 0; i < 8; i++)
        p.i[1 + i] = n->iattr[A_H + i];
    p.i[9] = n->dims[1], p.i[10] = n->dims[2];
    return p;
}

/* The argmax format: a byte per output (its index in the window) when
 * windows are small enough, else the int32 index in the plane. */
static int argmax_format(emit_ctx *e, const node *n)
{
    bool small = n->iattr[A_KH] * n->iattr[A_KW] <= RT_ARGMAX_U8_MAX_WINDOW;
    return small && ec_compact_saved(e) ? RT_ARGMAX_U8 : RT_ARGMAX_I32;
}

static void maxpool_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = pool_params(e, n);
    p.i[12] = argmax_format(e, n);
    size_t outputs = (size_t)ec_batch(e) * n->numel;
    size_t bytes = p.i[12] == RT_ARGMAX_U8 ? (outputs + 3) / 4 * 4 : outputs * 4;
    int argmax = ec_runs_backward(e, id) ? ec_saved(e, id, SAVED_ARGMAX, bytes) : ec_temp(e, bytes);
    int slots[3] = {ec_value(e, n->inputs[0]), ec_value(e, id), argmax};
    ec_emit(e, RT_K_MAXPOOL_FWD, &p, 3, slots);
}

static void maxpool_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_needs_grad(e, n->inputs[0]))
        return;
    rt_params p = pool_params(e, n);
    p.i[12] = argmax_format(e, n);
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dx = ec_grad(e, n->inputs[0], &acc);
    p.i[11] = acc;
    int slots[3] = {dy, ec_saved(e, id, SAVED_ARGMAX, 0), dx};
    ec_emit(e, RT_K_MAXPOOL_BWD, &p, 3, slots);
}

static void avgpool_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = pool_params(e, n);
    p.i[11] = n->iattr[A_INCLUDE_PAD];
    emit2(e, RT_K_AVGPOOL_FWD, &p, ec_value(e, n->inputs[0]), ec_value(e, id));
}

static void avgpool_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_needs_grad(e, n->inputs[0]))
        return;
    rt_params p = pool_params(e, n);
    p.i[11] = n->iattr[A_INCLUDE_PAD];
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dx = ec_grad(e, n->inputs[0], &acc);
    p.i[12] = acc;
    emit2(e, RT_K_AVGPOOL_BWD, &p, dy, dx);
}

const op_def op_maxpool_def = {
    .name = "max_pool2d", .forward = maxpool_forward, .backward = maxpool_backward, .recompute = maxpool_forward};
const op_def op_avgpool_def = {
    .name = "avg_pool2d", .forward = avgpool_forward, .backward = avgpool_backward, .recompute = avgpool_forward};

/* ---- global average pooling: [C, H, W] -> [C] ---- */

vkt_tensor vkt_global_avg_pool(vkt_graph *g, vkt_tensor x)
{
    const node *in = op_operand(g, x, "global_avg_pool");
    if (!in)
        return VKT_NO_TENSOR;
    if (in->dtype != VKT_F32 || in->rank != 3) {
        char b[64];
        return graph_fail(g, VKT_ERR_SHAPE, "global_avg_pool: input must be [C, H, W], got %s", op_shape_str(in, b));
    }
    node n = op_node(OP_GAP, x);
    n.rank = 1;
    n.dims[0] = in->dims[0];
    n.iattr[0] = in->dims[1] * in->dims[2];
    return graph_add_node(g, &n);
}

static void gap_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e) * n->dims[0], p.i[1] = n->iattr[0];
    emit2(e, RT_K_GAP_FWD, &p, ec_value(e, n->inputs[0]), ec_value(e, id));
}

static void gap_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_needs_grad(e, n->inputs[0]))
        return;
    rt_params p = rt_params_zero();
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dx = ec_grad(e, n->inputs[0], &acc);
    p.i[0] = ec_batch(e) * n->dims[0], p.i[1] = n->iattr[0], p.i[2] = acc;
    emit2(e, RT_K_GAP_BWD, &p, dy, dx);
}

const op_def op_gap_def = {.name = "global_avg_pool", .forward = gap_forward, .backward = gap_backward};
