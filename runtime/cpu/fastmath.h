/* Branch-free float helpers shared by the CPU kernels: bit casts, a
 * mask select GCC can vectorise, and a vectorisable e^x. The Vulkan
 * shaders copy exp_approx operation for operation, so results agree. */
#ifndef VKT_CPU_FASTMATH_H
#define VKT_CPU_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* cond ? a : b without a branch. GCC keeps the float arithmetic feeding
 * an ordinary ?: inside the branch (it may trap), which stops
 * vectorisation; a bit mask select does not. `cond` must be computed
 * with & and |, not && and ||, for the same reason. */
static inline float select_f(int cond, float a, float b)
{
    uint32_t m = -(uint32_t)cond;
    return bits_to_float((float_to_bits(a) & m) | (float_to_bits(b) & ~m));
}

/* e^x: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7 polynomial,
 * 2^n built in the exponent bits. 2^n must stay a normal float, so e^x
 * is 0 below x = -87.3 (where it would be denormal) and saturates at
 * 2.1e38 above x = 88.3. NaN stays NaN. */
static inline float exp_approx(float x)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    int underflows = x < -87.3f;
    x = select_f(underflows, -87.3f, x);
    x = select_f(x > 88.3f, 88.3f, x);
    float t = x * 1.44269504f + shifter;
    float n = t - shifter;
    /* n + 127 in the exponent field; the low bits of t hold n. */
    uint32_t scale = (float_to_bits(t) - float_to_bits(shifter) + 127u) << 23;
    float r = x - n * 0.693359375f; /* ln2 split in two for an exact product */
    r = r - n * -2.12194440e-4f;
    float q = 1.98909809e-4f;
    q = q * r + 1.39336410e-3f;
    q = q * r + 8.33331093e-3f;
    q = q * r + 4.16664650e-2f;
    q = q * r + 1.66666667e-1f;
    q = q * r + 5.00000001e-1f;
    float er = 1.0f + r + r * r * q;
    return select_f(underflows, 0.0f, er * bits_to_float(scale));
}

/* Sum of a contiguous run in double: 8 lanes, then the tail, then the
 * lanes in order. The same bits for the same input on any machine, and
 * vectorisable. */
static inline double cpu_sum_f64(const float *restrict x, int64_t n)
{
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            lane[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 8; k++)
        s += lane[k];
    return s;
}

#endif
