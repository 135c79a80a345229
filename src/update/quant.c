/* Block-wise int8 quantisation with stochastic rounding. One float scale
 * per block keeps a few large values from flattening the rest of the
 * tensor; random rounding makes every decoded value an unbiased estimate
 * of the input, so averaging over clients (and error feedback) removes
 * the rounding error instead of accumulating it. */
#include <math.h>

#include "codec.h"

static int8_t round_stochastic(float x, float scale, upd_rng *rng)
{
    double t = (double)x / (double)scale;
    double low = floor(t);
    double u = (double)upd_rng_u32(rng) * 0x1.0p-32; /* [0, 1) */
    double q = low + (u < t - low ? 1.0 : 0.0);
    if (q > UPD_INT8_MAX)
        q = UPD_INT8_MAX;
    if (q < -UPD_INT8_MAX)
        q = -UPD_INT8_MAX;
    return (int8_t)q;
}

void upd_quantize_int8(const float *x, uint32_t k, uint32_t block, upd_rng *rng, float *scales, int8_t *q,
                       float *recon)
{
    uint32_t blocks = upd_block_count(k, block);
    for (uint32_t b = 0; b < blocks; b++) {
        uint32_t lo = b * block, hi = lo + block < k ? lo + block : k;
        float max_abs = 0.0f;
        for (uint32_t i = lo; i < hi; i++)
            max_abs = fmaxf(max_abs, fabsf(x[i]));
        float scale = max_abs / (float)UPD_INT8_MAX;
        scales[b] = scale;
        for (uint32_t i = lo; i < hi; i++) {
            q[i] = scale > 0.0f ? round_stochastic(x[i], scale, rng) : 0;
            recon[i] = upd_dequant(q[i], scale);
        }
    }
}
