#version 450
// RT_K_MSE_FWD: loss = mean over N*D of (pred - target)^2.
// Scalars as the CPU: LOSS = loss, LOSS_SUM += loss * N, SAMPLES += N.
// Geometry: ROWS(1): a single workgroup; compensated per-thread partial
// sums joined by a fixed-order shared-memory tree (deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Pred { float pred[]; };
layout(std430, set = 0, binding = 1) readonly buffer Target { float target[]; };
layout(std430, set = 0, binding = 2) buffer Scalars { uint sc[]; };

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
    uint N = uint(p.i[0]), count = N * uint(p.i[1]);
    uint t = gl_LocalInvocationID.x;
    uint op = arg_offset(0u), ot = arg_offset(1u);
    float s = 0.0, serr = 0.0;
    for (uint i = t; i < count; i += LOCAL_SIZE) {
        float d = pred[op + i] - target[ot + i];
        two_sum_add(s, serr, d * d);
    }
    float loss = group_sum(s, serr) / float(count);
    if (t == 0u) {
        uint os = arg_offset(2u);
        sc[os + SC_LOSS] = floatBitsToUint(loss);
        sc[os + SC_LOSS_SUM] = floatBitsToUint(uintBitsToFloat(sc[os + SC_LOSS_SUM]) + loss * float(N));
        sc[os + SC_SAMPLES] += N;
    }
}
