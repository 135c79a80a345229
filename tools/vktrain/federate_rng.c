/* The simulation's randomness: splitmix64 streams, so every draw (data
 * split, device profiles, client sampling) follows from --seed alone and
 * one stream's use never shifts another's. */
#include "federate.h"

#include <math.h>

void fsim_rng_seed(fsim_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = seed ^ (stream * 0xd1342543de82ef95u);
    fsim_rng_next(r);
}

uint64_t fsim_rng_next(fsim_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double fsim_rng_uniform(fsim_rng *r)
{
    return (double)(fsim_rng_next(r) >> 11) * 0x1.0p-53;
}

double fsim_rng_normal(fsim_rng *r)
{
    double u = 1.0 - fsim_rng_uniform(r); /* (0, 1]: log is finite */
    double v = fsim_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Marsaglia and Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape). */
double fsim_rng_gamma(fsim_rng *r, double shape)
{
    if (shape < 1.0) {
        double u = 1.0 - fsim_rng_uniform(r);
        return fsim_rng_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = fsim_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = 1.0 - fsim_rng_uniform(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

void fsim_rng_shuffle(fsim_rng *r, size_t *items, size_t count)
{
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)(fsim_rng_next(r) % i);
        size_t t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}
