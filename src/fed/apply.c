/* Applying a step: global += server_lr * sum / weight per tensor, into
 * new arrays first, so a step that would overflow the model or run out
 * of memory changes nothing; then the version advances and its hash
 * joins the window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"

void fed_reset_pending(vkt_fed_aggregator *agg)
{
    fed_sum_clear(&agg->sum);
    agg->pending = 0;
    agg->client_norm_sum = 0.0;
    agg->staleness_sum = 0.0;
    memset(&agg->stats, 0, sizeof agg->stats);
    agg->stats.version = agg->version;
}

static void free_arrays(float **next, int count)
{
    for (int i = 0; next && i < count; i++)
        free(next[i]);
    free(next);
}

/* The new values of every tensor some update carried; *norm2 gets the
 * squared norm of the change. */
static vkt_status compute_step(const vkt_fed_aggregator *agg, float **next, double *norm2)
{
    double lr = agg->opt.server_lr;
    *norm2 = 0.0;
    for (int i = 0; i < agg->count; i++) {
        double weight = agg->sum.weights[i];
        if (weight == 0.0)
            continue;
        const fed_tensor *t = &agg->tensors[i];
        const double *sum = agg->sum.sums[i];
        next[i] = malloc(t->numel * sizeof *next[i]);
        if (!next[i])
            return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory applying the step");
        for (size_t j = 0; j < t->numel; j++) {
            float v = (float)((double)t->values[j] + lr * sum[j] / weight);
            if (!isfinite(v))
                return rt_error(VKT_ERR_STATE, "aggregator: the step would make '%s' non-finite; not applied", t->name);
            double change = (double)v - (double)t->values[j];
            *norm2 += change * change;
            next[i][j] = v;
        }
    }
    return VKT_OK;
}

vkt_status fed_apply(vkt_fed_aggregator *agg)
{
    if (agg->pending < 1)
        return rt_error(VKT_ERR_STATE, "aggregator: no accepted update to apply");
    if (agg->version == UINT64_MAX)
        return rt_error(VKT_ERR_STATE, "aggregator: the model version cannot advance past %llu",
                        (unsigned long long)agg->version);
    float **next = calloc((size_t)agg->count, sizeof *next);
    if (!next)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory applying the step");
    double norm2 = 0.0;
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    vkt_status st = compute_step(agg, next, &norm2);
    if (st == VKT_OK)
        st = fed_model_hash(agg, next, hash);
    if (st != VKT_OK) {
        free_arrays(next, agg->count);
        return st;
    }

    for (int i = 0; i < agg->count; i++) {
        if (!next[i])
            continue;
        float *old = agg->tensors[i].values;
        agg->tensors[i].values = next[i];
        next[i] = old;
    }
    free_arrays(next, agg->count);
    agg->version++;
    fed_window_push(agg, hash);

    agg->last = agg->stats;
    agg->last.version = agg->version;
    agg->last.update_norm = sqrt(norm2);
    agg->last.mean_client_norm = agg->client_norm_sum / agg->pending;
    agg->last.mean_staleness = agg->staleness_sum / agg->pending;
    fed_reset_pending(agg);
    return VKT_OK;
}

vkt_status vkt_fed_round_finish(vkt_fed_aggregator *agg, vkt_fed_round_stats *stats)
{
    if (!agg)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_round_finish: no aggregator");
    if (agg->pending < agg->opt.min_clients)
        return rt_error(VKT_ERR_STATE, "round of version %llu: %d update%s accepted, %d needed",
                        (unsigned long long)agg->version, agg->pending, agg->pending == 1 ? "" : "s",
                        agg->opt.min_clients);
    vkt_status st = fed_apply(agg);
    if (st == VKT_OK && stats)
        *stats = agg->last;
    return st;
}

void vkt_fed_round_discard(vkt_fed_aggregator *agg)
{
    if (agg)
        fed_reset_pending(agg);
}

void vkt_fed_pending_stats(const vkt_fed_aggregator *agg, vkt_fed_round_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!agg)
        return;
    *out = agg->stats;
    if (agg->pending > 0) {
        out->mean_client_norm = agg->client_norm_sum / agg->pending;
        out->mean_staleness = agg->staleness_sum / agg->pending;
    }
}

void vkt_fed_last_stats(const vkt_fed_aggregator *agg, vkt_fed_round_stats *out)
{
    if (out)
        *out = agg ? agg->last : (vkt_fed_round_stats){0};
}
