/* Profiled training steps: run the step's program with per-launch
 * timing and group the launch times by the node and phase the compiler
 * labelled each launch with. */
#include <vktrain/profile.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ops/ops.h"
#include "runtime/rt_error.h"
#include "trainer_internal.h"

typedef struct node_time {
    uint64_t ns[3]; /* by plan_phase */
    int launches;
} node_time;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The op kind as a reader expects it: activations by their function. */
static const char *op_label(const node *n)
{
    static const char *const acts[] = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh"};
    if (n->kind == OP_ACTIVATION && n->iattr[0] >= 0 && n->iattr[0] < (int)(sizeof acts / sizeof acts[0]))
        return acts[n->iattr[0]];
    return op_get(n->kind)->name;
}

static void summarise(const vkt_graph *g, const plan *pl, const uint64_t *ns, node_time *per_node,
                      vkt_step_profile *s)
{
    for (int i = 0; i < pl->launch_count; i++) {
        const plan_launch *l = &pl->launches[i];
        uint64_t t = ns[i];
        s->total_ns += t;
        if (l->phase == PLAN_FORWARD)
            s->forward_ns += t;
        else if (l->phase == PLAN_BACKWARD)
            s->backward_ns += t;
        else
            s->optimizer_ns += t;
        if (l->node >= 0 && l->node < g->node_count) {
            per_node[l->node].ns[l->phase] += t;
            per_node[l->node].launches++;
        } else {
            s->other_ns += t;
            s->other_launches++;
        }
    }
    s->launches = pl->launch_count;
}

vkt_status vkt_trainer_profile_step(vkt_trainer *tr, const void *const *inputs, int count, vkt_step_profile *summary,
                                    vkt_op_time *ops, int max_ops, int *op_count)
{
    if (!tr || !summary)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainer_profile_step: trainer and summary are required");
    if (max_ops < 0 || (max_ops > 0 && !ops))
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainer_profile_step: ops is NULL with max_ops %d", max_ops);
    plan *pl = NULL;
    vkt_status st = trainer_begin_run(tr, count, true, &pl);
    if (st != VKT_OK)
        return st;
    const vkt_graph *g = tr->graph;
    uint64_t *ns = calloc((size_t)pl->launch_count + 1, sizeof *ns);
    node_time *per_node = calloc((size_t)g->node_count + 1, sizeof *per_node);
    if (!ns || !per_node) {
        free(ns);
        free(per_node);
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory profiling a step");
    }
    uint64_t start = now_ns();
    st = trainer_run_step(tr, inputs, count, ns);
    uint64_t wall = now_ns() - start;
    if (st == VKT_OK) {
        memset(summary, 0, sizeof *summary);
        summary->wall_ns = wall;
        summarise(g, pl, ns, per_node, summary);
        int n = 0;
        for (int id = 0; id < g->node_count; id++) {
            if (per_node[id].launches == 0)
                continue;
            if (n < max_ops) {
                const node *nd = &g->nodes[id];
                ops[n] = (vkt_op_time){id, op_label(nd), nd->name ? nd->name : "", per_node[id].ns[PLAN_FORWARD],
                                       per_node[id].ns[PLAN_BACKWARD], per_node[id].ns[PLAN_OPTIMIZER],
                                       per_node[id].launches};
            }
            n++;
        }
        if (op_count)
            *op_count = n;
    }
    free(ns);
    free(per_node);
    return st;
}
