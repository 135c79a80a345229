#version 450
// RT_K_COL2IM: dx (+)= col2im(col), the adjoint of IM2COL. Geometry:
// ITEMS(batch*C*H*W), one thread per dx element. Each thread gathers the
// (at most one per kernel tap) column entries that read its element, in
// tap order (kh, then kw), as the CPU backend adds them: no atomics, the
// result does not depend on scheduling.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Col { float col[]; };
layout(std430, set = 0, binding = 1) buffer Dx { float dx[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]), H = uint(p.i[2]), W = uint(p.i[3]);
    if (idx >= batch * C * H * W)
        return;
    int KH = p.i[4], KW = p.i[5], SH = p.i[6], SW = p.i[7], PH = p.i[8], PW = p.i[9];
    int DH = p.i[10], DW = p.i[11], OH = p.i[12], OW = p.i[13];
    uint iw = idx % W;
    uint ih = (idx / W) % H;
    uint plane = idx / (W * H); // b*C + c
    uint d = arg_offset(1u) + idx;
    float acc = p.i[14] != 0 ? dx[d] : 0.0;
    uint ohw = uint(OH) * uint(OW);
    uint base = arg_offset(0u) + plane * uint(KH * KW) * ohw; // this plane's column rows
    for (int kh = 0; kh < KH; kh++) {
        int nh = int(ih) + PH - kh * DH; // oh*SH for the column row feeding ih
        if (nh < 0)
            break; // decreases with kh
        if (nh % SH != 0 || nh / SH >= OH)
            continue;
        uint rowoff = uint(nh / SH) * uint(OW);
        for (int kw = 0; kw < KW; kw++) {
            int nw = int(iw) + PW - kw * DW;
            if (nw < 0)
                break;
            if (nw % SW != 0 || nw / SW >= OW)
                continue;
            acc += col[base + uint(kh * KW + kw) * ohw + rowoff + uint(nw / SW)];
        }
    }
    dx[d] = acc;
}
