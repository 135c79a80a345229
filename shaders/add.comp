#version 450
// RT_K_ADD: y = a + b. Geometry: ITEMS(count).
// args: 0 a, 1 b, 2 y; i: 0 count.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer A { float a_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b_buf[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y_buf[]; };

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    y_buf[arg_offset(2u) + idx] = a_buf[arg_offset(0u) + idx] + b_buf[arg_offset(1u) + idx];
}
