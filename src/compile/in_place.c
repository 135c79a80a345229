/* In-place elementwise ops.
 *
 * An activation's or add's output can take its input's memory when the
 * input dies there: the input is an arena slot (not a parameter, graph
 * input or other persistent buffer), that launch is its last use, and
 * the output is first used there. The kernels read each element before
 * writing it (kernels.h allows the output to be the very view of an
 * input), so the shared bytes hold the input up to that launch and the
 * output from it on, and no slot is overwritten while still needed.
 * The output records `shares`; plan_memory places each chain of such
 * slots as one block living from the first's first use to the last's
 * last use. A value that conv or linear backward reads again (their
 * input) keeps its own memory, since its last use comes later. */
#include "plan.h"

static bool whole(const plan *pl, const plan_arg *a)
{
    return a->slot >= 0 && a->offset == 0 && (a->bytes == 0 || a->bytes == pl->slots[a->slot].bytes);
}

static int root(const plan *pl, int s)
{
    while (pl->slots[s].shares >= 0)
        s = pl->slots[s].shares;
    return s;
}

/* The last launch using any slot of s's chain. */
static int chain_end(const plan *pl, int s)
{
    int r = root(pl, s), end = -1;
    for (int i = 0; i < pl->slot_count; i++)
        if (root(pl, i) == r && pl->slots[i].last_use > end)
            end = pl->slots[i].last_use;
    return end;
}

/* Whether slot `in` may give its memory to `out` at launch i. */
static bool can_share(const plan *pl, const plan_launch *l, int i, int in_arg, int out_arg)
{
    const plan_arg *in = &l->args[in_arg], *out = &l->args[out_arg];
    if (!whole(pl, in) || !whole(pl, out) || in->slot == out->slot)
        return false;
    const slot *si = &pl->slots[in->slot], *so = &pl->slots[out->slot];
    if (si->kind != SLOT_ARENA || so->kind != SLOT_ARENA || so->shares >= 0 || si->bytes != so->bytes)
        return false;
    for (int a = 0; a < l->nargs; a++) /* the input in one slot only (add x + x keeps its memory) */
        if (a != in_arg && l->args[a].slot == in->slot)
            return false;
    return so->first_use == i && si->last_use == i && chain_end(pl, in->slot) == i;
}

void plan_in_place(plan *pl)
{
    for (int i = 0; i < pl->launch_count; i++) {
        const plan_launch *l = &pl->launches[i];
        int out_arg, inputs;
        if (l->kernel == RT_K_ACT_FWD && l->nargs >= 2)
            out_arg = 1, inputs = 1;
        else if (l->kernel == RT_K_ADD && l->nargs >= 3)
            out_arg = 2, inputs = 2;
        else
            continue;
        for (int a = 0; a < inputs; a++)
            if (can_share(pl, l, i, a, out_arg)) {
                pl->slots[l->args[out_arg].slot].shares = l->args[a].slot;
                break;
            }
    }
}
