#version 450
// RT_K_DROPOUT_FWD: inverted dropout, y = x * (keep ? 1/(1-p) : 0) with
// keep iff rt_hash_uniform(seed, salt, first + j) >= p, seed = scalars[SC_SEED].
// Geometry: ITEMS(count). args: 0 x, 1 y, 2 scalars (uint words);
// i: 0 count, 1 salt, 3 first; f: 0 p.
// Bit for bit the CPU's result (runtime/cpu/elementwise.c): same mask,
// same float scale, one rounded multiply (see dropout_scale()).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 2) readonly buffer Scalars { uint scalars[]; };

// The CPU's scale: p < 1 ? 1.0f / (1.0f - p) : 0, as the correctly
// rounded float. GLSL's division may be off by a few ulp (Vulkan allows
// 2.5), so the quotient is only a first guess, corrected exactly in
// integers: with d = md * 2^(e - 150) (md the 24-bit significand, e the
// biased exponent), 1/d = s * 2^(103 - e) where s is 2^47 / md rounded
// to an integer in [2^23, 2^24]. The residual 2^47 - s*md is small, so
// it is exact in 32-bit wrap-around arithmetic (2^47 = 0 mod 2^32).
float dropout_scale(float p_drop)
{
    if (!(p_drop < 1.0))
        return 0.0; // p = 1 (or NaN) drops everything
    precise float d = 1.0 - p_drop;
    uint bits = floatBitsToUint(d);
    uint e = bits >> 23; // d > 0: no sign bit
    if (e == 0u || e > 252u)
        return 1.0 / d; // denormal d or a denormal/zero reciprocal: p far outside [0, 1)
    uint md = (bits & 0x7fffffu) | 0x800000u;
    uint s = uint(140737488355328.0 / float(md) + 0.5); // 2^47 / md, a few units off at most
    int r = int(0u - s * md);                         // 2^47 - s*md, exact
    int m = int(md);
    for (int k = 0; k < 8 && 2 * r > m; k++) { // round to nearest: |r| <= md/2 (never a tie)
        s++;
        r -= m;
    }
    for (int k = 0; k < 8 && 2 * r < -m; k++) {
        s--;
        r += m;
    }
    uint biased = 253u - e;
    if (s == 0x1000000u) { // 2^24: the next binade
        s = 0x800000u;
        biased++;
    }
    return uintBitsToFloat((biased << 23) | (s & 0x7fffffu));
}

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    float p_drop = p.f[0];
    uint seed = scalars[arg_offset(2u) + SC_SEED];
    bool keep = rt_hash_uniform(seed, uint(p.i[1]), uint(p.i[3]) + idx) >= p_drop;
    // Multiplying by 0 (rather than storing 0) keeps NaN and inf as NaN, as the CPU.
    precise float y = src[arg_offset(0u) + idx] * (keep ? dropout_scale(p_drop) : 0.0);
    dst[arg_offset(1u) + idx] = y;
}
