#version 450
// RT_K_GAP_BWD: dx[p, j] (+)= dy[p] / hw. Geometry: ITEMS(planes*hw).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 1) buffer Dx { float dx[]; };

void main()
{
    uint idx = item_index();
    uint hw = uint(p.i[1]);
    if (idx >= uint(p.i[0]) * hw)
        return;
    float share = dy[arg_offset(0u) + idx / hw] / float(hw);
    uint d = arg_offset(1u) + idx;
    dx[d] = p.i[2] != 0 ? dx[d] + share : share;
}
