#version 450
// RT_K_GATHER_ROWS: dst[(b*k + r)*width + j] = src[(b*rows + idx[r])*width + j]
// for b < items, r < k, j < width; an index outside [0, rows) gives
// zeros. Geometry: ITEMS(items * k * width).
// args: 0 src, 1 idx, 2 dst; i: 0 items, 1 rows, 2 k, 3 width.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) readonly buffer Idx { int idx[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dst { float dst[]; };

void main()
{
    uint rows = uint(p.i[1]), k = uint(p.i[2]), width = uint(p.i[3]);
    uint t = item_index();
    if (t >= uint(p.i[0]) * k * width)
        return;
    uint j = t % width, row = t / width; // row = b*k + r
    uint b = row / k, r = row - b * k;
    int i = idx[arg_offset(1u) + r];
    float v = 0.0;
    if (i >= 0 && uint(i) < rows)
        v = src[arg_offset(0u) + (b * rows + uint(i)) * width + j];
    dst[arg_offset(2u) + t] = v;
}
