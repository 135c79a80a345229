#version 450
// RT_K_ATTN_FWD: out_i = softmax(scale * q_i K^T) V per head, and
// lse_i = log of the softmax denominator, the softmax taken online over
// the keys in order (the running maximum subtracted, the sums rescaled
// when it grows). Every thread of a row repeats the row's scores (the
// same bits), keeps one output element and the thread of element 0
// writes lse. Geometry: attention.glsl, T = Tq.
// args: 0 q, 1 k, 2 v, 3 out, 4 lse.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "attention.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 2) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Out { float out_buf[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Lse { float lse[]; };

void main()
{
    uint t = item_index(), D = attn_d(), H = attn_heads(), Tq = attn_tq(), Tk = attn_tk();
    uint rows = attn_batch() * H * Tq;
    if (t >= rows * D)
        return;
    uint r = t / D, d = t - r * D;
    uint i = r % Tq, h = (r / Tq) % H, b = r / (Tq * H);
    uint oq = arg_offset(0u) + attn_at(b, i, Tq, h), ok = arg_offset(1u), ov = arg_offset(2u);
    float m = -1.0 / 0.0, l = 0.0, acc = 0.0;
    for (uint j = 0u; j < attn_key_end(i); j++) {
        uint kj = ok + attn_at(b, j, Tk, h);
        vec4 lanes = vec4(0.0);
        for (uint e = 0u; e < D; e += 4u)
            ATTN_DOT_STEP(lanes, q, oq, k, kj, e, D)
        float s = attn_scale() * attn_join(lanes);
        if (s > m) {
            float c = exp(m - s);
            l *= c;
            acc *= c;
            m = s;
        }
        float pj = exp(s - m);
        l += pj;
        acc += pj * v[ov + attn_at(b, j, Tk, h) + d];
    }
    out_buf[arg_offset(3u) + attn_at(b, i, Tq, h) + d] = acc / l;
    if (d == 0u)
        lse[arg_offset(4u) + r] = m + log(l);
}
