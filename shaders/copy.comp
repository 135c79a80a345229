#version 450
// RT_K_COPY: dst (+)= src. Geometry: ITEMS(count).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) buffer Dst { float dst[]; };

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    float v = src[arg_offset(0u) + idx];
    uint d = arg_offset(1u) + idx;
    dst[d] = p.i[1] != 0 ? dst[d] + v : v;
}
