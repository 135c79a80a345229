#version 450
// RT_K_COPY: dst (+)= src, or (+)= f[0] * src when i[2] != 0.
// Geometry: ITEMS(count).
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
    if (p.i[2] != 0)
        v *= p.f[0];
    uint d = arg_offset(1u) + idx;
    dst[d] = p.i[1] != 0 ? dst[d] + v : v;
}
