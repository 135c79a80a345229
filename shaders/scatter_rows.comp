#version 450
// RT_K_SCATTER_ROWS: dst[(b*rows + idx[r])*width + j] = src[(b*k + r)*width + j]
// for b < items, r < k, j < width; rows not named keep their values,
// out-of-range indices are skipped (indices are distinct, so no two
// threads write one element). Geometry: ITEMS(items * k * width).
// args: 0 src, 1 idx, 2 dst; i: 0 items, 1 rows, 2 k, 3 width.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) readonly buffer Idx { int idx[]; };
layout(std430, set = 0, binding = 2) buffer Dst { float dst[]; };

void main()
{
    uint rows = uint(p.i[1]), k = uint(p.i[2]), width = uint(p.i[3]);
    uint t = item_index();
    if (t >= uint(p.i[0]) * k * width)
        return;
    uint j = t % width, row = t / width;
    uint b = row / k, r = row - b * k;
    int i = idx[arg_offset(1u) + r];
    if (i >= 0 && uint(i) < rows)
        dst[arg_offset(2u) + (b * rows + uint(i)) * width + j] = src[arg_offset(0u) + t];
}
