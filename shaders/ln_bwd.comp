#version 450
// RT_K_LN_BWD: backward of LN_FWD over x, dy [rows, D].
// Geometry: ROWS(rows + ceil(D / LOCAL_SIZE)).
//  - Workgroups 0..rows-1 each compute dx of one row (skipped when dx is
//    absent): with g = dy * gamma and xhat = (x - mean) * rstd,
//      dx = rstd (g - mean(g) - (x - mean) * rstd^2 mean(g (x - mean))),
//    the two row sums taken as compensated per-thread partials joined in
//    a fixed order (reduce.glsl).
//  - The remaining workgroups compute the parameter gradients, one
//    thread per column adding the rows in order (compensated):
//      dgamma = sum_rows dy * xhat, dbeta = sum_rows dy.
// dx, dgamma, dbeta are each skipped when absent; accum_dx /
// accum_dparams add instead of writing.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 3) readonly buffer SaveMean { float save_mean[]; };
layout(std430, set = 0, binding = 4) readonly buffer SaveRstd { float save_rstd[]; };
layout(std430, set = 0, binding = 5) buffer Dx { float dx[]; };
layout(std430, set = 0, binding = 6) buffer Dgamma { float dgamma[]; };
layout(std430, set = 0, binding = 7) buffer Dbeta { float dbeta[]; };

void row_dx(uint r, uint D)
{
    uint t = gl_LocalInvocationID.x;
    uint ox = arg_offset(0u) + r * D, ody = arg_offset(1u) + r * D, odx = arg_offset(5u) + r * D;
    uint og = arg_offset(2u);
    float mean = save_mean[arg_offset(3u) + r], rstd = save_rstd[arg_offset(4u) + r];

    // (sum g, sum g * (x - mean))
    vec2 s = vec2(0.0), serr = vec2(0.0);
    for (uint i = t; i < D; i += LOCAL_SIZE) {
        float g = dy[ody + i] * gamma[og + i];
        sum_add(s, serr, vec2(g, g * (x[ox + i] - mean)));
    }
    vec2 sums = group_sum(s, serr);
    float mean_g = sums.x / float(D);
    float k = sums.y * rstd * rstd / float(D);
    bool acc = p.i[2] != 0;
    for (uint i = t; i < D; i += LOCAL_SIZE) {
        float v = rstd * (dy[ody + i] * gamma[og + i] - mean_g - (x[ox + i] - mean) * k);
        dx[odx + i] = acc ? dx[odx + i] + v : v;
    }
}

void column_params(uint col, uint rows, uint D, bool has_dg, bool has_db)
{
    uint ox = arg_offset(0u), ody = arg_offset(1u);
    uint om = arg_offset(3u), ors = arg_offset(4u);
    // (sum dy * xhat, sum dy)
    vec2 s = vec2(0.0), serr = vec2(0.0);
    for (uint r = 0u; r < rows; r++) {
        uint i = r * D + col;
        float g = dy[ody + i];
        sum_add(s, serr, vec2(g * ((x[ox + i] - save_mean[om + r]) * save_rstd[ors + r]), g));
    }
    vec2 v = pair_value(s, serr);
    bool acc = p.i[3] != 0;
    if (has_dg) {
        uint o = arg_offset(6u) + col;
        dgamma[o] = acc ? dgamma[o] + v.x : v.x;
    }
    if (has_db) {
        uint o = arg_offset(7u) + col;
        dbeta[o] = acc ? dbeta[o] + v.y : v.y;
    }
}

void main()
{
    uint g = group_index();
    uint rows = uint(p.i[0]), D = uint(p.i[1]);
    if (g < rows) {
        if (arg_present(5u))
            row_dx(g, D);
        return;
    }
    bool has_dg = arg_present(6u), has_db = arg_present(7u);
    uint col = (g - rows) * LOCAL_SIZE + gl_LocalInvocationID.x;
    if (col < D && (has_dg || has_db))
        column_params(col, rows, D, has_dg, has_db);
}
