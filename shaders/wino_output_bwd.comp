#version 450
// RT_K_WINO_OUTPUT_BWD: dM[16, K, P] = A dY A^T of every tile of
// dy[batch, K, OH, OW] (zero outside [OH, OW]), the adjoint of
// WINO_OUTPUT. Geometry: ITEMS(batch*K*TH*TW), one thread per tile.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer DM { float dm[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), K = uint(p.i[1]), OH = uint(p.i[2]), OW = uint(p.i[3]);
    uint TH = wino_tiles(p.i[2]), TW = wino_tiles(p.i[3]), P = batch * TH * TW;
    if (idx >= batch * K * TH * TW)
        return;
    uint tw = idx % TW, th = (idx / TW) % TH, plane = idx / (TW * TH);
    uint b = plane / K, k = plane % K;
    vec4 u[2]; // u[e]: column e of A dY
    for (uint e = 0u; e < 2u; e++) {
        vec2 col;
        for (uint i = 0u; i < 2u; i++) {
            uint oh = 2u * th + i, ow = 2u * tw + e;
            col[i] = oh < OH && ow < OW ? dy[arg_offset(0u) + (plane * OH + oh) * OW + ow] : 0.0;
        }
        u[e] = wino_a2(col);
    }
    uint dst = arg_offset(1u) + k * P + (b * TH + th) * TW + tw;
    for (uint r = 0u; r < 4u; r++) {
        vec4 row = wino_a2(vec2(u[0][r], u[1][r]));
        for (uint j = 0u; j < 4u; j++)
            dm[dst + (4u * r + j) * K * P] = row[j];
    }
}
