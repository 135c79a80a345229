#version 450
// RT_K_EMBED_BWD: dW[idx[r], :] += dy[r, :] in row order; with accum = 0
// dW starts from zero (rows no index names end up 0).
// Geometry: ITEMS(num * dim): thread t = e * dim + d owns dW[e, d] and
// walks every row r in order, adding dy[r, d] where idx[r] == e: no
// atomics, and the additions happen in the CPU's order, so the result is
// bit for bit the CPU's. The workgroup stages idx in shared memory, a
// tile at a time (every thread of the group reads the same indices).
// args: 0 idx (int), 1 dy [rows, dim], 2 dW [num, dim];
// i: 0 rows, 1 num, 2 dim, 3 accum.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Idx { int idx_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy_buf[]; };
layout(std430, set = 0, binding = 2) buffer DW { float dw_buf[]; };

shared int s_idx[LOCAL_SIZE];

void main()
{
    uint t = item_index();
    uint rows = uint(max(p.i[0], 0)), num = uint(max(p.i[1], 0)), dim = uint(max(p.i[2], 0));
    // No early return before the barriers: threads past the end help load.
    bool live = dim != 0u && t < num * dim;
    uint e = live ? t / dim : 0u;
    uint d = live ? t - e * dim : 0u;
    uint w = arg_offset(2u) + t;
    precise float acc = 0.0;
    if (live && p.i[3] != 0)
        acc = dw_buf[w];
    uint lt = gl_LocalInvocationID.x;
    uint idx_base = arg_offset(0u), dy_base = arg_offset(1u);
    for (uint r0 = 0u; r0 < rows; r0 += LOCAL_SIZE) {
        uint n = min(LOCAL_SIZE, rows - r0);
        barrier(); // the previous tile has been read
        if (lt < n)
            s_idx[lt] = idx_buf[idx_base + r0 + lt];
        barrier();
        if (live)
            for (uint k = 0u; k < n; k++)
                if (s_idx[k] == int(e))
                    acc += dy_buf[dy_base + (r0 + k) * dim + d];
    }
    if (live)
        dw_buf[w] = acc;
}
