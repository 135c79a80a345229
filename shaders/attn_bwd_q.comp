#version 450
// RT_K_ATTN_BWD_Q: delta_i = dout_i . out_i and
// dq_i (+)= scale * sum_j p_ij (dout_i . v_j - delta_i) k_j, with
// p_ij = exp(scale * q_i . k_j - lse_i) recomputed. Each thread owns one
// element of dq; the thread of element 0 writes delta.
// Geometry: attention.glsl, T = Tq.
// args: 0 q, 1 k, 2 v, 3 out, 4 dout, 5 lse, 6 delta, 7 dq (optional);
// i: 6 accum_dq.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "attention.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 2) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 3) readonly buffer Out { float out_buf[]; };
layout(std430, set = 0, binding = 4) readonly buffer DOut { float dout[]; };
layout(std430, set = 0, binding = 5) readonly buffer Lse { float lse[]; };
layout(std430, set = 0, binding = 6) writeonly buffer Delta { float delta_buf[]; };
layout(std430, set = 0, binding = 7) buffer DQ { float dq[]; };

void main()
{
    uint t = item_index(), D = attn_d(), H = attn_heads(), Tq = attn_tq(), Tk = attn_tk();
    uint rows = attn_batch() * H * Tq;
    if (t >= rows * D)
        return;
    uint r = t / D, d = t - r * D;
    uint i = r % Tq, h = (r / Tq) % H, b = r / (Tq * H);
    uint row = attn_at(b, i, Tq, h);
    uint oq = arg_offset(0u) + row, odo = arg_offset(4u) + row, oo = arg_offset(3u) + row;
    vec4 lanes = vec4(0.0);
    for (uint e = 0u; e < D; e += 4u)
        ATTN_DOT_STEP(lanes, dout, odo, out_buf, oo, e, D)
    float delta = attn_join(lanes);
    if (d == 0u)
        delta_buf[arg_offset(6u) + r] = delta;
    if (!arg_present(7u))
        return;
    float lse_i = lse[arg_offset(5u) + r], acc = 0.0;
    for (uint j = 0u; j < attn_key_end(i); j++) {
        uint kj = arg_offset(1u) + attn_at(b, j, Tk, h), vj = arg_offset(2u) + attn_at(b, j, Tk, h);
        vec4 s = vec4(0.0), dp = vec4(0.0);
        for (uint e = 0u; e < D; e += 4u) {
            ATTN_DOT_STEP(s, q, oq, k, kj, e, D)
            ATTN_DOT_STEP(dp, dout, odo, v, vj, e, D)
        }
        float pj = exp_approx(attn_scale() * attn_join(s) - lse_i);
        acc += pj * (attn_join(dp) - delta) * k[kj + d];
    }
    uint o = arg_offset(7u) + row + d;
    dq[o] = p.i[6] != 0 ? dq[o] + attn_scale() * acc : attn_scale() * acc;
}
