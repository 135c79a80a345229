#version 450
// RT_K_BIAS_GRAD: db[c] (+)= sum over n < outer, j < inner of
// dy[(n*C + c)*inner + j]. Geometry: ROWS(C): workgroup c sums channel c.
// args: 0 dy, 1 db; i: 0 outer, 1 C, 2 inner, 3 accum.
//
// Deterministic: thread t sums items k = t, t + LOCAL_SIZE, ... of the
// channel (k = n*inner + j) in order, then the partial sums are combined
// by a fixed tree in shared memory. The CPU sums in double; without
// float64 every sum here is kept as an unevaluated float pair hi + lo
// (error-free TwoSum, `precise` so no compiler reassociates it away),
// which carries about 48 bits: the result is the correctly rounded sum
// in all but rare cases, like the CPU's.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) buffer DB { float db[]; };

shared float s_hi[LOCAL_SIZE];
shared float s_lo[LOCAL_SIZE];

// (hi, lo) += x: hi + x split exactly into a rounded sum and its error.
void two_sum_add(inout float hi, inout float lo, float x)
{
    precise float s = hi + x;
    precise float bb = s - hi;
    precise float err = (hi - (s - bb)) + (x - bb);
    precise float l = lo + err;
    hi = s;
    lo = l;
}

// An infinite or NaN hi (an inf or NaN was added: its TwoSum error is
// NaN) is the sum as it stands; lo is then meaningless.
bool finite(float hi)
{
    return !(isinf(hi) || isnan(hi));
}

// (hi, lo) += (hi2, lo2), renormalised so |lo| <= ulp(hi) / 2.
void pair_add(inout float hi, inout float lo, float hi2, float lo2)
{
    float h = hi, l = lo2;
    two_sum_add(h, l, hi2);
    precise float e = l + lo;
    precise float s = h + e;
    precise float ne = e - (s - h);
    bool ok = finite(h);
    hi = ok ? s : h;
    lo = ok ? ne : 0.0;
}

float pair_value(float hi, float lo)
{
    precise float v = hi + lo;
    return finite(hi) ? v : hi;
}

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
            two_sum_add(hi, lo, dy[base + n * C + c]);
    } else if (inner >= LOCAL_SIZE) {
        // Runs of inner contiguous elements; threads stride each run.
        for (uint n = 0u; n < outer; n++) {
            uint run = base + (n * C + c) * inner;
            for (uint j = t; j < inner; j += LOCAL_SIZE)
                two_sum_add(hi, lo, dy[run + j]);
        }
    } else if (inner > 0u) {
        uint total = outer * inner;
        for (uint k = t; k < total; k += LOCAL_SIZE) {
            uint n = k / inner, j = k - n * inner;
            two_sum_add(hi, lo, dy[base + (n * C + c) * inner + j]);
        }
    }
    s_hi[t] = hi;
    s_lo[t] = lo;
    barrier();
    uint top = 1u; // LOCAL_SIZE rounded up to a power of two
    while (top < LOCAL_SIZE)
        top <<= 1u;
    for (uint w = top / 2u; w > 0u; w >>= 1u) {
        if (t < w && t + w < LOCAL_SIZE) {
            float h = s_hi[t], l = s_lo[t];
            pair_add(h, l, s_hi[t + w], s_lo[t + w]);
            s_hi[t] = h;
            s_lo[t] = l;
        }
        barrier();
    }
    if (t == 0u) {
        float h = s_hi[0], l = s_lo[0];
        uint d = arg_offset(1u) + c;
        if (p.i[3] != 0)
            pair_add(h, l, db[d], 0.0);
        db[d] = pair_value(h, l);
    }
}
