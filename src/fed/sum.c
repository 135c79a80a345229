/* The pending step of an aggregator: weighted sums of client updates in
 * double, one array per tensor, allocated up front so that adding an
 * accepted update cannot fail half-way.
 *
 * Only this sum survives a submission, never the update itself: a
 * secure-aggregation layer, whose server may learn only the sum of the
 * clients' masked vectors, would feed it here. */
#include <stdlib.h>
#include <string.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"

vkt_status fed_sum_init(fed_sum *s, int count, const size_t *numel)
{
    memset(s, 0, sizeof *s);
    s->sums = calloc((size_t)(count > 0 ? count : 1), sizeof *s->sums);
    s->weights = calloc((size_t)(count > 0 ? count : 1), sizeof *s->weights);
    if (!s->sums || !s->weights) {
        fed_sum_free(s);
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    }
    s->count = count;
    for (int i = 0; i < count; i++) {
        s->sums[i] = calloc(numel[i] ? numel[i] : 1, sizeof(double));
        if (!s->sums[i]) {
            fed_sum_free(s);
            return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory for the sum of a tensor of %zu elements",
                            numel[i]);
        }
    }
    return VKT_OK;
}

void fed_sum_free(fed_sum *s)
{
    for (int i = 0; s->sums && i < s->count; i++)
        free(s->sums[i]);
    free(s->sums);
    free(s->weights);
    memset(s, 0, sizeof *s);
}

/* Arrays stay allocated for the next round. A zero weight marks a sum
 * as stale: fed_sum_add zeroes it before adding to it again. */
void fed_sum_clear(fed_sum *s)
{
    for (int i = 0; i < s->count; i++)
        s->weights[i] = 0.0;
}

void fed_sum_add(fed_sum *s, int index, const float *values, size_t numel, double coefficient, double weight)
{
    double *sum = s->sums[index];
    if (s->weights[index] == 0.0)
        memset(sum, 0, numel * sizeof *sum); /* left from an earlier round */
    for (size_t j = 0; j < numel; j++)
        sum[j] += coefficient * (double)values[j];
    s->weights[index] += weight;
}
