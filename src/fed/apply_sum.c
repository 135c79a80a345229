/* A round whose weighted sum was formed elsewhere (secure aggregation):
 * checked against the model like any update, then fed to the pending sum
 * and applied as one FedAvg step. */
#include <math.h>
#include <stdlib.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"

static vkt_status check_sums(const vkt_fed_aggregator *agg, const vkt_update_tensor *sums, const double *weights,
                             int count, int *index)
{
    for (int k = 0; k < count; k++) {
        const vkt_update_tensor *t = &sums[k];
        int i = t->name ? fed_find_tensor(agg, t->name) : -1;
        if (i < 0)
            return rt_error(VKT_ERR_SHAPE, "summed update: the model has no tensor '%s'", t->name ? t->name : "(null)");
        for (int prev = 0; prev < k; prev++)
            if (index[prev] == i)
                return rt_error(VKT_ERR_SHAPE, "summed update: tensor '%s' given twice", t->name);
        const fed_tensor *m = &agg->tensors[i];
        bool same = t->rank == m->rank;
        for (int d = 0; same && d < m->rank; d++)
            same = t->dims[d] == m->dims[d];
        if (!same)
            return rt_error(VKT_ERR_SHAPE, "summed update: tensor '%s' has another shape than the model's", t->name);
        if (!(weights[k] >= 0.0) || !isfinite(weights[k]))
            return rt_error(VKT_ERR_INVALID_ARG, "summed update: tensor '%s' has weight %g", t->name, weights[k]);
        if (weights[k] > 0.0 && !t->values)
            return rt_error(VKT_ERR_INVALID_ARG, "summed update: tensor '%s' has no values", t->name);
        for (size_t j = 0; weights[k] > 0.0 && j < m->numel; j++)
            if (!isfinite(t->values[j]))
                return rt_error(VKT_ERR_INVALID_ARG, "summed update: tensor '%s' is not finite", t->name);
        index[k] = i;
    }
    return VKT_OK;
}

vkt_status vkt_fed_apply_sum(vkt_fed_aggregator *agg, const vkt_update_tensor *sums, const double *weights,
                             int count, int contributors, vkt_fed_round_stats *stats)
{
    if (!agg || !sums || !weights || count < 1)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_apply_sum: NULL argument or no tensors");
    if (agg->opt.mode != VKT_FED_FEDAVG)
        return rt_error(VKT_ERR_STATE, "vkt_fed_apply_sum: a summed round needs FedAvg (FedBuff sums a buffer)");
    if (agg->pending > 0)
        return rt_error(VKT_ERR_STATE, "vkt_fed_apply_sum: %d updates are pending in this round; finish or discard "
                        "them first", agg->pending);
    if (contributors < agg->opt.min_clients)
        return rt_error(VKT_ERR_STATE, "round of version %llu: %d clients in the sum, %d needed",
                        (unsigned long long)agg->version, contributors, agg->opt.min_clients);
    int *index = malloc((size_t)count * sizeof *index);
    if (!index)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    vkt_status st = check_sums(agg, sums, weights, count, index);
    double examples = 0.0;
    for (int k = 0; st == VKT_OK && k < count; k++)
        if (weights[k] > 0.0) {
            fed_sum_add(&agg->sum, index[k], sums[k].values, agg->tensors[index[k]].numel, 1.0, weights[k]);
            examples = fmax(examples, weights[k]);
        }
    free(index);
    if (st == VKT_OK && examples == 0.0)
        st = rt_error(VKT_ERR_STATE, "summed update: every weight is 0 (no examples)");
    if (st == VKT_OK) {
        agg->pending = contributors;
        agg->stats.accepted = contributors;
        agg->stats.examples = (uint64_t)examples; /* the clients that carried the most tensors */
        st = fed_apply(agg);
    }
    if (st != VKT_OK) { /* back to an empty round, its refusal counts kept */
        fed_sum_clear(&agg->sum);
        agg->pending = 0;
        agg->stats.accepted = 0;
        agg->stats.examples = 0;
        return st;
    }
    if (stats)
        *stats = agg->last;
    return VKT_OK;
}
