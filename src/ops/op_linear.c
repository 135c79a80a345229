/* Linear: y = x W^T + b over the last dimension (torch.nn.Linear).
 * weight [out, in], bias [out]; leading dimensions are flattened into
 * rows. Backward: dX = dY W, dW = dY^T X, db = column sums of dY. */
#include <math.h>

#include "lora.h"
#include "ops.h"

enum { A_IN, A_OUT, A_HAS_BIAS };

vkt_tensor vkt_linear(vkt_graph *g, vkt_tensor x, int out_features, bool bias, const char *name)
{
    const node *in = op_operand(g, x, "linear");
    if (!in)
        return VKT_NO_TENSOR;
    if (in->dtype != VKT_F32 || in->rank < 1)
        return graph_fail(g, VKT_ERR_SHAPE, "linear '%s': input must be a float tensor of rank >= 1",
                          name ? name : "?");
    if (out_features < 1)
        return graph_fail(g, VKT_ERR_SHAPE, "linear '%s': out_features %d < 1", name ? name : "?", out_features);
    int in_features = in->dims[in->rank - 1];
    node n = op_node(OP_LINEAR, x);
    n.rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.dims[n.rank - 1] = out_features;
    n.iattr[A_IN] = in_features;
    n.iattr[A_OUT] = out_features;
    n.iattr[A_HAS_BIAS] = bias;
    n.name = (char *)name;

    int64_t wd[2] = {out_features, in_features}, bd[1] = {out_features};
    int w = graph_add_param(g, name, "weight", 2, wd, false);
    int b = bias ? graph_add_param(g, name, "bias", 1, bd, false) : -1;
    if (w < 0 || (bias && b < 0))
        return VKT_NO_TENSOR;
    /* torch: kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)). */
    float bound = 1.0f / sqrtf((float)in_features);
    init_uniform(g, g->params[w].data, g->params[w].numel, bound);
    if (b >= 0)
        init_uniform(g, g->params[b].data, g->params[b].numel, bound);
    n.params[n.nparams++] = w;
    if (b >= 0)
        n.params[n.nparams++] = b;
    return graph_add_node(g, &n);
}

static int rows_of(emit_ctx *e, const node *n)
{
    return ec_batch(e) * (int)(n->numel / (size_t)n->iattr[A_OUT]);
}

static lora_layout lora_layout_of(emit_ctx *e, const node *n)
{
    lora_layout l = {n->iattr[A_IN], n->iattr[A_OUT], false, rows_of(e, n)};
    return l;
}

static void linear_forward(emit_ctx *e, const node *n, int id)
{
    int rows = rows_of(e, n), in = n->iattr[A_IN], out = n->iattr[A_OUT];
    rt_params p = rt_params_zero();
    p.i[0] = rows, p.i[1] = out, p.i[2] = in;
    p.i[4] = 1; /* transB: W is [out, in] */
    p.i[5] = in, p.i[6] = in, p.i[7] = out;
    p.i[8] = 1;
    p.i[12] = n->iattr[A_HAS_BIAS] ? 2 : 0;
    int slots[4] = {ec_value(e, n->inputs[0]), ec_param(e, n->params[0]), ec_value(e, id),
                    n->iattr[A_HAS_BIAS] ? ec_param(e, n->params[1]) : -1};
    ec_emit(e, RT_K_GEMM, &p, 4, slots);
    if (n->lora_rank) {
        lora_layout l = lora_layout_of(e, n);
        lora_forward(e, n, id, &l, slots[0], slots[2]);
    }
}

static void linear_backward(emit_ctx *e, const node *n, int id)
{
    int rows = rows_of(e, n), in = n->iattr[A_IN], out = n->iattr[A_OUT];
    int acc;
    int dy = ec_grad(e, id, &acc); /* already written by consumers */
    int w = n->params[0];
    if (ec_needs_grad(e, n->inputs[0])) { /* dX[rows,in] = dY[rows,out] W[out,in] */
        rt_params p = rt_params_zero();
        int dx = ec_grad(e, n->inputs[0], &acc);
        p.i[0] = rows, p.i[1] = in, p.i[2] = out;
        p.i[5] = out, p.i[6] = in, p.i[7] = in, p.i[8] = 1, p.i[13] = acc;
        int slots[4] = {dy, ec_param(e, w), dx, -1};
        ec_emit(e, RT_K_GEMM, &p, 4, slots);
    }
    if (ec_param_trainable(e, w)) { /* dW[out,in] = dY^T X (only the trained rows: dY's columns) */
        int m, src = op_rows_of_dy(e, w, dy, rows, out, 1, &m);
        rt_params p = rt_params_zero();
        int dw = ec_param_grad(e, w, &acc);
        p.i[0] = m, p.i[1] = in, p.i[2] = rows, p.i[3] = 1;
        p.i[5] = m, p.i[6] = in, p.i[7] = in, p.i[8] = 1, p.i[13] = acc;
        int slots[4] = {src, ec_value(e, n->inputs[0]), dw, -1};
        ec_emit(e, RT_K_GEMM, &p, 4, slots);
    }
    if (n->iattr[A_HAS_BIAS] && ec_param_trainable(e, n->params[1])) {
        rt_params p = rt_params_zero();
        int db = ec_param_grad(e, n->params[1], &acc);
        p.i[0] = rows, p.i[1] = out, p.i[2] = 1, p.i[3] = acc;
        emit2(e, RT_K_BIAS_GRAD, &p, dy, db);
    }
    if (n->lora_rank) {
        lora_layout l = lora_layout_of(e, n);
        lora_backward(e, n, id, &l, ec_value(e, n->inputs[0]), dy);
    }
}

const op_def op_linear_def = {.name = "linear", .forward = linear_forward, .backward = linear_backward};
