#version 450
// RT_K_LN_FWD: layer norm over the last dimension D of x [rows, D]:
// y = (x - mean) * rstd * gamma + beta; save_mean, save_rstd per row.
// Geometry: ROWS(rows): one workgroup per row; mean, then squared
// deviations (two passes, as the CPU), each a compensated per-thread
// partial sum joined in a fixed order (reduce.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer SaveMean { float save_mean[]; };
layout(std430, set = 0, binding = 5) writeonly buffer SaveRstd { float save_rstd[]; };

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
        sum_add(s, serr, x[ox + i]);
    float mean = group_sum(s, serr) / float(D);

    s = 0.0;
    serr = 0.0;
    for (uint i = t; i < D; i += LOCAL_SIZE) {
        float d = x[ox + i] - mean;
        sum_add(s, serr, d * d);
    }
    float rstd = 1.0 / sqrt(group_sum(s, serr) / float(D) + p.f[0]);

    if (t == 0u) {
        save_mean[arg_offset(4u) + r] = mean;
        save_rstd[arg_offset(5u) + r] = rstd;
    }
    for (uint i = t; i < D; i += LOCAL_SIZE)
        y[oy + i] = (x[ox + i] - mean) * rstd * gamma[og + i] + beta[ob + i];
}
