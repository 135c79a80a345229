#version 450
// RT_K_DWCONV_BWD_INPUT: dx (+)= the depthwise convolution's input
// gradient, as a gather. Geometry: ITEMS(batch*C*H*W), one thread per dx
// element, which adds dy * w over the taps that read it: tap (kh, kw)
// reaches it from output oh = (ih + PH - kh*DH) / SH when that divides
// exactly and lies in [0, OH), likewise ow. Terms are added in tap
// order from 0, then to the old value with accum, like the CPU
// (`precise`: no fused multiply-adds). args: 0 dy, 1 w, 2 dx; i: as
// IM2COL, 14 accum.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) buffer DX { float dx[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]), H = uint(p.i[2]), W = uint(p.i[3]);
    uint KH = uint(p.i[4]), KW = uint(p.i[5]);
    int SH = p.i[6], SW = p.i[7];
    uint OH = uint(p.i[12]), OW = uint(p.i[13]);
    if (idx >= batch * C * H * W)
        return;
    uint iw = idx % W;
    uint r = idx / W;
    uint ih = r % H;
    uint plane = r / H; // n*C + c
    uint c = plane % C;
    uint yb = arg_offset(0u) + plane * OH * OW, wb = arg_offset(1u) + c * KH * KW;
    uint d = arg_offset(2u) + idx;
    precise float acc = 0.0;
    for (uint kh = 0u; kh < KH; kh++) {
        int th = int(ih) + p.i[8] - int(kh) * p.i[10];
        if (th < 0 || th % SH != 0 || th / SH >= int(OH))
            continue;
        uint oh = uint(th / SH);
        for (uint kw = 0u; kw < KW; kw++) {
            int tw = int(iw) + p.i[9] - int(kw) * p.i[11];
            if (tw >= 0 && tw % SW == 0 && tw / SW < int(OW))
                acc += w[wb + kh * KW + kw] * dy[yb + oh * OW + uint(tw / SW)];
        }
    }
    if (p.i[14] != 0)
        acc = dx[d] + acc;
    dx[d] = acc;
}
