#version 450
// RT_K_WINO_OUTPUT: y[batch, K, OH, OW] = A^T M A (+ bias[K]) of every
// tile of M[16, K, P], the parts of edge tiles outside [OH, OW] dropped.
// Geometry: ITEMS(batch*K*TH*TW), one thread per tile (as WINO_INPUT).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"

layout(std430, set = 0, binding = 0) readonly buffer M { float m[]; };
layout(std430, set = 0, binding = 1) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), K = uint(p.i[1]), OH = uint(p.i[2]), OW = uint(p.i[3]);
    uint TH = wino_tiles(p.i[2]), TW = wino_tiles(p.i[3]), P = batch * TH * TW;
    if (idx >= batch * K * TH * TW)
        return;
    uint tw = idx % TW, th = (idx / TW) % TH, plane = idx / (TW * TH);
    uint b = plane / K, k = plane % K;
    uint src = arg_offset(0u) + k * P + (b * TH + th) * TW + tw;
    vec2 r[4]; // r[q]: column q of A^T M
    for (uint q = 0u; q < 4u; q++)
        r[q] = wino_at4(vec4(m[src + q * K * P], m[src + (4u + q) * K * P], m[src + (8u + q) * K * P],
                             m[src + (12u + q) * K * P]));
    bool has_bias = arg_present(1u);
    for (uint i = 0u; i < 2u; i++) {
        vec2 o = wino_at4(vec4(r[0][i], r[1][i], r[2][i], r[3][i]));
        if (has_bias)
            o += vec2(bias[arg_offset(1u) + k]);
        for (uint e = 0u; e < 2u; e++) {
            uint oh = 2u * th + i, ow = 2u * tw + e;
            if (oh < OH && ow < OW)
                y[arg_offset(2u) + (plane * OH + oh) * OW + ow] = o[e];
        }
    }
}
