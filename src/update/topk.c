/* Top-k by magnitude with a radix select: a non-negative float orders
 * like its bit pattern, so the k-th largest |v| is found one byte at a
 * time (4 histogram passes, no sorting, no recursion, no scratch
 * memory); a last pass collects the indices in ascending order. */
#include <math.h>
#include <string.h>

#include "bytes.h"
#include "codec.h"

uint32_t upd_topk_count(float fraction, uint32_t n)
{
    double k = ceil((double)fraction * (double)n);
    if (k < 1.0)
        return 1;
    if (k > (double)n)
        return n;
    return (uint32_t)k;
}

static uint32_t magnitude_key(float x)
{
    return upd_f32_bits(x) & 0x7fffffffu;
}

void upd_topk_select(const float *v, uint32_t n, uint32_t k, uint32_t *idx)
{
    if (k == 0)
        return;
    /* Find the threshold key byte by byte, from the most significant:
     * `prefix` holds the bytes fixed so far, `need` how many elements
     * with that prefix still belong to the top k. */
    uint32_t prefix = 0, need = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        uint32_t hist[256];
        memset(hist, 0, sizeof hist);
        uint32_t high_mask = shift == 24 ? 0 : ~0u << (shift + 8);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t key = magnitude_key(v[i]);
            if ((key & high_mask) == prefix)
                hist[(key >> shift) & 0xff]++;
        }
        int bin = 255;
        while (hist[bin] < need) {
            need -= hist[bin];
            bin--;
        }
        prefix |= (uint32_t)bin << shift;
    }
    /* Everything above the threshold, then the first `need` equal to it. */
    uint32_t out = 0;
    for (uint32_t i = 0; i < n && out < k; i++) {
        uint32_t key = magnitude_key(v[i]);
        if (key > prefix || (key == prefix && need > 0)) {
            if (key == prefix)
                need--;
            idx[out++] = i;
        }
    }
}
