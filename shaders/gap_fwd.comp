#version 450
// RT_K_GAP_FWD: y[p] = mean of x[p, 0..hw). Geometry: ROWS(planes), one
// workgroup per plane. Thread t sums elements t, t + LOCAL_SIZE, ... in
// order, then the partial sums are joined in a fixed order (reduce.glsl):
// the result does not depend on scheduling. There is no float64 here
// (the CPU backend sums in double), so every addition carries its
// rounding error along (TwoSum pairs), which makes the sum about as
// accurate as a double one; inf and NaN propagate as in the double sum.
// (Unlike the double sum, a float one overflows to inf for sums beyond
// FLT_MAX.)
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

void main()
{
    uint row = group_index();
    if (row >= uint(p.i[0]))
        return; // uniform across the workgroup: the barriers below stay safe
    uint hw = uint(p.i[1]), t = gl_LocalInvocationID.x;
    uint xoff = arg_offset(0u) + row * hw;
    float s = 0.0, c = 0.0;
    for (uint j = t; j < hw; j += LOCAL_SIZE)
        sum_add(s, c, x[xoff + j]);
    float sum = group_sum(s, c);
    if (t == 0u)
        y[arg_offset(1u) + row] = sum / float(hw);
}
