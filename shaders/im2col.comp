#version 450
// RT_K_IM2COL: unfold x [batch, C, H, W] into col; per image the column
// matrix is [C*KH*KW, OH*OW], row (c*KH + kh)*KW + kw, zero outside the
// image. Geometry: ITEMS(batch*C*KH*KW*OH*OW), one thread per column
// element (index = row-major position in col).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Col { float col[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]), H = uint(p.i[2]), W = uint(p.i[3]);
    uint KH = uint(p.i[4]), KW = uint(p.i[5]);
    uint OH = uint(p.i[12]), OW = uint(p.i[13]);
    if (idx >= batch * C * KH * KW * OH * OW)
        return;
    uint r = idx;
    uint ow = r % OW;
    r /= OW;
    uint oh = r % OH;
    r /= OH;
    uint kw = r % KW;
    r /= KW;
    uint kh = r % KH;
    uint plane = r / KH; // b*C + c
    int ih = int(oh) * p.i[6] - p.i[8] + int(kh) * p.i[10];
    int iw = int(ow) * p.i[7] - p.i[9] + int(kw) * p.i[11];
    float v = 0.0;
    if (ih >= 0 && ih < int(H) && iw >= 0 && iw < int(W))
        v = x[arg_offset(0u) + (plane * H + uint(ih)) * W + uint(iw)];
    col[arg_offset(1u) + idx] = v;
}
