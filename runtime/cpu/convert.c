/* fp32 <-> fp16 (IEEE binary16) for activations kept in half precision
 * between forward and backward. Written out in integer arithmetic so the
 * rounding (to nearest, ties to even) is the same on every CPU. */
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"

#define GRAIN 65536

static uint16_t half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf, or NaN kept quiet with its top payload */
        return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | (abs >> 13 & 0x3ffu) : 0));
    if (abs >= 0x477ff000u) /* rounds to beyond 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) { /* half subnormal (or zero) */
        if (abs < 0x33000000u)
            return (uint16_t)sign; /* below half the smallest subnormal */
        uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(abs >> 23); /* 14..24 */
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        q += rem > halfway || (rem == halfway && (q & 1u));
        return (uint16_t)(sign | q);
    }
    uint32_t h = ((abs >> 13) - (112u << 10)); /* rebias exponent 127 -> 15 */
    uint32_t rem = abs & 0x1fffu;
    h += rem > 0x1000u || (rem == 0x1000u && (h & 1u));
    return (uint16_t)(sign | h);
}

static float float_from_half(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
    if (exp == 0x1f)
        x = sign | 0x7f800000u | (mant << 13);
    else if (exp)
        x = sign | ((exp + 112u) << 23) | (mant << 13);
    else if (!mant)
        x = sign;
    else { /* subnormal: normalise */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while (!(mant & 0x400u));
        x = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

typedef struct convert_job {
    const void *src;
    void *dst;
    int64_t count;
} convert_job;

/* Items are words (pairs of elements). */
static void pack_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const convert_job *j = ctx;
    const float *src = j->src;
    uint32_t *dst = j->dst;
    for (int64_t w = begin; w < end; w++) {
        uint32_t lo = half_from_float(src[2 * w]);
        uint32_t hi = 2 * w + 1 < j->count ? half_from_float(src[2 * w + 1]) : 0;
        dst[w] = lo | hi << 16;
    }
}

static void unpack_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const convert_job *j = ctx;
    const uint32_t *src = j->src;
    float *dst = j->dst;
    for (int64_t w = begin; w < end; w++) {
        dst[2 * w] = float_from_half((uint16_t)(src[w] & 0xffffu));
        if (2 * w + 1 < j->count)
            dst[2 * w + 1] = float_from_half((uint16_t)(src[w] >> 16));
    }
}

void cpu_pack_f16(const cpu_kernel_args *a)
{
    convert_job j = {a->args[0], a->args[1], a->p->i[0]};
    cpu_parallel_for(a->pool, (j.count + 1) / 2, GRAIN, pack_range, &j);
}

void cpu_unpack_f16(const cpu_kernel_args *a)
{
    convert_job j = {a->args[0], a->args[1], a->p->i[0]};
    cpu_parallel_for(a->pool, (j.count + 1) / 2, GRAIN, unpack_range, &j);
}
