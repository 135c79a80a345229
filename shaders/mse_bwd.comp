#version 450
// RT_K_MSE_BWD: dpred (+)= 2 (pred - target) / (M*D), M = i[3] if > 0,
// else N. Geometry: ITEMS(N*D).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Pred { float pred[]; };
layout(std430, set = 0, binding = 1) readonly buffer Target { float target[]; };
layout(std430, set = 0, binding = 2) buffer Dpred { float dpred[]; };

void main()
{
    uint idx = item_index();
    uint count = uint(p.i[0]) * uint(p.i[1]);
    if (idx >= count)
        return;
    uint mean_over = (p.i[3] > 0 ? uint(p.i[3]) : uint(p.i[0])) * uint(p.i[1]);
    float v = (pred[arg_offset(0u) + idx] - target[arg_offset(1u) + idx]) * (2.0 / float(mean_over));
    uint o = arg_offset(2u) + idx;
    dpred[o] = p.i[2] != 0 ? dpred[o] + v : v;
}
