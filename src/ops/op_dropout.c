/* Inverted dropout. The mask is never stored: forward and backward draw
 * it from the same counter-based hash of (step seed, node, element of
 * the whole batch, also when a micro-batch or chunk emits a part). In
 * evaluation plans dropout is the identity and moves no data. */
#include "ops.h"

vkt_tensor vkt_dropout(vkt_graph *g, vkt_tensor x, float p)
{
    const node *in = op_operand(g, x, "dropout");
    if (!in)
        return VKT_NO_TENSOR;
    if (!(p >= 0 && p < 1))
        return graph_fail(g, VKT_ERR_INVALID_ARG, "dropout: probability %g outside [0, 1)", (double)p);
    if (in->dtype != VKT_F32)
        return graph_fail(g, VKT_ERR_SHAPE, "dropout: input must be a float tensor");
    node n = op_node(OP_DROPOUT, x);
    n.rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.fattr[0] = p;
    return graph_add_node(g, &n);
}

/* Evaluation plans and p = 0 keep every element unscaled. */
static bool dropout_aliases(const emit_ctx *e, const node *n)
{
    return !ec_training(e) || n->fattr[0] == 0;
}

static void dropout_forward(emit_ctx *e, const node *n, int id)
{
    if (dropout_aliases(e, n)) {
        ec_alias(e, id, n->inputs[0]);
        return;
    }
    rt_params p = rt_params_zero();
    p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = id;
    p.i[3] = (int)((size_t)ec_first_sample(e) * n->numel);
    p.f[0] = n->fattr[0];
    int slots[3] = {ec_value(e, n->inputs[0]), ec_value(e, id), ec_scalars(e)};
    ec_emit(e, RT_K_DROPOUT_FWD, &p, 3, slots);
}

static void dropout_backward(emit_ctx *e, const node *n, int id)
{
    if (n->fattr[0] == 0 || !ec_needs_grad(e, n->inputs[0]))
        return; /* identity: the gradient is shared through the alias */
    rt_params p = rt_params_zero();
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dx = ec_grad(e, n->inputs[0], &acc);
    p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = id, p.i[2] = acc;
    p.i[3] = (int)((size_t)ec_first_sample(e) * n->numel);
    p.f[0] = n->fattr[0];
    int slots[3] = {dy, dx, ec_scalars(e)};
    ec_emit(e, RT_K_DROPOUT_BWD, &p, 3, slots);
}

/* A chunk of the batch draws its part of the whole batch's mask (the
 * kernels' first), so dropout treats samples alone. */
const op_def op_dropout_def = {
    .name = "dropout", .forward = dropout_forward, .backward = dropout_backward, .recompute = dropout_forward,
    .aliases = dropout_aliases};
