/* Elementwise activations and their derivatives.
 *
 * libm's expf/erff/tanhf are calls GCC cannot vectorise, and an
 * activation is often as costly as the GEMM next to it. So this file
 * carries branch-free float approximations (exp, tanh, the normal CDF
 * behind exact GELU) that compile to SIMD code. Their polynomials are
 * minimax-style fits made for this file; each is accurate to a few ulp
 * over the whole float range, like libm.
 *
 * Forward may run in place (x == y) and, for ReLU and ReLU6, also write
 * the one-bit derivative mask that backward can read instead of y: a
 * thirty-second of y's memory kept across the step. */
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"
#include "simd.h"

/* Elements per parallel chunk: cheap kernels want large chunks. */
#define GRAIN_CHEAP 65536
#define GRAIN_TRANSCENDENTAL 16384
/* Backward computes a block of derivatives, then stores or adds it. */
#define BWD_BLOCK 512


static inline float sigmoid_approx(float x)
{
    return 1.0f / (1.0f + exp_approx(-x));
}

/* tanh: an odd polynomial near zero, where 1 - 2/(e^2x + 1) would lose
 * bits to cancellation; that formula elsewhere. */
static inline float tanh_approx(float x)
{
    float ax = bits_to_float(float_to_bits(x) & 0x7fffffffu);
    float z = x * x;
    float p = -6.09671417e-3f;
    p = p * z + 2.09971790e-2f;
    p = p * z + -5.38509096e-2f;
    p = p * z + 1.33327697e-1f;
    p = p * z + -3.33333289e-1f;
    float small = x + x * z * p;
    float big = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
    big = select_f(x < 0.0f, -big, big);
    return select_f(ax < 0.625f, small, big);
}

/* Standard normal CDF Phi(x) = (1 + erf(x/sqrt2)) / 2 and density
 * phi(x). With z = x/sqrt2: |z| < 1 uses erf(z) = z P(z^2); beyond,
 * erfc(|z|) = e^(-z^2) R(1/|z|) / |z|, which keeps full relative
 * precision in the lower tail (where 1 + erf(z) would cancel). */
static inline float normal_cdf(float x, float *pdf)
{
    float z = x * 0.707106781f;
    float az = bits_to_float(float_to_bits(z) & 0x7fffffffu);
    float e = exp_approx(-z * z);
    *pdf = e * 0.398942280f; /* e^(-x^2/2) / sqrt(2 pi) */

    float u = z * z;
    float p = 7.87587506e-5f;
    p = p * u + -8.01686429e-4f;
    p = p * u + 5.18908742e-3f;
    p = p * u + -2.68542120e-2f;
    p = p * u + 1.12835947e-1f;
    p = p * u + -3.76126267e-1f;
    p = p * u + 1.12837917e+0f;
    float central = 0.5f + 0.5f * z * p;

    float t = 1.0f / select_f(az > 1.0f, az, 1.0f);
    float tc = select_f(t < 0.2f, 0.2f, t); /* R is fitted on t in [0.2, 1] */
    float r = -5.08523428e-2f;
    r = r * tc + 3.40945241e-1f;
    r = r * tc + -1.01323751e+0f;
    r = r * tc + 1.73546649e+0f;
    r = r * tc + -1.83044966e+0f;
    r = r * tc + 1.10082704e+0f;
    r = r * tc + -1.58689729e-1f;
    r = r * tc + -2.58700363e-1f;
    r = r * tc + -1.98973316e-3f;
    r = r * tc + 5.64264144e-1f;
    float half_erfc = 0.5f * e * r * t;
    float tail = select_f(z < 0.0f, half_erfc, 1.0f - half_erfc);
    return select_f(az < 1.0f, central, tail);
}

/* ---- forward ---- */

typedef struct act_job {
    const float *x;
    float *y;
    uint32_t *mask;
    int64_t count;
    int act;
} act_job;

/* y = act(x) over n elements. Inlined into callers that pass either two
 * pointers that do not overlap or one pointer twice (in place): with the
 * same pointer the compiler sees each element read before it is written
 * and vectorises without an overlap check. */
static inline __attribute__((always_inline)) void act_apply(int act, const float *x, float *y, int64_t n)
{
    switch (act) {
    case RT_ACT_RELU: /* x < 0 (not x <= 0) lets NaN through, as torch */
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case RT_ACT_RELU6:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i] > 6.0f ? 6.0f : x[i];
        break;
    case RT_ACT_GELU:
        for (int64_t i = 0; i < n; i++) {
            float pdf;
            y[i] = x[i] * normal_cdf(x[i], &pdf);
        }
        break;
    case RT_ACT_SILU:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * sigmoid_approx(x[i]);
        break;
    case RT_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            y[i] = sigmoid_approx(x[i]);
        break;
    case RT_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            y[i] = tanh_approx(x[i]);
        break;
    }
}

CPU_CLONES static void act_fwd_elems(const act_job *j, int64_t begin, int64_t end)
{
    if (j->x == j->y) {
        float *restrict v = j->y + begin;
        act_apply(j->act, v, v, end - begin);
    } else {
        const float *restrict x = j->x + begin;
        float *restrict y = j->y + begin;
        act_apply(j->act, x, y, end - begin);
    }
}

static void act_fwd_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    act_fwd_elems(ctx, begin, end);
}

/* Mask word of n <= 32 outputs: bit j iff y[j] has derivative 1, by the
 * rule act_derivative applies (NaN compares false). */
static inline uint32_t mask_word(int act, const float *y, int n)
{
    uint32_t bits = 0;
    if (act == RT_ACT_RELU)
        for (int j = 0; j < n; j++)
            bits |= (uint32_t)(y[j] > 0.0f) << j;
    else
        for (int j = 0; j < n; j++)
            bits |= (uint32_t)((y[j] > 0.0f) & (y[j] < 6.0f)) << j;
    return bits;
}

#if CPU_HAVE_AVX512
/* ReLU / ReLU6 and their mask in one pass over whole words, with the
 * scalar code's selects (NaN and -0 pass through) and compares. Each
 * vector is loaded before it is stored, so x may be y. */
CPU_TARGET_AVX512 static void piecewise_words_avx512(int act, const float *x, float *y, uint32_t *mask, int64_t words)
{
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    for (int64_t k = 0; k < words; k++) {
        uint32_t bits = 0;
        for (int h = 0; h < 2; h++) {
            __m512 v = _mm512_loadu_ps(x + 32 * k + 16 * h);
            v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
            __mmask16 on = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
            if (act == RT_ACT_RELU6) {
                v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, six, _CMP_GT_OQ), six);
                on &= _mm512_cmp_ps_mask(v, six, _CMP_LT_OQ);
            }
            _mm512_storeu_ps(y + 32 * k + 16 * h, v);
            bits |= (uint32_t)on << (16 * h);
        }
        mask[k] = bits;
    }
}
#endif

/* Mask mode: work items are mask words, so every word is built by one
 * thread from the outputs it writes. */
static void act_fwd_mask_range(void *ctx, int64_t wbegin, int64_t wend, int thread)
{
    (void)thread;
    const act_job *j = ctx;
    int64_t begin = 32 * wbegin, end = 32 * wend < j->count ? 32 * wend : j->count;
    int64_t k = 0; /* words done */
#if CPU_HAVE_AVX512
    if (cpu_simd_avx512()) {
        k = (end - begin) / 32; /* whole words; the last may be partial */
        piecewise_words_avx512(j->act, j->x + begin, j->y + begin, j->mask + wbegin, k);
    }
#endif
    act_fwd_elems(j, begin + 32 * k, end);
    for (; k < wend - wbegin; k++) {
        int64_t at = begin + 32 * k;
        j->mask[wbegin + k] = mask_word(j->act, j->y + at, (int)(end - at < 32 ? end - at : 32));
    }
}

static int64_t act_grain(int act)
{
    return act == RT_ACT_RELU || act == RT_ACT_RELU6 ? GRAIN_CHEAP : GRAIN_TRANSCENDENTAL;
}

void cpu_act_fwd(const cpu_kernel_args *a)
{
    act_job j = {a->args[0], a->args[1], a->args[2], a->p->i[0], a->p->i[1]};
    if (a->p->i[2])
        cpu_parallel_for(a->pool, (j.count + 31) / 32, GRAIN_CHEAP / 32, act_fwd_mask_range, &j);
    else
        cpu_parallel_for(a->pool, j.count, act_grain(j.act), act_fwd_range, &j);
}

/* ---- backward ---- */

typedef struct act_bwd_job {
    const float *x, *y, *dy;
    float *dx;
    const uint32_t *mask;
    int64_t count;
    int act, accum;
} act_bwd_job;

/* g[i] = dy[i] * act'(.) for n <= BWD_BLOCK elements. */
static void act_derivative(int act, const float *restrict x, const float *restrict y, const float *restrict dy,
                           float *restrict g, int64_t n)
{
    switch (act) {
    case RT_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            g[i] = select_f(y[i] > 0.0f, dy[i], 0.0f);
        break;
    case RT_ACT_RELU6:
        for (int64_t i = 0; i < n; i++)
            g[i] = select_f((y[i] > 0.0f) & (y[i] < 6.0f), dy[i], 0.0f);
        break;
    case RT_ACT_GELU:
        for (int64_t i = 0; i < n; i++) {
            float pdf, cdf = normal_cdf(x[i], &pdf);
            g[i] = dy[i] * (cdf + x[i] * pdf);
        }
        break;
    case RT_ACT_SILU:
        for (int64_t i = 0; i < n; i++) {
            float s = sigmoid_approx(x[i]);
            g[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
    case RT_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            g[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case RT_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            g[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    }
}

CPU_CLONES static void act_bwd_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const act_bwd_job *j = ctx;
    if (j->act == RT_ACT_RELU) { /* one pass, no block buffer: memory-bound */
        const float *restrict y = j->y + begin, *restrict dy = j->dy + begin;
        float *restrict dx = j->dx + begin;
        int64_t n = end - begin;
        if (j->accum)
            for (int64_t i = 0; i < n; i++)
                dx[i] += select_f(y[i] > 0.0f, dy[i], 0.0f);
        else
            for (int64_t i = 0; i < n; i++)
                dx[i] = select_f(y[i] > 0.0f, dy[i], 0.0f);
        return;
    }
    float g[BWD_BLOCK];
    for (int64_t b = begin; b < end; b += BWD_BLOCK) {
        int64_t n = end - b < BWD_BLOCK ? end - b : BWD_BLOCK;
        /* Only the input the activation reads is present. */
        const float *x = j->x ? j->x + b : NULL, *y = j->y ? j->y + b : NULL;
        act_derivative(j->act, x, y, j->dy + b, g, n);
        float *restrict dx = j->dx + b;
        if (j->accum)
            for (int64_t i = 0; i < n; i++)
                dx[i] += g[i];
        else
            memcpy(dx, g, (size_t)n * sizeof *dx);
    }
}

/* From the mask: words [wbegin, wend), dx (+)= bit ? dy : +0, the value
 * select_f gives when reading y. */
CPU_CLONES static void act_bwd_mask_range(void *ctx, int64_t wbegin, int64_t wend, int thread)
{
    (void)thread;
    const act_bwd_job *j = ctx;
    for (int64_t k = wbegin; k < wend; k++) {
        int64_t at = 32 * k;
        int n = j->count - at < 32 ? (int)(j->count - at) : 32;
        uint32_t m = j->mask[k];
        const float *restrict dy = j->dy + at;
        float *restrict dx = j->dx + at;
        if (n == 32 && j->accum)
            for (int i = 0; i < 32; i++)
                dx[i] += select_f((int)((m >> i) & 1u), dy[i], 0.0f);
        else if (n == 32)
            for (int i = 0; i < 32; i++)
                dx[i] = select_f((int)((m >> i) & 1u), dy[i], 0.0f);
        else
            for (int i = 0; i < n; i++) {
                float g = select_f((int)((m >> i) & 1u), dy[i], 0.0f);
                dx[i] = j->accum ? dx[i] + g : g;
            }
    }
}

void cpu_act_bwd(const cpu_kernel_args *a)
{
    act_bwd_job j = {a->args[0], a->args[1], a->args[2], a->args[3], a->args[4], a->p->i[0], a->p->i[1], a->p->i[2]};
    if (a->p->i[3])
        cpu_parallel_for(a->pool, (j.count + 31) / 32, GRAIN_CHEAP / 32, act_bwd_mask_range, &j);
    else
        cpu_parallel_for(a->pool, j.count, act_grain(j.act), act_bwd_range, &j);
}
