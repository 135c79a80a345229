#version 450
// RT_K_BN_TRAIN_FWD: batch norm with batch statistics over x [N, C, HW].
// Geometry: ROWS(C): one workgroup per channel. Each thread sums a
// strided share of the channel's N*HW values (compensated), then the
// partial sums are joined in a fixed order (reduce.glsl), so the result
// does not depend on scheduling. Two passes (mean, then squared
// deviations), as the CPU; running stats take the unbiased variance.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer SaveMean { float save_mean[]; };
layout(std430, set = 0, binding = 5) writeonly buffer SaveInvstd { float save_invstd[]; };
layout(std430, set = 0, binding = 6) buffer RunningMean { float running_mean[]; };
layout(std430, set = 0, binding = 7) buffer RunningVar { float running_var[]; };

void main()
{
    uint c = group_index();
    uint N = uint(p.i[0]), C = uint(p.i[1]), HW = uint(p.i[2]);
    if (c >= C)
        return;
    uint t = gl_LocalInvocationID.x;
    uint count = N * HW;
    uint ox = arg_offset(0u), oy = arg_offset(3u);

    float s = 0.0, serr = 0.0;
    for (uint e = t; e < count; e += LOCAL_SIZE) {
        uint n = e / HW;
        sum_add(s, serr, x[ox + (n * C + c) * HW + (e - n * HW)]);
    }
    float mean = group_sum(s, serr) / float(count);

    s = 0.0;
    serr = 0.0;
    for (uint e = t; e < count; e += LOCAL_SIZE) {
        uint n = e / HW;
        float d = x[ox + (n * C + c) * HW + (e - n * HW)] - mean;
        sum_add(s, serr, d * d);
    }
    float var = group_sum(s, serr) / float(count); // biased: normalises
    float invstd = 1.0 / sqrt(var + p.f[0]);

    if (t == 0u) {
        float m = p.f[1];
        save_mean[arg_offset(4u) + c] = mean;
        save_invstd[arg_offset(5u) + c] = invstd;
        uint rm = arg_offset(6u) + c, rv = arg_offset(7u) + c;
        running_mean[rm] = (1.0 - m) * running_mean[rm] + m * mean;
        running_var[rv] = (1.0 - m) * running_var[rv] + m * (var * (float(count) / float(count - 1u)));
    }

    float scale = gamma[arg_offset(1u) + c] * invstd, shift = beta[arg_offset(2u) + c];
    for (uint e = t; e < count; e += LOCAL_SIZE) {
        uint n = e / HW;
        uint i = (n * C + c) * HW + (e - n * HW);
        y[oy + i] = (x[ox + i] - mean) * scale + shift;
    }
}
