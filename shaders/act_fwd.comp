#version 450
// RT_K_ACT_FWD: y = act(x). Geometry: ITEMS(count), or with write_mask
// ITEMS((count+31)/32): one invocation per mask word, which computes its
// 32 elements and writes the word whole (no atomics).
// args: 0 x, 1 y, 2 mask; i: 0 count, 1 act (rt_act), 2 write_mask.
// x and y may be the same memory (in place): every invocation reads an
// element before it writes it and touches no other invocation's elements.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x_buf[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y_buf[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Mask { uint mask_buf[]; };

const int ACT_RELU = 0, ACT_RELU6 = 1, ACT_GELU = 2, ACT_SILU = 3, ACT_SIGMOID = 4, ACT_TANH = 5;

// ---- float transcendental helpers (same in act_fwd.comp and act_bwd.comp) ----
// They follow runtime/cpu/activation.c operation for operation (same
// range reduction, polynomials and evaluation order), every intermediate
// `precise` so no compiler fuses a multiply-add or reassociates: CPU and
// GPU then agree to within the rounding of the division (exactly where
// the device divides correctly rounded). A change to the CPU's
// approximations belongs here too (tests/test_vk_elementwise.c allows
// 8 ulp).

// e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial, 2^n
// built in the exponent bits. 0 below -87.3, saturates at e^88.3 above
// 88.3 (the CPU's range); NaN stays NaN.
float exp_approx(float x_in)
{
    precise float x = x_in;
    bool underflows = x < -87.3;
    x = underflows ? -87.3 : x;
    x = x > 88.3 ? 88.3 : x;
    const float shifter = 12582912.0; // 1.5 * 2^23: adding it rounds to an integer
    precise float t = x * 1.44269504 + shifter;
    precise float n = t - shifter;
    uint scale = (floatBitsToUint(t) - floatBitsToUint(shifter) + 127u) << 23;
    precise float r = x - n * 0.693359375; // ln2 split in two: the product is exact
    r = r - n * -2.12194440e-4;
    precise float q = 1.98909809e-4;
    q = q * r + 1.39336410e-3;
    q = q * r + 8.33331093e-3;
    q = q * r + 4.16664650e-2;
    q = q * r + 1.66666667e-1;
    q = q * r + 5.00000001e-1;
    precise float er = 1.0 + r + r * r * q;
    precise float res = er * uintBitsToFloat(scale);
    return underflows ? 0.0 : res;
}

float sigmoid_approx(float x)
{
    precise float d = 1.0 + exp_approx(-x);
    precise float s = 1.0 / d;
    return s;
}

// tanh: odd polynomial for |x| < 0.625 (where 1 - 2/(e^2x + 1) would
// cancel), that stable form (never overflows: e^2|x| saturates) beyond.
float tanh_approx(float x)
{
    float ax = abs(x);
    precise float z = x * x;
    precise float p = -6.09671417e-3;
    p = p * z + 2.09971790e-2;
    p = p * z + -5.38509096e-2;
    p = p * z + 1.33327697e-1;
    p = p * z + -3.33333289e-1;
    precise float small = x + x * z * p;
    precise float e = exp_approx(2.0 * ax) + 1.0;
    precise float big = 1.0 - 2.0 / e;
    big = x < 0.0 ? -big : big;
    return ax < 0.625 ? small : big;
}

// GLSL has no erf: it is built from the two pieces below, erf(z) = z P(z^2)
// for |z| < 1 and 1 - erfc(|z|) beyond; max abs error of that erf 1.6e-7
// (checked against double erf), and the tail keeps relative precision.

// (1 + erf(z)) / 2 for |z| < 1, with erf(z) = z P(z^2), P of degree 6 in z^2.
float half_one_plus_erf(float z)
{
    precise float u = z * z;
    precise float p = 7.87587506e-5;
    p = p * u + -8.01686429e-4;
    p = p * u + 5.18908742e-3;
    p = p * u + -2.68542120e-2;
    p = p * u + 1.12835947e-1;
    p = p * u + -3.76126267e-1;
    p = p * u + 1.12837917e+0;
    precise float res = 0.5 + 0.5 * z * p; // (1 + erf(z)) / 2, as the CPU orders it
    return res;
}

// erfc(|z|) / 2 for |z| >= 1 as e^(-z^2) R(1/|z|) / (2 |z|), e = e^(-z^2)
// given: full relative precision in the tail, where 1 - erf would cancel.
float half_erfc_tail(float az, float e)
{
    precise float t = 1.0 / (az > 1.0 ? az : 1.0);
    precise float tc = t < 0.2 ? 0.2 : t; // R is fitted on t in [0.2, 1]
    precise float r = -5.08523428e-2;
    r = r * tc + 3.40945241e-1;
    r = r * tc + -1.01323751e+0;
    r = r * tc + 1.73546649e+0;
    r = r * tc + -1.83044966e+0;
    r = r * tc + 1.10082704e+0;
    r = r * tc + -1.58689729e-1;
    r = r * tc + -2.58700363e-1;
    r = r * tc + -1.98973316e-3;
    r = r * tc + 5.64264144e-1;
    precise float res = 0.5 * e * r * t;
    return res;
}

// Standard normal CDF Phi(x) = (1 + erf(x / sqrt2)) / 2 and density
// phi(x) = e^(-x^2/2) / sqrt(2 pi), from the erf pieces above.
float normal_cdf(float x, out float pdf)
{
    precise float z = x * 0.707106781;
    float az = abs(z);
    precise float e = exp_approx(-z * z);
    precise float d = e * 0.398942280;
    pdf = d;
    float central = half_one_plus_erf(z);
    float half_erfc = half_erfc_tail(az, e);
    precise float tail = z < 0.0 ? half_erfc : 1.0 - half_erfc;
    return az < 1.0 ? central : tail;
}

// ReLU and ReLU6; x < 0 (not x <= 0) lets NaN through, as the CPU and torch.
float piecewise(int act, float x)
{
    return act == ACT_RELU ? (x < 0.0 ? 0.0 : x) : (x < 0.0 ? 0.0 : (x > 6.0 ? 6.0 : x));
}

// Mask word w: bit j iff element 32w + j has derivative 1 by act_bwd's
// rule on y (NaN compares false).
void mask_word(uint w)
{
    uint n = uint(p.i[0]), base = w * 32u;
    if (base >= n)
        return;
    uint m = min(32u, n - base), bits = 0u;
    uint xo = arg_offset(0u) + base, yo = arg_offset(1u) + base;
    int act = p.i[1];
    for (uint j = 0u; j < m; j++) {
        float y = piecewise(act, x_buf[xo + j]);
        y_buf[yo + j] = y;
        bool on = act == ACT_RELU ? y > 0.0 : (y > 0.0 && y < 6.0);
        bits |= on ? 1u << j : 0u;
    }
    mask_buf[arg_offset(2u) + w] = bits;
}

void main()
{
    if (p.i[2] != 0) {
        mask_word(item_index());
        return;
    }
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    float x = x_buf[arg_offset(0u) + idx];
    precise float y;
    switch (p.i[1]) {
    case ACT_RELU:
    case ACT_RELU6:
        y = piecewise(p.i[1], x);
        break;
    case ACT_GELU: {
        float pdf;
        y = x * normal_cdf(x, pdf);
        break;
    }
    case ACT_SILU:
        y = x * sigmoid_approx(x);
        break;
    case ACT_SIGMOID:
        y = sigmoid_approx(x);
        break;
    default: // ACT_TANH
        y = tanh_approx(x);
        break;
    }
    y_buf[arg_offset(1u) + idx] = y;
}
