#version 450
// RT_K_WINO_INPUT: V[16, C, P] = B^T d B of every 4x4 input tile of
// x[batch, C, H, W] (zero outside the image). Geometry:
// ITEMS(batch*C*TH*TW), one thread per tile (index = (plane*TH + th)*TW
// + tw, plane = b*C + c).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer V { float v[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]);
    int H = p.i[2], W = p.i[3], PH = p.i[4], PW = p.i[5];
    uint TH = wino_tiles(p.i[6]), TW = wino_tiles(p.i[7]), P = batch * TH * TW;
    if (idx >= batch * C * TH * TW)
        return;
    uint tw = idx % TW, th = (idx / TW) % TH, plane = idx / (TW * TH);
    uint b = plane / C, c = plane % C;
    vec4 t[4]; // t[q]: column q of B^T d
    for (uint q = 0u; q < 4u; q++) {
        vec4 col;
        for (uint r = 0u; r < 4u; r++) {
            int ih = 2 * int(th) - PH + int(r), iw = 2 * int(tw) - PW + int(q);
            col[r] = 0.0;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                col[r] = x[arg_offset(0u) + (plane * uint(H) + uint(ih)) * uint(W) + uint(iw)];
        }
        t[q] = wino_bt4(col);
    }
    uint dst = arg_offset(1u) + c * P + (b * TH + th) * TW + tw;
    for (uint i = 0u; i < 4u; i++) {
        vec4 row = wino_bt4(vec4(t[0][i], t[1][i], t[2][i], t[3][i]));
        for (uint j = 0u; j < 4u; j++)
            v[dst + (4u * i + j) * C * P] = row[j];
    }
}
