/* Clip then noise, in that order: the clip bounds any one client's
 * contribution (the sensitivity), which is what calibrates the noise. */
#include "dp.h"

#include <math.h>

double upd_l2_norm(const float *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i] * (double)v[i];
    return sqrt(sum);
}

void upd_dp_apply(float *v, size_t n, float clip, float noise, upd_rng *rng, double *norm_out, bool *clipped)
{
    double norm = upd_l2_norm(v, n);
    *norm_out = norm;
    *clipped = norm > (double)clip;
    if (*clipped) {
        double factor = (double)clip / norm;
        for (size_t i = 0; i < n; i++)
            v[i] = (float)((double)v[i] * factor);
    }
    double sigma = (double)noise * (double)clip;
    if (sigma > 0.0)
        for (size_t i = 0; i < n; i++)
            v[i] = (float)((double)v[i] + sigma * upd_rng_gaussian(rng));
}
