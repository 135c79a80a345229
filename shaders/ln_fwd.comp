#version 450
// RT_K_LN_FWD: layer norm over the last dimension D of x [rows, D]:
// y = (x - mean) * rstd * gamma + beta; save_mean, save_rstd per row.
// Geometry: ROWS(rows): one workgroup per row; mean, then squared
// deviations (two passes, as the CPU), each a compensated per-thread
// partial sum joined by a fixed-order shared-memory tree.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer SaveMean { float save_mean[]; };
layout(std430, set = 0, binding = 5) writeonly buffer SaveRstd { float save_rstd[]; };

shared float red_s[LOCAL_SIZE];
shared float red_e[LOCAL_SIZE];

// Error-free accumulation (Knuth's TwoSum): s + e is the running sum, e
// collects the rounding error of every addition. precise keeps the
// compiler from folding the error terms away.
void two_sum_add(inout float s, inout float e, float v)
{
    precise float t = s + v;
    precise float bp = t - s;
    precise float err = (s - (t - bp)) + (v - bp);
    precise float ne = e + err;
    e = ne;
    s = t;
}

// Sum over the workgroup of every thread's (s, e), compensated, joined in
// a fixed tree order (deterministic); every thread gets the total.
float group_sum(float s, float e)
{
    uint t = gl_LocalInvocationID.x;
    red_s[t] = s;
    red_e[t] = e;
    barrier();
    uint h = 1u;
    while (h * 2u < LOCAL_SIZE)
        h *= 2u;
    for (; h > 0u; h >>= 1u) {
        if (t < h && t + h < LOCAL_SIZE) {
            float a = red_s[t], ae = red_e[t];
            two_sum_add(a, ae, red_s[t + h]);
            red_s[t] = a;
            red_e[t] = ae + red_e[t + h];
        }
        barrier();
    }
    float r = red_s[0] + red_e[0];
    barrier();
    return r;
}

void main()
{
    uint r = group_index();
    uint D = uint(p.i[1]);
    if (r >= uint(p.i[0]))
        return;
    uint t = gl_LocalInvocationID.x;
    uint ox = arg_offset(0u) + r * D, oy = arg_offset(3u) + r * D;
    uint og = arg_offset(1u), ob = arg_offset(2u);

    float s = 0.0, serr = 0.0;
    for (uint i = t; i < D; i += LOCAL_SIZE)
        two_sum_add(s, serr, x[ox + i]);
    float mean = group_sum(s, serr) / float(D);

    s = 0.0;
    serr = 0.0;
    for (uint i = t; i < D; i += LOCAL_SIZE) {
        float d = x[ox + i] - mean;
        two_sum_add(s, serr, d * d);
    }
    float rstd = 1.0 / sqrt(group_sum(s, serr) / float(D) + p.f[0]);

    if (t == 0u) {
        save_mean[arg_offset(4u) + r] = mean;
        save_rstd[arg_offset(5u) + r] = rstd;
    }
    for (uint i = t; i < D; i += LOCAL_SIZE)
        y[oy + i] = (x[ox + i] - mean) * rstd * gamma[og + i] + beta[ob + i];
}
