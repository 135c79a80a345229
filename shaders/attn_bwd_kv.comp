#version 450
// RT_K_ATTN_BWD_KV: for key j, summing over the queries i that see it
// in order: dv_j (+)= sum_i p_ij dout_i and
// dk_j (+)= scale * sum_i p_ij (dout_i . v_j - delta_i) q_i, with
// p_ij = exp(scale * q_i . k_j - lse_i) recomputed. Each thread owns one
// element of dk and of dv. Geometry: attention.glsl, T = Tk.
// args: 0 q, 1 k, 2 v, 3 dout, 4 lse, 5 delta, 6 dk, 7 dv (each
// optional); i: 6 accum_dk, 7 accum_dv.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "attention.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 2) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 3) readonly buffer DOut { float dout[]; };
layout(std430, set = 0, binding = 4) readonly buffer Lse { float lse[]; };
layout(std430, set = 0, binding = 5) readonly buffer Delta { float delta_buf[]; };
layout(std430, set = 0, binding = 6) buffer DK { float dk[]; };
layout(std430, set = 0, binding = 7) buffer DV { float dv[]; };

void main()
{
    uint t = item_index(), D = attn_d(), H = attn_heads(), Tq = attn_tq(), Tk = attn_tk();
    uint rows = attn_batch() * H * Tk;
    if (t >= rows * D)
        return;
    uint r = t / D, d = t - r * D;
    uint j = r % Tk, h = (r / Tk) % H, b = r / (Tk * H);
    uint row = attn_at(b, j, Tk, h);
    uint okj = arg_offset(1u) + row, ovj = arg_offset(2u) + row;
    float acc_k = 0.0, acc_v = 0.0;
    for (uint i = attn_causal() ? j : 0u; i < Tq; i++) {
        uint qrow = attn_at(b, i, Tq, h), stat = (b * H + h) * Tq + i;
        uint oq = arg_offset(0u) + qrow, odo = arg_offset(3u) + qrow;
        vec4 s = vec4(0.0), dp = vec4(0.0);
        for (uint e = 0u; e < D; e += 4u) {
            ATTN_DOT_STEP(s, q, oq, k, okj, e, D)
            ATTN_DOT_STEP(dp, dout, odo, v, ovj, e, D)
        }
        float pij = exp_approx(attn_scale() * attn_join(s) - lse[arg_offset(4u) + stat]);
        float ds = pij * (attn_join(dp) - delta_buf[arg_offset(5u) + stat]);
        acc_v += pij * dout[odo + d];
        acc_k += ds * q[oq + d];
    }
    if (arg_present(6u)) {
        uint o = arg_offset(6u) + row + d;
        dk[o] = p.i[6] != 0 ? dk[o] + attn_scale() * acc_k : attn_scale() * acc_k;
    }
    if (arg_present(7u)) {
        uint o = arg_offset(7u) + row + d;
        dv[o] = p.i[7] != 0 ? dv[o] + acc_v : acc_v;
    }
}
