/* Elementwise activations. Backward reads the output for ReLU, ReLU6,
 * sigmoid and tanh (their derivative is a function of it) and the input
 * for GELU and SiLU, so only one of the two tensors is kept alive. */
#include "ops.h"

static bool reads_output(int act)
{
    return act == VKT_ACT_RELU || act == VKT_ACT_RELU6 || act == VKT_ACT_SIGMOID || act == VKT_ACT_TANH;
}

vkt_tensor vkt_activation_op(vkt_graph *g, vkt_tensor x, vkt_activation act)
{
    const node *in = op_operand(g, x, "activation");
    if (!in)
        return VKT_NO_TENSOR;
    if ((unsigned)act > VKT_ACT_TANH)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "activation: unknown kind %d", (int)act);
    if (in->dtype != VKT_F32)
        return graph_fail(g, VKT_ERR_SHAPE, "activation: input must be a float tensor");
    node n = op_node(OP_ACTIVATION, x);
    n.rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.iattr[0] = (int)act;
    return graph_add_node(g, &n);
}

vkt_tensor vkt_relu(vkt_graph *g, vkt_tensor x)
{
    return vkt_activation_op(g, x, VKT_ACT_RELU);
}

static void act_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = n->iattr[0];
    emit2(e, RT_K_ACT_FWD, &p, ec_value(e, n->inputs[0]), ec_value(e, id));
}

static void act_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_needs_grad(e, n->inputs[0]))
        return;
    rt_params p = rt_params_zero();
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dx = ec_grad(e, n->inputs[0], &acc);
    p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = n->iattr[0], p.i[2] = acc;
    bool out = reads_output(n->iattr[0]);
    int slots[4] = {out ? -1 : ec_value(e, n->inputs[0]), out ? ec_value(e, id) : -1, dy, dx};
    ec_emit(e, RT_K_ACT_BWD, &p, 4, slots);
}

const op_def op_activation_def = {
    .name = "activation", .forward = act_forward, .backward = act_backward, .recompute = act_forward};
