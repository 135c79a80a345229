/* VKT_TRAIN_AUTO: the largest trainable set whose training step fits the
 * memory budget. Candidates are full training, the last k layers for
 * every k, and biases only; each is compiled and measured (plans are
 * exact, so nothing is estimated), and the one training the most
 * parameters within the budget wins, later layers first on a tie. */
#include <stdio.h>

#include "../graph/graph_internal.h"
#include "runtime/rt_error.h"
#include "trainer_internal.h"

static int layer_count(const vkt_graph *g)
{
    int layers = 0;
    for (int id = 0; id < g->node_count; id++) {
        const node *n = &g->nodes[id];
        bool any = false;
        for (int j = 0; j < n->nparams; j++)
            any |= !g->params[n->params[j]].is_state && !g->params[n->params[j]].is_adapter;
        layers += any;
    }
    return layers;
}

vkt_status trainer_create_auto(vkt_context *ctx, vkt_graph *graph, vkt_tensor loss,
                               const vkt_trainer_options *options, vkt_trainer **out)
{
    if (options->memory_budget == 0)
        return rt_error(VKT_ERR_INVALID_ARG, "the auto policy needs a memory budget");
    int layers = layer_count(graph);
    vkt_trainer *best = NULL;
    size_t best_trained = 0, smallest = SIZE_MAX;
    vkt_status st = VKT_OK;
    /* full, last:(layers-1) .. last:1, bias: later layers win ties. */
    for (int c = 0; c <= layers && st == VKT_OK; c++) {
        vkt_trainable_set set = {.policy = VKT_TRAIN_ALL};
        if (c > 0 && c < layers)
            set = (vkt_trainable_set){.policy = VKT_TRAIN_LAST_K, .count = layers - c};
        else if (c == layers)
            set = (vkt_trainable_set){.policy = VKT_TRAIN_BIAS};
        vkt_trainer_options opt = *options;
        opt.trainable = &set;
        opt.memory_budget = 0; /* measured here, to know what each needs */
        vkt_trainer *tr = NULL;
        vkt_memory_report m;
        st = vkt_trainer_create(ctx, graph, loss, &opt, &tr);
        if (st == VKT_OK)
            st = vkt_trainer_memory(tr, &m);
        if (st != VKT_OK) {
            vkt_trainer_destroy(tr);
            break;
        }
        size_t trained = m.trained_params;
        if (m.total_bytes < smallest)
            smallest = m.total_bytes;
        if (m.total_bytes <= options->memory_budget && trained > best_trained) {
            vkt_trainer_destroy(best);
            best = tr;
            best_trained = trained;
        } else {
            vkt_trainer_destroy(tr);
        }
    }
    if (st != VKT_OK) {
        vkt_trainer_destroy(best);
        return st;
    }
    if (!best)
        return rt_error(VKT_ERR_NO_MEMORY,
                        "no trainable set fits the %zu-byte memory budget (the smallest candidate needs %zu bytes)",
                        options->memory_budget, smallest);
    *out = best;
    return VKT_OK;
}
