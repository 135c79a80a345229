#include "ops.h"

static const op_def *const op_table[OP_KIND_COUNT] = {
    [OP_INPUT] = &op_input_def,
    [OP_LINEAR] = &op_linear_def,
    [OP_CONV2D] = &op_conv2d_def,
    [OP_MAXPOOL] = &op_maxpool_def,
    [OP_AVGPOOL] = &op_avgpool_def,
    [OP_GAP] = &op_gap_def,
    [OP_BATCHNORM] = &op_batchnorm_def,
    [OP_LAYERNORM] = &op_layernorm_def,
    [OP_ACTIVATION] = &op_activation_def,
    [OP_ADD] = &op_add_def,
    [OP_CONCAT] = &op_concat_def,
    [OP_RESHAPE] = &op_reshape_def,
    [OP_DROPOUT] = &op_dropout_def,
    [OP_EMBEDDING] = &op_embedding_def,
    [OP_SOFTMAX_CE] = &op_softmax_ce_def,
    [OP_MSE] = &op_mse_def,
    [OP_ATTENTION] = &op_attention_def,
};

const op_def *op_get(op_kind kind)
{
    return (unsigned)kind < OP_KIND_COUNT ? op_table[kind] : NULL;
}

#include <stdio.h>

const node *op_operand(vkt_graph *g, vkt_tensor t, const char *op)
{
    if (!graph_check(g, t, op))
        return NULL;
    const node *n = &g->nodes[t];
    if (op_get(n->kind)->is_loss) {
        graph_fail(g, VKT_ERR_INVALID_ARG, "%s: a loss cannot be the input of another op", op);
        return NULL;
    }
    return n;
}

node op_node(op_kind kind, int input)
{
    node n = {0};
    n.kind = kind;
    n.ninputs = 1;
    n.inputs[0] = input;
    n.dtype = VKT_F32;
    return n;
}

const char *op_shape_str(const node *n, char buf[64])
{
    int len = snprintf(buf, 64, "[");
    for (int i = 0; i < n->rank && len < 56; i++)
        len += snprintf(buf + len, (size_t)(64 - len), i ? ", %d" : "%d", n->dims[i]);
    snprintf(buf + len, (size_t)(64 - len), "]");
    return buf;
}

void op_norm_backward(emit_ctx *e, const node *n, int id, rt_kernel k, rt_params p, int flag, int saved_mean,
                      int saved_inv)
{
    int w = n->params[0], b = n->params[1];
    bool need_dx = ec_needs_grad(e, n->inputs[0]);
    bool need_dw = ec_param_trainable(e, w), need_db = ec_param_trainable(e, b);
    if (!need_dx && !need_dw && !need_db)
        return;
    int acc_dx = 0, acc_w = 0, acc_b = 0, acc;
    int dy = ec_grad(e, id, &acc);
    int dx = need_dx ? ec_grad(e, n->inputs[0], &acc_dx) : -1;
    int dw = need_dw ? ec_param_grad(e, w, &acc_w) : -1;
    int db = need_db ? ec_param_grad(e, b, &acc_b) : -1;
    p.i[flag] = acc_dx;
    p.i[flag + 1] = acc_w | acc_b; /* both 0 or both 1: a node owns its weight and bias */
    int slots[8] = {ec_value(e, n->inputs[0]), dy, ec_param(e, w), ec_saved(e, id, saved_mean, 0),
                    ec_saved(e, id, saved_inv, 0), dx, dw, db};
    ec_emit(e, k, &p, 8, slots);
}

int op_rows_of_dy(emit_ctx *e, int w, int dy, int items, int channels_all, int width, int *channels)
{
    int k = ec_param_rows(e, w);
    *channels = k ? k : channels_all;
    if (!k)
        return dy;
    int compact = ec_temp(e, (size_t)items * (size_t)k * (size_t)width * 4);
    rt_params p = rt_params_zero();
    p.i[0] = items, p.i[1] = channels_all, p.i[2] = k, p.i[3] = width;
    int slots[3] = {dy, ec_param_index(e, w), compact};
    ec_emit(e, RT_K_GATHER_ROWS, &p, 3, slots);
    return compact;
}
