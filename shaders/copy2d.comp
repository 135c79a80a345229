#version 450
// RT_K_COPY2D: strided row copy, for r < rows, c < cols:
//   dst[dst_off + r*dst_stride + c] (+)= src[src_off + r*src_stride + c]
// Geometry: ITEMS(rows * cols), item t = r * cols + c.
// args: 0 src, 1 dst; i: 0 rows, 1 cols, 2 src_stride, 3 dst_stride,
// 4 src_off, 5 dst_off, 6 accum.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) buffer Dst { float dst[]; };

void main()
{
    uint idx = item_index();
    uint rows = uint(max(p.i[0], 0)), cols = uint(max(p.i[1], 0));
    if (cols == 0u || idx >= rows * cols)
        return;
    int r = int(idx / cols), c = int(idx % cols);
    uint s = arg_offset(0u) + uint(p.i[4] + r * p.i[2] + c);
    uint d = arg_offset(1u) + uint(p.i[5] + r * p.i[3] + c);
    float v = src[s];
    dst[d] = p.i[6] != 0 ? dst[d] + v : v;
}
