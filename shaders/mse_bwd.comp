#version 450
// RT_K_MSE_BWD: dpred (+)= 2 (pred - target) / (N*D). Geometry: ITEMS(N*D).
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
    float v = (pred[arg_offset(0u) + idx] - target[arg_offset(1u) + idx]) * (2.0 / float(count));
    uint o = arg_offset(2u) + idx;
    dpred[o] = p.i[2] != 0 ? dpred[o] + v : v;
}
