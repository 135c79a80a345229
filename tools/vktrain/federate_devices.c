/* Heterogeneous devices: every client gets a speed (simulated seconds
 * per local step: log-normal around --step-time, and --stragglers of
 * them --straggler-slowdown times slower) and a memory tier (a fraction
 * of what a full training step plans; below 1 the client trains with
 * that memory budget and the "auto" policy, i.e. the largest trainable
 * set that fits). Tiers are dealt out evenly in a shuffled order. */
#include "federate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TIERS 16

static int parse_tiers(const char *text, double tiers[MAX_TIERS])
{
    int n = 0;
    const char *p = text;
    while (*p && n < MAX_TIERS) {
        char *end;
        errno = 0;
        double v = (*p >= '0' && *p <= '9') || *p == '.' ? strtod(p, &end) : -1.0;
        if (errno != 0 || v <= 0.0 || v > 1.0 || (*end != ',' && *end != '\0'))
            return -1;
        tiers[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && !*p)
            return -1;
    }
    return *p ? -1 : n;
}

bool fsim_tiers_check(const char *text)
{
    double tiers[MAX_TIERS];
    if (parse_tiers(text, tiers) >= 1)
        return true;
    cli_error("invalid value '%s' for --memory-tiers (expected up to %d fractions in (0, 1], e.g. 1,1,0.5)", text,
              MAX_TIERS);
    return false;
}

bool fsim_assign_devices(const fsim_options *o, fsim_client *clients, int count, size_t full_plan_bytes)
{
    double tiers[MAX_TIERS];
    int tier_count = parse_tiers(o->memory_tiers, tiers);
    if (tier_count < 1)
        return fsim_tiers_check(o->memory_tiers);
    size_t *order = malloc((size_t)count * sizeof *order);
    if (!order) {
        cli_error("out of memory");
        return false;
    }
    fsim_rng rng;
    fsim_rng_seed(&rng, o->seed, 2);
    for (int i = 0; i < count; i++)
        order[i] = (size_t)i;
    fsim_rng_shuffle(&rng, order, (size_t)count);
    int slow = (int)lround(o->stragglers * count);
    for (int k = 0; k < count; k++)
        clients[order[k]].straggler = k < slow;
    fsim_rng_shuffle(&rng, order, (size_t)count);
    for (int k = 0; k < count; k++) {
        fsim_client *c = &clients[order[k]];
        c->memory_fraction = tiers[k % tier_count];
        c->memory_budget = c->memory_fraction >= 1.0 ? 0 : (size_t)(c->memory_fraction * (double)full_plan_bytes);
    }
    for (int i = 0; i < count; i++) {
        fsim_client *c = &clients[i];
        double factor = exp(o->speed_sigma * fsim_rng_normal(&rng));
        c->seconds_per_step = o->step_time * factor * (c->straggler ? o->straggler_slowdown : 1.0);
    }
    free(order);
    return true;
}
