#version 450
// RT_K_FILL: dst[i] = value. Geometry: ITEMS(count).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer Dst { float dst[]; };

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    dst[arg_offset(0u) + idx] = p.f[0];
}
