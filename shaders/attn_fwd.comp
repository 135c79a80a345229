#version 450
// RT_K_ATTN_FWD: out_i = softmax(scale * q_i K^T) V per head, and
// lse_i = log of the softmax denominator, the softmax taken online over
// the keys in order, ATTN_BLOCK at a time (the running maximum
// subtracted, the sums rescaled when a block raises it). Every thread of a row repeats the row's scores (the
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
    float scores[ATTN_BLOCK];
    uint key_end = attn_key_end(i);
    for (uint j0 = 0u; j0 < key_end; j0 += ATTN_BLOCK) {
        uint len = min(ATTN_BLOCK, key_end - j0);
        float top = m;
        for (uint n = 0u; n < len; n++) {
            uint kj = ok + attn_at(b, j0 + n, Tk, h);
            vec4 lanes = vec4(0.0);
            for (uint e = 0u; e < D; e += 4u)
                ATTN_DOT_STEP(lanes, q, oq, k, kj, e, D)
            scores[n] = attn_scale() * attn_join(lanes);
            top = scores[n] > top ? scores[n] : top;
        }
        if (top > m) { // a new maximum: rescale what was summed so far
            float c = exp_approx(m - top);
            l *= c;
            acc *= c;
            m = top;
        }
        for (uint n = 0u; n < len; n++) {
            float pn = exp_approx(scores[n] - m);
            l += pn;
            acc += pn * v[ov + attn_at(b, j0 + n, Tk, h) + d];
        }
    }
    out_buf[arg_offset(3u) + attn_at(b, i, Tq, h) + d] = acc / l;
    if (d == 0u)
        lse[arg_offset(4u) + r] = m + log(l);
}
