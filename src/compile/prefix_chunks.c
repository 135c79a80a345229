/* The frozen prefix of a training step, run a chunk of the batch at a
 * time.
 *
 * Under a fine-tuning policy the bottom of the network is frozen: no
 * gradient flows there, so its forward keeps nothing for backward, and
 * only the values that the trainable top reads must exist for the whole
 * batch. Its other values (a conv's output, im2col columns, pooling
 * inputs) are transient, and at full batch they set the step's memory
 * peak. Emitting the prefix's forward once per chunk, at the chunk's
 * batch size, shrinks that working set to a chunk's: graph inputs and
 * the values read later ("boundary" values) are views of the full-batch
 * tensors at the chunk's samples, every other value is a fresh slot
 * that the liveness planner lets the next chunk reuse.
 *
 * Only nodes whose forward treats samples independently qualify (op_def
 * couples_batch; batch statistics and losses do not), and the kernels
 * compute each sample's values the same whatever the batch, so the step
 * is bit-identical to the unchunked one; it costs one launch per prefix
 * kernel per chunk. */
#include <stdlib.h>

#include "../ops/ops.h"
#include "plan.h"
#include "runtime/rt_error.h"

static bool couples_batch(const plan *pl, const node *n)
{
    const op_def *d = op_get(n->kind);
    return d->is_loss || (d->couples_batch && d->couples_batch(pl, n));
}

/* Nodes whose forward shares its input's memory (op_def.aliases): a
 * value read through one is its input's. */
static bool is_alias(const plan *pl, const node *n)
{
    const op_def *d = op_get(n->kind);
    return d->aliases && d->aliases(pl, n);
}

/* Leading nodes that need no gradient and couple no samples. */
static int find_prefix_end(const plan *pl, int loss)
{
    int end = 0;
    while (end < loss && !pl->needs_grad[end] && !couples_batch(pl, &pl->graph->nodes[end]))
        end++;
    return end;
}

/* Marks the prefix values read after it (through aliases); returns
 * whether the prefix has a layer to run (its value or its workspace,
 * like im2col columns, then shrinks to a chunk's). */
static bool mark_boundary(const plan *pl, int end, int loss, int probe, bool *boundary)
{
    const vkt_graph *g = pl->graph;
    for (int id = end; id <= loss; id++)
        for (int k = 0; k < g->nodes[id].ninputs; k++)
            if (g->nodes[id].inputs[k] < end)
                boundary[g->nodes[id].inputs[k]] = true;
    if (probe >= 0 && probe < end)
        boundary[probe] = true;
    bool layers = false;
    for (int id = end - 1; id >= 0; id--) {
        const node *n = &g->nodes[id];
        if (boundary[id] && is_alias(pl, n))
            boundary[n->inputs[0]] = true;
        layers |= !is_alias(pl, n) && n->kind != OP_INPUT;
    }
    return layers;
}

/* Points the prefix's inputs and boundary values at the chunk's samples
 * of their full-batch slots and forgets every other prefix value and
 * saved tensor, so the chunk's forward makes its own. */
static void bind_chunk(plan *pl, int end, const int *full, int first, int count)
{
    for (int id = 0; id < end; id++) {
        for (int t = 0; t < SAVED_PER_NODE; t++)
            pl->saved_slot[id * SAVED_PER_NODE + t] = -1;
        if (full[id] < 0) {
            pl->value_slot[id] = -1;
            continue;
        }
        size_t sample = pl->graph->nodes[id].numel * 4;
        pl->value_slot[id] = plan_add_view_slot(pl, full[id], sample * (size_t)first, sample * (size_t)count);
    }
}

int plan_emit_chunked_prefix(plan *pl, int loss, int probe, int chunk)
{
    const vkt_graph *g = pl->graph;
    int batch = pl->batch;
    if (!pl->training || chunk < 1 || chunk >= batch || pl->error != VKT_OK)
        return 0;
    int end = find_prefix_end(pl, loss);
    if (end == 0)
        return 0;
    bool *boundary = calloc((size_t)end, sizeof *boundary);
    int *full = malloc((size_t)end * sizeof *full);
    bool *local = calloc((size_t)g->node_count + 1, sizeof *local);
    if (!boundary || !full || !local) {
        ec_fail(pl, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
        end = 0;
    } else if (!mark_boundary(pl, end, loss, probe, boundary)) {
        end = 0;
    }
    if (end == 0) {
        free(boundary);
        free(full);
        free(local);
        return 0;
    }
    pl->chunk_local = local; /* also says that the prefix runs in chunks */
    /* Full-batch slots first, while the plan's batch is the whole one. */
    for (int id = 0; id < end; id++) {
        const node *n = &g->nodes[id];
        bool whole = n->kind == OP_INPUT || (boundary[id] && !is_alias(pl, n));
        full[id] = whole ? ec_value(pl, id) : -1;
        if (pl->recompute)
            pl->recompute[id] = false; /* its inputs exist only inside a chunk */
    }
    for (int first = 0; first < batch && pl->error == VKT_OK; first += chunk) {
        int count = batch - first < chunk ? batch - first : chunk;
        pl->batch = count;
        pl->first_sample = first;
        bind_chunk(pl, end, full, first, count);
        for (int id = 0; id < end && pl->error == VKT_OK; id++) {
            pl->label_node = id;
            op_get(g->nodes[id].kind)->forward(pl, &g->nodes[id], id);
        }
    }
    pl->batch = batch;
    pl->first_sample = 0;
    for (int id = 0; id < end; id++) {
        pl->value_slot[id] = full[id];
        for (int t = 0; t < SAVED_PER_NODE; t++)
            pl->saved_slot[id * SAVED_PER_NODE + t] = -1;
        pl->chunk_local[id] = full[id] < 0 && !is_alias(pl, &g->nodes[id]);
    }
    free(boundary);
    free(full);
    return end;
}
