/* Forward/backward planning.
 *
 * A node's gradient is required when it both depends on a trainable
 * parameter and feeds the loss; only those nodes run backward, so no
 * input gradient is computed below the lowest trainable layer, and
 * frozen weights get no gradient. Backward walks the nodes in reverse
 * creation order, which is a reverse topological order. */
#include "compile.h"

#include <stdlib.h>

#include "../ops/ops.h"
#include "../train/optimizer.h"
#include "runtime/rt_error.h"

static void mark_gradients(plan *pl, int loss, bool input_grads)
{
    const vkt_graph *g = pl->graph;
    bool *feeds_loss = calloc((size_t)g->node_count + 1, sizeof(bool));
    bool *depends = calloc((size_t)g->node_count + 1, sizeof(bool));
    if (!feeds_loss || !depends) {
        free(feeds_loss);
        free(depends);
        ec_fail(pl, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
        return;
    }
    feeds_loss[loss] = true;
    for (int id = loss; id >= 0; id--)
        if (feeds_loss[id])
            for (int k = 0; k < g->nodes[id].ninputs; k++)
                feeds_loss[g->nodes[id].inputs[k]] = true;
    for (int id = 0; id <= loss; id++) {
        const node *n = &g->nodes[id];
        for (int k = 0; k < n->nparams; k++)
            depends[id] |= pl->trainable[n->params[k]];
        if (n->kind == OP_INPUT && n->dtype == VKT_F32)
            depends[id] = input_grads;
        for (int k = 0; k < n->ninputs; k++)
            depends[id] |= depends[n->inputs[k]];
        pl->needs_grad[id] = pl->training && depends[id] && feeds_loss[id];
        pl->runs_backward[id] = pl->needs_grad[id];
    }
    free(feeds_loss);
    free(depends);
}

/* Recomputed launches count to the backward of the node they redo. */
static void rematerialize(plan *pl, int id)
{
    const node *n = &pl->graph->nodes[id];
    int label = pl->label_node;
    plan_phase phase = pl->label_phase;
    pl->label_node = id;
    pl->label_phase = PLAN_BACKWARD;
    op_get(n->kind)->recompute(pl, n, id);
    pl->label_node = label;
    pl->label_phase = phase;
}

/* Layers cheap to run again (activations, batch norm from its saved
 * statistics, pooling, add, dropout) are recomputed in backward from
 * their inputs instead of being kept from forward: conv -> bn -> relu
 * keeps the conv output and the statistics, not three tensors. */
static vkt_status mark_recompute(plan *pl, int loss)
{
    const vkt_graph *g = pl->graph;
    pl->recompute = calloc((size_t)g->node_count + 1, sizeof(bool));
    pl->rematerialized = calloc((size_t)g->node_count + 1, sizeof(bool));
    if (!pl->recompute || !pl->rematerialized)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    for (int id = 0; id < loss; id++)
        pl->recompute[id] = op_get(g->nodes[id].kind)->recompute != NULL;
    pl->rematerialize = rematerialize;
    return VKT_OK;
}

static void emit_forward(plan *pl, int first, int loss)
{
    const vkt_graph *g = pl->graph;
    pl->label_phase = PLAN_FORWARD;
    for (int id = first; id <= loss && pl->error == VKT_OK; id++) {
        pl->label_node = id;
        op_get(g->nodes[id].kind)->forward(pl, &g->nodes[id], id);
    }
}

/* Backward: the loss seeds it; others run once their gradient has
 * received every contribution (all consumers come later). With
 * early_updates, a parameter is updated right after its layer. */
static void emit_backward(plan *pl, int loss, const vkt_optimizer_config *opt, bool early_updates)
{
    const vkt_graph *g = pl->graph;
    pl->in_backward = true;
    for (int id = loss; id >= 0 && pl->error == VKT_OK; id--) {
        const node *n = &g->nodes[id];
        const op_def *def = op_get(n->kind);
        if (!pl->runs_backward[id] || !def->backward)
            continue;
        int root = id;
        while (pl->alias_of[root] >= 0)
            root = pl->alias_of[root];
        if (!def->is_loss && !pl->grad_written[root])
            continue;
        pl->label_node = id;
        pl->label_phase = PLAN_BACKWARD;
        def->backward(pl, n, id);
        /* A parameter belongs to one layer: its gradient is complete
         * now, so update it and let its bytes be reused. */
        for (int k = 0; early_updates && k < n->nparams; k++)
            optimizer_emit_param(pl, opt, n->params[k]);
    }
    pl->in_backward = false;
    pl->label_node = -1;
}

/* What micro-batches cannot do, as an error; VKT_OK when they can. */
static vkt_status check_micro_batches(const plan *pl, const compile_request *req)
{
    if (!req->training || req->input_grads || req->probe >= 0 || req->fp16_activations || req->prefix_chunk)
        return rt_error(VKT_ERR_UNSUPPORTED, "micro-batches need a training plan without input gradients, probes, "
                                             "fp16 activations or frozen-prefix chunks");
    for (int id = 0; id < req->loss; id++) {
        const op_def *def = op_get(pl->graph->nodes[id].kind);
        if (def->couples_batch && def->couples_batch(pl, &pl->graph->nodes[id]))
            return rt_error(VKT_ERR_UNSUPPORTED,
                            "micro-batches: node %d (%s) mixes the samples of a batch (batch statistics); "
                            "--freeze-bn makes frozen batch norm layers per-sample",
                            id, def->name);
    }
    return VKT_OK;
}

/* The step in micro-batches (gradient accumulation): forward and
 * backward of each `micro` samples in turn over views of the inputs,
 * every parameter gradient summed across them in its persistent slot,
 * losses averaged over the whole batch; then the optimizer. Activation
 * memory is a micro-batch's; the sums' order differs from one pass's. */
static void emit_micro_batches(plan *pl, const compile_request *req)
{
    const vkt_graph *g = pl->graph;
    int batch = pl->batch;
    int *inputs = malloc((size_t)g->node_count * sizeof *inputs);
    if (!inputs) {
        ec_fail(pl, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
        return;
    }
    for (int id = 0; id < g->node_count; id++)
        inputs[id] = g->nodes[id].kind == OP_INPUT ? ec_value(pl, id) : -1;
    pl->mean_over = batch;
    for (int first = 0; first < batch && pl->error == VKT_OK; first += req->micro_batch) {
        int count = batch - first < req->micro_batch ? batch - first : req->micro_batch;
        pl->batch = count;
        pl->first_sample = first;
        for (int id = 0; id < g->node_count; id++) {
            size_t sample = g->nodes[id].numel * 4;
            pl->value_slot[id] = inputs[id] < 0 ? -1
                                                : plan_add_view_slot(pl, inputs[id], sample * (size_t)first,
                                                                     sample * (size_t)count);
            pl->grad_slot[id] = -1;
            pl->grad_written[id] = false;
            if (pl->rematerialized)
                pl->rematerialized[id] = false;
            for (int t = 0; t < SAVED_PER_NODE; t++)
                pl->saved_slot[id * SAVED_PER_NODE + t] = -1;
        }
        emit_forward(pl, 0, req->loss);
        emit_backward(pl, req->loss, req->optimizer, false);
    }
    pl->batch = batch;
    pl->first_sample = 0;
    for (int id = 0; id < g->node_count; id++)
        pl->value_slot[id] = inputs[id];
    free(inputs);
}

vkt_status compile_plan(plan *pl, const compile_request *req)
{
    const vkt_graph *g = req->graph;
    vkt_status st = plan_init(pl, g, req->batch, req->training, req->trainable);
    if (st != VKT_OK)
        return st;
    bool micro = req->training && req->micro_batch > 0 && req->micro_batch < req->batch;
    pl->param_rows = req->param_rows;
    pl->arena_grads = req->training && req->optimizer && !(req->optimizer->clip_grad_norm > 0) && !micro;
    pl->plain_memory = req->plain_memory;
    pl->col_chunk_bytes = req->col_chunk_bytes;
    pl->freeze_bn = req->training && req->freeze_bn;
    mark_gradients(pl, req->loss, req->input_grads);
    if (req->training && req->recompute && pl->error == VKT_OK)
        pl->error = mark_recompute(pl, req->loss);
    if (micro && pl->error == VKT_OK)
        pl->error = check_micro_batches(pl, req);
    ec_scalars(pl);

    if (micro) {
        emit_micro_batches(pl, req);
    } else {
        /* Every node the loss depends on, in order; a frozen prefix
         * first, chunk by chunk, when asked. */
        int first = plan_emit_chunked_prefix(pl, req->loss, req->probe, req->prefix_chunk);
        emit_forward(pl, first, req->loss);
    }
    int forward_end = pl->launch_count;
    if (req->training && !micro)
        emit_backward(pl, req->loss, req->optimizer, pl->arena_grads);
    pl->label_phase = PLAN_OPTIMIZER;
    if (req->training && req->optimizer && !pl->arena_grads)
        optimizer_emit(pl, req->optimizer); /* clipping needs every gradient first */
    if (req->training && !req->plain_memory && pl->error == VKT_OK)
        pl->error = plan_relu_masks(pl);
    if (req->training && req->fp16_activations && pl->error == VKT_OK)
        pl->error = plan_store_half(pl, forward_end);
    /* Results read after the run must not share memory with anything
     * that comes later. */
    for (int k = 0; req->input_grads && k < g->input_count; k++) {
        int s = pl->grad_slot[g->inputs[k]];
        if (s >= 0)
            pl->slots[s].last_use = pl->launch_count;
    }
    if (req->probe >= 0 && pl->error == VKT_OK)
        pl->slots[ec_value(pl, req->probe)].last_use = pl->launch_count;
    if (!req->plain_memory && pl->error == VKT_OK)
        plan_in_place(pl); /* lifetimes are final */
    if (pl->error == VKT_OK)
        plan_memory(pl);
    return pl->error;
}
