/* Op definitions: what every graph op contributes to a plan.
 *
 * Each op lives in one file (op_<name>.c) holding its public builder
 * (shape rule, parameters), its forward emitter and its backward emitter
 * (which gradients it produces and what it reads). Adding an op means:
 * this file pair, a CPU kernel, a shader and a test. */
#ifndef VKT_OPS_H
#define VKT_OPS_H

#include "../compile/plan.h"
#include "../graph/graph_internal.h"

typedef struct op_def {
    const char *name;
    /* Emit the forward launches of node `id` (value into ec_value). */
    void (*forward)(emit_ctx *e, const node *n, int id);
    /* Emit gradients for the inputs that need one (ec_needs_grad) and for
     * trainable parameters. NULL: the op has nothing to differentiate. */
    void (*backward)(emit_ctx *e, const node *n, int id);
    bool is_loss;
    /* Emit the forward again in backward, into a fresh value slot, from
     * what forward kept (recomputation trades this work for not keeping
     * the value from forward to backward); must repeat the forward's
     * value bit for bit and change no state. NULL: not recomputable. */
    void (*recompute)(emit_ctx *e, const node *n, int id);
    /* Whether a training forward mixes samples of the batch (batch
     * statistics, a loss, a random stream indexed over the batch), so
     * the node cannot run a chunk of the batch at a time. NULL: never. */
    bool (*couples_batch)(const emit_ctx *e, const node *n);
    /* Whether the forward gives the node its first input's value
     * (ec_alias) instead of writing one. NULL: never. */
    bool (*aliases)(const emit_ctx *e, const node *n);
} op_def;

const op_def *op_get(op_kind kind);

extern const op_def op_input_def, op_linear_def, op_conv2d_def, op_maxpool_def, op_avgpool_def,
    op_gap_def, op_batchnorm_def, op_layernorm_def, op_activation_def, op_add_def, op_concat_def,
    op_reshape_def, op_dropout_def, op_embedding_def, op_softmax_ce_def, op_mse_def,
    op_attention_def;

/* Small emit helpers shared by op files. */
static inline void emit2(emit_ctx *e, rt_kernel k, const rt_params *p, int a0, int a1)
{
    int s[2] = {a0, a1};
    ec_emit(e, k, p, 2, s);
}



/* Sparse channel update: when weight `w` trains only some rows (output
 * channels), gather those channels of dY, laid out as `items` blocks of
 * [channels, width], into a compact temporary and return it (with
 * *channels = the rows trained); otherwise return dy unchanged. */
int op_rows_of_dy(emit_ctx *e, int w, int dy, int items, int channels_all, int width, int *channels);

/* Builder helper: the node behind operand `t` of `op`, or NULL (error
 * recorded) when t is invalid or is a loss (losses end a graph). */
const node *op_operand(vkt_graph *g, vkt_tensor t, const char *op);
/* A zeroed node of `kind` with one input. */
node op_node(op_kind kind, int input);
/* Shape string for error messages, e.g. "[16, 28, 28]". */
const char *op_shape_str(const node *n, char buf[64]);

/* Backward of batch norm and layer norm (same argument layout: x, dy,
 * gamma, mean, inverse std, dx, dgamma, dbeta). `p` carries the shape;
 * the accum flags go to p.i[flag] (dx) and p.i[flag + 1] (dgamma,
 * dbeta). params[0] and params[1] are the node's weight and bias. */
void op_norm_backward(emit_ctx *e, const node *n, int id, rt_kernel k, rt_params p, int flag, int saved_mean,
                      int saved_inv);

static inline plan_arg arg_at(int slot, size_t offset_floats, size_t count_floats)
{
    plan_arg a = {slot, offset_floats * 4, count_floats * 4};
    return a;
}
static inline plan_arg arg_whole(int slot)
{
    plan_arg a = {slot, 0, 0};
    return a;
}
static inline plan_arg arg_none(void)
{
    plan_arg a = {-1, 0, 0};
    return a;
}
#endif
