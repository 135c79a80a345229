/* Layer norm (torch.nn.LayerNorm) over the last dimension, with
 * elementwise weight and bias. */
#include "ops.h"

enum { P_WEIGHT, P_BIAS };
enum { SAVED_MEAN = 0, SAVED_RSTD = 1 };

vkt_tensor vkt_layer_norm(vkt_graph *g, vkt_tensor x, float eps, const char *name)
{
    const node *in = op_operand(g, x, "layer_norm");
    if (!in)
        return VKT_NO_TENSOR;
    if (in->dtype != VKT_F32 || in->rank < 1)
        return graph_fail(g, VKT_ERR_SHAPE, "layer_norm '%s': input must be a float tensor of rank >= 1",
                          name ? name : "?");
    if (!(eps > 0))
        return graph_fail(g, VKT_ERR_INVALID_ARG, "layer_norm '%s': eps must be > 0", name ? name : "?");
    node n = op_node(OP_LAYERNORM, x);
    n.rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.iattr[0] = in->dims[in->rank - 1];
    n.fattr[0] = eps;
    n.name = (char *)name;
    int64_t d[1] = {n.iattr[0]};
    int w = graph_add_param(g, name, "weight", 1, d, false);
    int b = graph_add_param(g, name, "bias", 1, d, false);
    if (w < 0 || b < 0)
        return VKT_NO_TENSOR;
    init_fill(g->params[w].data, (size_t)d[0], 1.0f);
    n.params[n.nparams++] = w;
    n.params[n.nparams++] = b;
    return graph_add_node(g, &n);
}

static int rows_of(emit_ctx *e, const node *n)
{
    return ec_batch(e) * (int)(n->numel / (size_t)n->iattr[0]);
}

static void ln_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    int rows = rows_of(e, n);
    p.i[0] = rows, p.i[1] = n->iattr[0];
    p.f[0] = n->fattr[0];
    size_t rb = (size_t)rows * 4;
    bool keep = ec_runs_backward(e, id);
    int slots[6] = {ec_value(e, n->inputs[0]), ec_param(e, n->params[P_WEIGHT]), ec_param(e, n->params[P_BIAS]),
                    ec_value(e, id), keep ? ec_saved(e, id, SAVED_MEAN, rb) : ec_temp(e, rb),
                    keep ? ec_saved(e, id, SAVED_RSTD, rb) : ec_temp(e, rb)};
    ec_emit(e, RT_K_LN_FWD, &p, 6, slots);
}

static void ln_backward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = rows_of(e, n), p.i[1] = n->iattr[0];
    op_norm_backward(e, n, id, RT_K_LN_BWD, p, 2, SAVED_MEAN, SAVED_RSTD);
}

const op_def op_layernorm_def = {.name = "layer_norm", .forward = ln_forward, .backward = ln_backward};
