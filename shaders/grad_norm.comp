#version 450
// RT_K_GRAD_NORM: norm = sqrt(sum g^2) over count elements; scalars
// GRAD_NORM = norm, CLIP_SCALE = min(1, max_norm / (norm + 1e-6)) in
// float, as the CPU (a NaN norm gives a NaN factor).
// Geometry: ROWS(1): a single workgroup; compensated per-thread partial
// sums joined by a fixed-order shared-memory tree (deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Grads { float grads[]; };
layout(std430, set = 0, binding = 1) buffer Scalars { uint sc[]; };

shared float red_s[LOCAL_SIZE];
shared float red_e[LOCAL_SIZE];

// Error-free accumulation (Knuth's TwoSum): s + e is the running sum, e
// collects the rounding error of every addition. precise keeps the
// compiler from folding the error terms away.
void two_sum_add(inout float s, inout float e, float v)
{
    precise float t = s + v;
    precise float bp = t - s;
    precise float err = (s - (t - bp)) + (v - bp);
    precise float ne = e + err;
    e = ne;
    s = t;
}

// Sum over the workgroup of every thread's (s, e), compensated, joined in
// a fixed tree order (deterministic); every thread gets the total.
float group_sum(float s, float e)
{
    uint t = gl_LocalInvocationID.x;
    red_s[t] = s;
    red_e[t] = e;
    barrier();
    uint h = 1u;
    while (h * 2u < LOCAL_SIZE)
        h *= 2u;
    for (; h > 0u; h >>= 1u) {
        if (t < h && t + h < LOCAL_SIZE) {
            float a = red_s[t], ae = red_e[t];
            two_sum_add(a, ae, red_s[t + h]);
            red_s[t] = a;
            red_e[t] = ae + red_e[t + h];
        }
        barrier();
    }
    float r = red_s[0] + red_e[0];
    barrier();
    return r;
}

void main()
{
    if (group_index() != 0u)
        return;
    uint count = uint(p.i[0]);
    uint t = gl_LocalInvocationID.x;
    uint og = arg_offset(0u);
    float s = 0.0, serr = 0.0;
    for (uint i = t; i < count; i += LOCAL_SIZE) {
        float g = grads[og + i];
        two_sum_add(s, serr, g * g);
    }
    float norm = sqrt(group_sum(s, serr));
    if (t == 0u) {
        uint os = arg_offset(1u);
        float clip = p.f[0] / (norm + 1e-6);
        sc[os + SC_GRAD_NORM] = floatBitsToUint(norm);
        sc[os + SC_CLIP_SCALE] = floatBitsToUint(clip > 1.0 ? 1.0 : clip);
    }
}
