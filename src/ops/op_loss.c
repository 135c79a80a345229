/* Losses: softmax cross entropy with label smoothing, and MSE. A loss
 * ends the graph: its value goes to the scalars buffer (loss, running
 * sums, correct count), and its backward seeds the gradient with 1. */
#include "ops.h"

enum { SAVED_PROBS = 0 };

vkt_tensor vkt_softmax_cross_entropy(vkt_graph *g, vkt_tensor logits, vkt_tensor labels, float label_smoothing)
{
    const node *lg = op_operand(g, logits, "softmax_cross_entropy");
    const node *lb = lg ? op_operand(g, labels, "softmax_cross_entropy") : NULL;
    if (!lg || !lb)
        return VKT_NO_TENSOR;
    if (lg->dtype != VKT_F32 || lg->rank != 1) {
        char b[64];
        return graph_fail(g, VKT_ERR_SHAPE, "softmax_cross_entropy: logits must be [classes], got %s",
                          op_shape_str(lg, b));
    }
    if (lb->dtype != VKT_I32 || lb->numel != 1)
        return graph_fail(g, VKT_ERR_SHAPE, "softmax_cross_entropy: labels must be one I32 value per sample");
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return graph_fail(g, VKT_ERR_INVALID_ARG, "softmax_cross_entropy: label smoothing %g outside [0, 1]",
                          (double)label_smoothing);
    node n = op_node(OP_SOFTMAX_CE, logits);
    n.ninputs = 2;
    n.inputs[1] = labels;
    n.rank = 0;
    n.iattr[0] = lg->dims[0];
    n.fattr[0] = label_smoothing;
    return graph_add_node(g, &n);
}

static void ce_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[0];
    p.f[0] = n->fattr[0];
    size_t bytes = (size_t)ec_batch(e) * (size_t)n->iattr[0] * 4;
    int probs = ec_runs_backward(e, id) ? ec_saved(e, id, SAVED_PROBS, bytes) : ec_temp(e, bytes);
    int slots[4] = {ec_value(e, n->inputs[0]), ec_value(e, n->inputs[1]), probs, ec_scalars(e)};
    ec_emit(e, RT_K_SOFTMAX_CE_FWD, &p, 4, slots);
}

static void ce_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_needs_grad(e, n->inputs[0]))
        return;
    rt_params p = rt_params_zero();
    int acc;
    int dlogits = ec_grad(e, n->inputs[0], &acc);
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[0], p.i[2] = acc, p.i[3] = ec_mean_over(e);
    p.f[0] = n->fattr[0];
    int slots[3] = {ec_saved(e, id, SAVED_PROBS, 0), ec_value(e, n->inputs[1]), dlogits};
    ec_emit(e, RT_K_SOFTMAX_CE_BWD, &p, 3, slots);
}

const op_def op_softmax_ce_def = {
    .name = "softmax_cross_entropy", .forward = ce_forward, .backward = ce_backward, .is_loss = true};

/* ---- mean squared error ---- */

vkt_tensor vkt_mse_loss(vkt_graph *g, vkt_tensor pred, vkt_tensor target)
{
    const node *pn = op_operand(g, pred, "mse_loss");
    const node *tn = pn ? op_operand(g, target, "mse_loss") : NULL;
    if (!pn || !tn)
        return VKT_NO_TENSOR;
    if (pn->dtype != VKT_F32 || tn->dtype != VKT_F32 || pn->numel != tn->numel) {
        char sa[64], sb[64];
        return graph_fail(g, VKT_ERR_SHAPE, "mse_loss: prediction %s and target %s must be float tensors of the same "
                          "size", op_shape_str(pn, sa), op_shape_str(tn, sb));
    }
    node n = op_node(OP_MSE, pred);
    n.ninputs = 2;
    n.inputs[1] = target;
    n.rank = 0;
    n.iattr[0] = (int)pn->numel;
    return graph_add_node(g, &n);
}

static void mse_forward(emit_ctx *e, const node *n, int id)
{
    (void)id;
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[0];
    int slots[3] = {ec_value(e, n->inputs[0]), ec_value(e, n->inputs[1]), ec_scalars(e)};
    ec_emit(e, RT_K_MSE_FWD, &p, 3, slots);
}

static void mse_backward(emit_ctx *e, const node *n, int id)
{
    (void)id;
    /* d/dpred = 2 (pred - target) / (N D); d/dtarget is the same kernel
     * with the operands swapped. */
    for (int k = 0; k < 2; k++) {
        if (!ec_needs_grad(e, n->inputs[k]))
            continue;
        rt_params p = rt_params_zero();
        int acc;
        int d = ec_grad(e, n->inputs[k], &acc);
        p.i[0] = ec_batch(e), p.i[1] = n->iattr[0], p.i[2] = acc, p.i[3] = ec_mean_over(e);
        int slots[3] = {ec_value(e, n->inputs[k]), ec_value(e, n->inputs[1 - k]), d};
        ec_emit(e, RT_K_MSE_BWD, &p, 3, slots);
    }
}

const op_def op_mse_def = {.name = "mse_loss", .forward = mse_forward, .backward = mse_backward, .is_loss = true};
