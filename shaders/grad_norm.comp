#version 450
// RT_K_GRAD_NORM: norm = sqrt(sum g^2) over count elements; scalars
// GRAD_NORM = norm, CLIP_SCALE = min(1, max_norm / (norm + 1e-6)) in
// float, as the CPU (a NaN norm gives a NaN factor).
// Geometry: ROWS(1): a single workgroup; compensated per-thread partial
// sums joined in a fixed order (reduce.glsl; deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Grads { float grads[]; };
layout(std430, set = 0, binding = 1) buffer Scalars { uint sc[]; };

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
        sum_add(s, serr, g * g);
    }
    float norm = sqrt(group_sum(s, serr));
    if (t == 0u) {
        uint os = arg_offset(1u);
        float clip = p.f[0] / (norm + 1e-6);
        sc[os + SC_GRAD_NORM] = floatBitsToUint(norm);
        sc[os + SC_CLIP_SCALE] = floatBitsToUint(clip > 1.0 ? 1.0 : clip);
    }
}
