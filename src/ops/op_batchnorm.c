/* Batch norm (torch.nn.BatchNorm1d/2d) over [C] or [C, H, W] samples.
 * Training plans normalise with batch statistics and update the running
 * ones; evaluation plans use the running ones. State buffers follow
 * PyTorch: running_mean, running_var, num_batches_tracked.
 *
 * Frozen statistics (compile option freeze_bn): in a training plan, a
 * layer whose weight is frozen normalises with its running statistics
 * and leaves them alone, as Keras runs a frozen layer. It is then a
 * per-channel affine map: backward needs nothing saved (dx = dy * gamma
 * / sqrt(running_var + eps), dbeta = sums of dy) and the layer mixes no
 * samples, so a frozen prefix can run in chunks. Fine-tuning a
 * pretrained backbone with small batches usually wants this anyway. */
#include "ops.h"

enum { A_C, A_HW };
enum { P_WEIGHT, P_BIAS, P_MEAN, P_VAR, P_COUNT };
enum { SAVED_MEAN = 0, SAVED_INVSTD = 1 };

vkt_tensor vkt_batch_norm(vkt_graph *g, vkt_tensor x, float eps, float momentum, const char *name)
{
    const node *in = op_operand(g, x, "batch_norm");
    if (!in)
        return VKT_NO_TENSOR;
    const char *nm = name ? name : "?";
    if (in->dtype != VKT_F32 || (in->rank != 1 && in->rank != 3)) {
        char b[64];
        return graph_fail(g, VKT_ERR_SHAPE, "batch_norm '%s': input must be [C] or [C, H, W], got %s", nm,
                          op_shape_str(in, b));
    }
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return graph_fail(g, VKT_ERR_INVALID_ARG, "batch_norm '%s': eps must be > 0 and momentum in [0, 1]", nm);
    node n = op_node(OP_BATCHNORM, x);
    n.rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.iattr[A_C] = in->dims[0];
    n.iattr[A_HW] = (int)(in->numel / (size_t)in->dims[0]);
    n.fattr[0] = eps;
    n.fattr[1] = momentum;
    n.name = (char *)name;
    int64_t c[1] = {in->dims[0]};
    int ps[5] = {
        graph_add_param(g, name, "weight", 1, c, false),
        graph_add_param(g, name, "bias", 1, c, false),
        graph_add_param(g, name, "running_mean", 1, c, true),
        graph_add_param(g, name, "running_var", 1, c, true),
        graph_add_param(g, name, "num_batches_tracked", 0, NULL, true),
    };
    for (int i = 0; i < 5; i++) {
        if (ps[i] < 0)
            return VKT_NO_TENSOR;
        n.params[n.nparams++] = ps[i];
    }
    init_fill(g->params[ps[P_WEIGHT]].data, (size_t)c[0], 1.0f);
    init_fill(g->params[ps[P_VAR]].data, (size_t)c[0], 1.0f);
    g->params[ps[P_COUNT]].is_counter = true;
    return graph_add_node(g, &n);
}

static bool stats_frozen(const emit_ctx *e, const node *n)
{
    return ec_training(e) && ec_freeze_bn(e) && !ec_param_trainable(e, n->params[P_WEIGHT]);
}

/* y = (x - mean) * gamma / sqrt(var + eps) + beta with the running
 * statistics: evaluation, and training with frozen statistics. */
static void bn_running_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[A_C], p.i[2] = n->iattr[A_HW];
    p.f[0] = n->fattr[0];
    int slots[6] = {ec_value(e, n->inputs[0]), ec_param(e, n->params[P_WEIGHT]), ec_param(e, n->params[P_BIAS]),
                    ec_param(e, n->params[P_MEAN]), ec_param(e, n->params[P_VAR]), ec_value(e, id)};
    ec_emit(e, RT_K_BN_EVAL_FWD, &p, 6, slots);
}

static void bn_forward(emit_ctx *e, const node *n, int id)
{
    if (!ec_training(e) || stats_frozen(e, n)) {
        bn_running_forward(e, n, id);
        return;
    }
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[A_C], p.i[2] = n->iattr[A_HW];
    p.f[0] = n->fattr[0], p.f[1] = n->fattr[1];
    int x = ec_value(e, n->inputs[0]), y = ec_value(e, id);
    int w = ec_param(e, n->params[P_WEIGHT]), b = ec_param(e, n->params[P_BIAS]);
    int rm = ec_param(e, n->params[P_MEAN]), rv = ec_param(e, n->params[P_VAR]);
    size_t cb = (size_t)n->iattr[A_C] * 4;
    bool keep = ec_runs_backward(e, id);
    int mean = keep ? ec_saved(e, id, SAVED_MEAN, cb) : ec_temp(e, cb);
    int invstd = keep ? ec_saved(e, id, SAVED_INVSTD, cb) : ec_temp(e, cb);
    int slots[8] = {x, w, b, y, mean, invstd, rm, rv};
    ec_emit(e, RT_K_BN_TRAIN_FWD, &p, 8, slots);
}

/* y again from the saved batch statistics: running statistics are left
 * alone (a second training forward would update them twice). */
static void bn_recompute(emit_ctx *e, const node *n, int id)
{
    if (stats_frozen(e, n)) {
        bn_running_forward(e, n, id);
        return;
    }
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[A_C], p.i[2] = n->iattr[A_HW], p.i[3] = 1;
    p.f[0] = n->fattr[0];
    int slots[6] = {ec_value(e, n->inputs[0]), ec_param(e, n->params[P_WEIGHT]), ec_param(e, n->params[P_BIAS]),
                    ec_saved(e, id, SAVED_MEAN, 0), ec_saved(e, id, SAVED_INVSTD, 0), ec_value(e, id)};
    ec_emit(e, RT_K_BN_EVAL_FWD, &p, 6, slots);
}

/* Backward of the affine map frozen statistics make: the input's
 * gradient is dy scaled per channel (the running-statistics forward
 * applied to dy with zero mean and zero beta), beta's is dy's sums. */
static void bn_frozen_backward(emit_ctx *e, const node *n, int id)
{
    int c = n->iattr[A_C], acc;
    bool need_dx = ec_needs_grad(e, n->inputs[0]), need_db = ec_param_trainable(e, n->params[P_BIAS]);
    if (!need_dx && !need_db)
        return;
    int dy = ec_grad(e, id, &acc);
    if (need_db) {
        rt_params p = rt_params_zero();
        int db = ec_param_grad(e, n->params[P_BIAS], &acc);
        p.i[0] = ec_batch(e), p.i[1] = c, p.i[2] = n->iattr[A_HW], p.i[3] = acc;
        emit2(e, RT_K_BIAS_GRAD, &p, dy, db);
    }
    if (!need_dx)
        return;
    rt_params p = rt_params_zero();
    int zeros = ec_temp(e, (size_t)c * 4);
    p.i[0] = c;
    ec_emit(e, RT_K_FILL, &p, 1, &zeros);
    int dx = ec_grad(e, n->inputs[0], &acc);
    int out = acc ? ec_temp(e, (size_t)ec_batch(e) * n->numel * 4) : dx;
    p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = c, p.i[2] = n->iattr[A_HW];
    p.f[0] = n->fattr[0];
    int slots[6] = {dy, ec_param(e, n->params[P_WEIGHT]), zeros, zeros, ec_param(e, n->params[P_VAR]), out};
    ec_emit(e, RT_K_BN_EVAL_FWD, &p, 6, slots);
    if (acc) {
        p = rt_params_zero();
        p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = 1;
        emit2(e, RT_K_COPY, &p, out, dx);
    }
}

static void bn_backward(emit_ctx *e, const node *n, int id)
{
    if (stats_frozen(e, n)) {
        bn_frozen_backward(e, n, id);
        return;
    }
    rt_params p = rt_params_zero();
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[A_C], p.i[2] = n->iattr[A_HW];
    op_norm_backward(e, n, id, RT_K_BN_BWD, p, 3, SAVED_MEAN, SAVED_INVSTD);
}

static bool bn_couples_batch(const emit_ctx *e, const node *n)
{
    return ec_training(e) && !stats_frozen(e, n);
}

const op_def op_batchnorm_def = {
    .name = "batch_norm", .forward = bn_forward, .backward = bn_backward, .recompute = bn_recompute,
    .couples_batch = bn_couples_batch};
