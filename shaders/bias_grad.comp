#version 450
// RT_K_BIAS_GRAD: db[c] (+)= sum over n < outer, j < inner of
// dy[(n*C + c)*inner + j]. Geometry: ROWS(C): workgroup c sums channel c.
// args: 0 dy, 1 db; i: 0 outer, 1 C, 2 inner, 3 accum.
//
// Deterministic: thread t sums items k = t, t + LOCAL_SIZE, ... of the
// channel (k = n*inner + j) in order, as a compensated pair, then the
// workgroup's pairs are joined in a fixed order (reduce.glsl). The CPU
// sums in double; the pairs carry about 48 bits, so the result is the
// correctly rounded sum in all but rare cases, like the CPU's.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) buffer DB { float db[]; };

void main()
{
    uint c = group_index();
    uint C = uint(max(p.i[1], 0));
    if (c >= C) // uniform over the workgroup: no barrier is skipped by part of it
        return;
    uint outer = uint(max(p.i[0], 0)), inner = uint(max(p.i[2], 0));
    uint t = gl_LocalInvocationID.x;
    uint base = arg_offset(0u);
    float hi = 0.0, lo = 0.0;
    if (inner == 1u) {
        // [outer, C] rows: item n at n*C + c.
        for (uint n = t; n < outer; n += LOCAL_SIZE)
            sum_add(hi, lo, dy[base + n * C + c]);
    } else if (inner >= LOCAL_SIZE) {
        // Runs of inner contiguous elements; threads stride each run.
        for (uint n = 0u; n < outer; n++) {
            uint run = base + (n * C + c) * inner;
            for (uint j = t; j < inner; j += LOCAL_SIZE)
                sum_add(hi, lo, dy[run + j]);
        }
    } else if (inner > 0u) {
        uint total = outer * inner;
        for (uint k = t; k < total; k += LOCAL_SIZE) {
            uint n = k / inner, j = k - n * inner;
            sum_add(hi, lo, dy[base + (n * C + c) * inner + j]);
        }
    }
    group_sum_pair(hi, lo);
    if (t == 0u) {
        uint d = arg_offset(1u) + c;
        if (p.i[3] != 0)
            pair_add(hi, lo, db[d], 0.0);
        db[d] = pair_value(hi, lo);
    }
}
