#version 450
// RT_K_EMBED_FWD: y[r, :] = W[idx[r], :]; an index outside [0, num)
// gives a zero row. Geometry: ITEMS(rows * dim), item t = r * dim + d.
// args: 0 idx (int), 1 W [num, dim], 2 y [rows, dim]; i: 0 rows, 1 num, 2 dim.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Idx { int idx_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w_buf[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y_buf[]; };

void main()
{
    uint t = item_index();
    uint rows = uint(max(p.i[0], 0)), dim = uint(max(p.i[2], 0));
    if (dim == 0u || t >= rows * dim)
        return;
    uint r = t / dim, d = t - r * dim;
    int i = idx_buf[arg_offset(0u) + r];
    float v = 0.0;
    if (i >= 0 && i < p.i[1])
        v = w_buf[arg_offset(1u) + uint(i) * dim + d];
    y_buf[arg_offset(2u) + t] = v;
}
