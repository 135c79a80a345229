#version 450
// RT_K_GAP_FWD: y[p] = mean of x[p, 0..hw). Geometry: ROWS(planes), one
// workgroup per plane. Thread t sums elements t, t + LOCAL_SIZE, ... in
// order, then the partial sums are combined by a fixed tree in shared
// memory: the result does not depend on scheduling. There is no float64
// here (the CPU backend sums in double), so every addition carries its
// rounding error along (TwoSum, error-free transformation; `precise`
// keeps the compiler from simplifying it away), which makes the sum
// about as accurate as a double one. (Unlike the double sum, a float one
// overflows to inf for sums beyond FLT_MAX.)
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

shared float red_s[LOCAL_SIZE];
shared float red_c[LOCAL_SIZE];

// s + c += v, with s the rounded sum and c the accumulated errors.
void add_to(inout float s, inout float c, float v)
{
    precise float t = s + v;
    precise float bp = t - s;
    precise float err = (s - (t - bp)) + (v - bp);
    s = t;
    c += err;
}

void main()
{
    uint row = group_index();
    if (row >= uint(p.i[0]))
        return; // uniform across the workgroup: the barriers below stay safe
    uint hw = uint(p.i[1]), t = gl_LocalInvocationID.x;
    uint xoff = arg_offset(0u) + row * hw;
    float s = 0.0, c = 0.0;
    for (uint j = t; j < hw; j += LOCAL_SIZE)
        add_to(s, c, x[xoff + j]);
    red_s[t] = s;
    red_c[t] = c;
    barrier();
    for (uint n = LOCAL_SIZE; n > 1u;) {
        uint h = (n + 1u) / 2u; // elements [h, n) fold onto [0, n - h)
        if (t < n - h) {
            float a = red_s[t], ac = red_c[t];
            add_to(a, ac, red_s[t + h]);
            red_s[t] = a;
            red_c[t] = ac + red_c[t + h];
        }
        barrier();
        n = h;
    }
    if (t == 0u) {
        // an infinite or NaN sum makes the errors NaN: the sum alone is right
        float s0 = red_s[0];
        precise float sum = isinf(s0) || isnan(s0) ? s0 : s0 + red_c[0];
        y[arg_offset(1u) + row] = sum / float(hw);
    }
}
