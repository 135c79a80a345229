#version 450
// RT_K_MSE_FWD: loss = mean over N*D of (pred - target)^2.
// Scalars as the CPU: LOSS = loss, LOSS_SUM += loss * N, SAMPLES += N.
// Geometry: ROWS(1): a single workgroup; compensated per-thread partial
// sums joined in a fixed order (reduce.glsl; deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Pred { float pred[]; };
layout(std430, set = 0, binding = 1) readonly buffer Target { float target[]; };
layout(std430, set = 0, binding = 2) buffer Scalars { uint sc[]; };

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
        sum_add(s, serr, d * d);
    }
    float loss = group_sum(s, serr) / float(count);
    if (t == 0u) {
        uint os = arg_offset(2u);
        sc[os + SC_LOSS] = floatBitsToUint(loss);
        sc[os + SC_LOSS_SUM] = floatBitsToUint(uintBitsToFloat(sc[os + SC_LOSS_SUM]) + loss * float(N));
        sc[os + SC_SAMPLES] += N;
    }
}
