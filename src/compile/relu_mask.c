/* One-bit derivative masks for ReLU and ReLU6.
 *
 * Their backward needs only whether each output has derivative 1, yet
 * reading y keeps the whole float output alive from forward into
 * backward. When that backward is y's only reader after forward (no
 * other op's backward reads y, say a linear layer's weight gradient),
 * forward also writes a mask of one bit per element (RT_K_ACT_FWD
 * write_mask) and backward reads it instead (from_mask): y then dies
 * after its forward consumers and 1/32 of its bytes cross the step. The
 * mask encodes the very test backward applied to y, so every value
 * stays bit for bit the same. The choice needs the whole launch list
 * (who reads y in backward), hence a pass over the plan. */
#include <stdlib.h>

#include "plan.h"
#include "runtime/rt_error.h"

static bool whole(const plan_arg *a)
{
    return a->slot >= 0 && a->offset == 0 && a->bytes == 0;
}

static bool is_piecewise(int act)
{
    return act == RT_ACT_RELU || act == RT_ACT_RELU6;
}

/* The forward launch before `before` that writes slot y with ACT_FWD,
 * or -1 (a recomputation in backward does not count). */
static int forward_of(const plan *pl, int before, int y)
{
    for (int i = before - 1; i >= 0; i--) {
        const plan_launch *l = &pl->launches[i];
        if (l->phase == PLAN_FORWARD && l->kernel == RT_K_ACT_FWD && l->nargs >= 2 && l->args[1].slot == y)
            return whole(&l->args[0]) && whole(&l->args[1]) && is_piecewise(l->params.i[1]) && !l->params.i[2]
                       ? i
                       : -1;
    }
    return -1;
}

vkt_status plan_relu_masks(plan *pl)
{
    /* How many backward (and optimizer) launches read each slot. Phases,
     * not positions: micro-batches interleave forward and backward. */
    int *readers = calloc((size_t)pl->slot_count + 1, sizeof *readers);
    if (!readers)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    for (int i = 0; i < pl->launch_count; i++)
        for (int a = 0; pl->launches[i].phase != PLAN_FORWARD && a < pl->launches[i].nargs; a++) {
            int s = pl->launches[i].args[a].slot;
            bool again = false; /* count a launch once per slot */
            for (int b = 0; b < a; b++)
                again |= pl->launches[i].args[b].slot == s;
            if (s >= 0 && !again)
                readers[s]++;
        }
    int nslots = pl->slot_count; /* masks added below need no count */
    for (int i = 0; i < pl->launch_count && pl->error == VKT_OK; i++) {
        plan_launch *b = &pl->launches[i];
        if (b->phase == PLAN_FORWARD || b->kernel != RT_K_ACT_BWD || !is_piecewise(b->params.i[1]) ||
            b->params.i[3] || b->nargs < 4 || !whole(&b->args[1]) || b->args[0].slot >= 0)
            continue;
        int y = b->args[1].slot;
        int f = y < nslots && readers[y] == 1 && pl->slots[y].kind == SLOT_ARENA ? forward_of(pl, i, y) : -1;
        if (f < 0)
            continue;
        int32_t count = b->params.i[0];
        int mask = plan_add_arena_slot(pl, ((size_t)count + 31) / 32 * 4);
        if (mask < 0)
            break;
        plan_launch *fw = &pl->launches[f];
        fw->params.i[2] = 1;
        fw->args[2] = (plan_arg){mask, 0, 0};
        fw->nargs = fw->nargs > 3 ? fw->nargs : 3;
        b->params.i[3] = 1;
        b->args[1] = (plan_arg){-1, 0, 0};
        b->args[4] = (plan_arg){mask, 0, 0};
        b->nargs = b->nargs > 5 ? b->nargs : 5;
    }
    free(readers);
    if (pl->error == VKT_OK)
        plan_recompute_lifetimes(pl);
    return pl->error;
}
