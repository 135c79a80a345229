/* fp16 storage of saved activations (a compile option).
 *
 * An activation that forward writes and backward reads again lives across
 * the whole step; it is what dominates training memory. This pass keeps
 * such values in half precision in between: right after its last forward
 * use the value is packed into a half-size slot, and right before its
 * first backward use it is unpacked into a fresh fp32 slot that backward
 * reads instead. Arithmetic stays fp32; only the stored copy is rounded.
 * The liveness planner then frees the fp32 original after forward and
 * the fp32 copy after its last backward use. */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "runtime/rt_error.h"

/* Smaller values are not worth two launches. */
#define MIN_HALF_BYTES 4096

typedef struct half_value {
    int slot;         /* the fp32 value slot */
    int last_forward; /* launch index of its last forward use */
    int first_backward;
    int half_slot, copy_slot;
} half_value;

static bool is_candidate(const plan *pl, int s)
{
    const slot *sl = &pl->slots[s];
    return sl->kind == SLOT_ARENA && sl->bytes >= MIN_HALF_BYTES;
}

/* Collect F32 node values used on both sides of forward_end. */
static int find_values(plan *pl, int forward_end, half_value *out)
{
    const vkt_graph *g = pl->graph;
    int count = 0;
    for (int id = 0; id < g->node_count; id++) {
        int s = pl->value_slot[id];
        if (s < 0 || g->nodes[id].dtype != VKT_F32 || !is_candidate(pl, s))
            continue;
        int last_fwd = -1, first_bwd = -1;
        for (int i = 0; i < pl->launch_count; i++)
            for (int a = 0; a < pl->launches[i].nargs; a++) {
                if (pl->launches[i].args[a].slot != s)
                    continue;
                if (i < forward_end)
                    last_fwd = i;
                else if (first_bwd < 0)
                    first_bwd = i;
            }
        if (last_fwd >= 0 && first_bwd >= 0)
            out[count++] = (half_value){s, last_fwd, first_bwd, -1, -1};
    }
    return count;
}

/* `next_to` is the launch it is placed beside, whose node and phase it
 * takes: the packing counts to the forward of the value's last reader,
 * the unpacking to the backward of its first. */
static plan_launch convert_launch(rt_kernel k, int src, int dst, size_t count, const plan_launch *next_to)
{
    plan_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.node = next_to->node;
    l.phase = next_to->phase;
    l.nargs = 2;
    l.args[0] = (plan_arg){src, 0, 0};
    l.args[1] = (plan_arg){dst, 0, 0};
    for (int a = 2; a < RT_MAX_ARGS; a++)
        l.args[a] = (plan_arg){-1, 0, 0};
    l.params.i[0] = (int32_t)count;
    return l;
}

vkt_status plan_store_half(plan *pl, int forward_end)
{
    half_value *vals = malloc(((size_t)pl->graph->node_count + 1) * sizeof *vals);
    if (!vals)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    int n = find_values(pl, forward_end, vals);
    plan_launch *out = malloc(((size_t)pl->launch_count + 2 * (size_t)n + 1) * sizeof *out);
    vkt_status st = out ? VKT_OK : rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    for (int v = 0; st == VKT_OK && v < n; v++) {
        size_t count = pl->slots[vals[v].slot].bytes / 4;
        vals[v].half_slot = plan_add_arena_slot(pl, (count + 1) / 2 * 4);
        vals[v].copy_slot = plan_add_arena_slot(pl, count * 4);
        if (vals[v].half_slot < 0 || vals[v].copy_slot < 0)
            st = rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    }
    int m = 0;
    for (int i = 0; st == VKT_OK && i < pl->launch_count; i++) {
        plan_launch l = pl->launches[i];
        for (int v = 0; v < n; v++) /* unpack right before the first backward use */
            if (vals[v].first_backward == i)
                out[m++] = convert_launch(RT_K_UNPACK_F16, vals[v].half_slot, vals[v].copy_slot,
                                          pl->slots[vals[v].slot].bytes / 4, &l);
        if (i >= forward_end) /* backward reads the unpacked copy */
            for (int a = 0; a < l.nargs; a++)
                for (int v = 0; v < n; v++)
                    if (l.args[a].slot == vals[v].slot)
                        l.args[a].slot = vals[v].copy_slot;
        out[m++] = l;
        for (int v = 0; v < n; v++) /* pack right after the last forward use */
            if (vals[v].last_forward == i)
                out[m++] = convert_launch(RT_K_PACK_F16, vals[v].slot, vals[v].half_slot,
                                          pl->slots[vals[v].slot].bytes / 4, &l);
    }
    if (st == VKT_OK) {
        free(pl->launches);
        pl->launches = out;
        pl->launch_count = pl->launch_cap = m;
        out = NULL;
        plan_recompute_lifetimes(pl); /* from the new launch list */
    }
    free(out);
    free(vals);
    return st;
}
