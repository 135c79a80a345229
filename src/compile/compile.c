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

vkt_status compile_plan(plan *pl, const compile_request *req)
{
    const vkt_graph *g = req->graph;
    vkt_status st = plan_init(pl, g, req->batch, req->training, req->trainable);
    if (st != VKT_OK)
        return st;
    pl->param_rows = req->param_rows;
    pl->arena_grads = req->training && req->optimizer && !(req->optimizer->clip_grad_norm > 0);
    pl->plain_memory = req->plain_memory;
    pl->col_chunk_bytes = req->col_chunk_bytes;
    pl->freeze_bn = req->training && req->freeze_bn;
    mark_gradients(pl, req->loss, req->input_grads);
    if (req->training && req->recompute && pl->error == VKT_OK)
        pl->error = mark_recompute(pl, req->loss);
    ec_scalars(pl);

    /* Forward: every node the loss depends on, in order; a frozen prefix
     * first, chunk by chunk, when asked. */
    int first = plan_emit_chunked_prefix(pl, req->loss, req->probe, req->prefix_chunk);
    for (int id = first; id <= req->loss && pl->error == VKT_OK; id++) {
        const node *n = &g->nodes[id];
        pl->label_node = id;
        op_get(n->kind)->forward(pl, n, id);
    }
    int forward_end = pl->launch_count;
    if (req->training) {
        /* Backward: the loss seeds it; others run once their gradient
         * has received every contribution (all consumers come later). */
        pl->in_backward = true;
        for (int id = req->loss; id >= 0 && pl->error == VKT_OK; id--) {
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
            for (int k = 0; pl->arena_grads && k < n->nparams; k++)
                optimizer_emit_param(pl, req->optimizer, n->params[k]);
        }
        pl->in_backward = false;
        pl->label_node = -1;
        pl->label_phase = PLAN_OPTIMIZER;
        if (req->optimizer && !pl->arena_grads)
            optimizer_emit(pl, req->optimizer); /* clipping needs every gradient first */
    }
    if (req->training && !req->plain_memory && pl->error == VKT_OK)
        pl->error = plan_relu_masks(pl, forward_end);
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
