/* The lossy stages of the update codec, on plain float arrays: top-k
 * selection and block-wise int8 quantisation. The byte layout is in
 * payload.h; the DP step in dp.h. */
#ifndef VKT_UPD_CODEC_H
#define VKT_UPD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define UPD_INT8_MAX 127
#define UPD_MAX_BLOCK 65536

/* k for a tensor of n elements: ceil(fraction * n), at least 1, at most n. */
uint32_t upd_topk_count(float fraction, uint32_t n);

/* The indices of the k largest |v[i]| (v finite), written to idx in
 * ascending order; among equal magnitudes the lower index wins. O(n). */
void upd_topk_select(const float *v, uint32_t n, uint32_t k, uint32_t *idx);

/* Number of int8 blocks (and scales) for k values. */
static inline uint32_t upd_block_count(uint32_t k, uint32_t block)
{
    return k / block + (k % block != 0);
}

/* What a quantised value decodes to; the encoder uses the same
 * expression for its residual so both sides agree bit for bit. */
static inline float upd_dequant(int8_t q, float scale)
{
    return (float)q * scale;
}

/* Quantise x[0..k) in blocks of `block`: scales[b] = max |x| / 127 over
 * block b, q[i] = x[i] / scale rounded down or up at random with the
 * probability that makes the expected value exact (stochastic
 * rounding), clamped to [-127, 127]. recon[i] = upd_dequant(q[i], s). */
void upd_quantize_int8(const float *x, uint32_t k, uint32_t block, upd_rng *rng, float *scales, int8_t *q,
                       float *recon);

#endif
