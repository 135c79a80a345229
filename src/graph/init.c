/* Parameter initialisation from the graph's seeded stream (splitmix64),
 * with PyTorch's default distributions chosen by each op. */
#include <math.h>

#include "graph_internal.h"

static uint64_t next_u64(vkt_graph *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_unit(vkt_graph *g) /* [0, 1) with 53 bits */
{
    return (double)(next_u64(g) >> 11) * (1.0 / 9007199254740992.0);
}

void init_uniform(vkt_graph *g, float *x, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * next_unit(g) - 1.0) * bound);
}

void init_normal(vkt_graph *g, float *x, size_t n, float stddev)
{
    for (size_t i = 0; i < n; i++) {
        double u1 = next_unit(g), u2 = next_unit(g);
        double r = sqrt(-2.0 * log(1.0 - u1));
        x[i] = (float)(stddev * r * cos(6.283185307179586 * u2));
    }
}

void init_fill(float *x, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}
