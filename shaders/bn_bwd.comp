#version 450
// RT_K_BN_BWD: backward of BN_TRAIN_FWD over x, dy [N, C, HW].
// Geometry: ROWS(C): one workgroup per channel. With xhat = (x - mean) *
// invstd over the channel's n = N*HW values:
//   dbeta = sum dy, dgamma = invstd * sum dy (x - mean),
//   dx = k (dy - sum dy / n) - k invstd^2 sum dy (x - mean) / n, k = gamma invstd.
// Both sums come from compensated per-thread partials joined in a fixed
// order (reduce.glsl). dx, dgamma, dbeta are each skipped
// when absent; accum_dx / accum_dparams add instead of writing.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 3) readonly buffer SaveMean { float save_mean[]; };
layout(std430, set = 0, binding = 4) readonly buffer SaveInvstd { float save_invstd[]; };
layout(std430, set = 0, binding = 5) buffer Dx { float dx[]; };
layout(std430, set = 0, binding = 6) buffer Dgamma { float dgamma[]; };
layout(std430, set = 0, binding = 7) buffer Dbeta { float dbeta[]; };

void main()
{
    uint c = group_index();
    uint N = uint(p.i[0]), C = uint(p.i[1]), HW = uint(p.i[2]);
    bool has_dx = arg_present(5u), has_dg = arg_present(6u), has_db = arg_present(7u);
    if (c >= C || !(has_dx || has_dg || has_db))
        return;
    uint t = gl_LocalInvocationID.x;
    uint count = N * HW;
    uint ox = arg_offset(0u), ody = arg_offset(1u);
    float mean = save_mean[arg_offset(3u) + c];
    float invstd = save_invstd[arg_offset(4u) + c];

    // (sum dy, sum dy * (x - mean))
    vec2 s = vec2(0.0), serr = vec2(0.0);
    for (uint e = t; e < count; e += LOCAL_SIZE) {
        uint n = e / HW;
        uint i = (n * C + c) * HW + (e - n * HW);
        float g = dy[ody + i];
        sum_add(s, serr, vec2(g, g * (x[ox + i] - mean)));
    }
    vec2 sums = group_sum(s, serr);
    float sum_dy = sums.x, sum_dy_xmu = sums.y;

    if (t == 0u) {
        bool acc = p.i[4] != 0;
        if (has_dg) {
            uint o = arg_offset(6u) + c;
            float v = sum_dy_xmu * invstd;
            dgamma[o] = acc ? dgamma[o] + v : v;
        }
        if (has_db) {
            uint o = arg_offset(7u) + c;
            dbeta[o] = acc ? dbeta[o] + sum_dy : sum_dy;
        }
    }
    if (!has_dx)
        return;

    float fcount = float(count);
    float k = gamma[arg_offset(2u) + c] * invstd;
    float mean_dy = sum_dy / fcount;
    float k_x = k * invstd * invstd * sum_dy_xmu / fcount;
    bool acc_dx = p.i[3] != 0;
    uint odx = arg_offset(5u);
    for (uint e = t; e < count; e += LOCAL_SIZE) {
        uint n = e / HW;
        uint i = (n * C + c) * HW + (e - n * HW);
        float v = k * (dy[ody + i] - mean_dy) - k_x * (x[ox + i] - mean);
        dx[odx + i] = acc_dx ? dx[odx + i] + v : v;
    }
}
