#version 450
// RT_K_MAXPOOL_BWD: dx (+)= scatter of dy to argmax, as a gather. Geometry:
// ITEMS(planes*H*W), one thread per dx element, which adds the dy of every
// window containing it whose argmax names it, in output order (as the
// CPU backend adds them). Windows with argmax -1 / 255 (wholly outside)
// add nothing. An argmax that names an element outside its own window
// (never produced by MAXPOOL_FWD) is not followed.
// argmax_format (i[12]) 0: int32 index in the plane; 1: byte index in
// the window, output o in bits 8*(o%4) of word o/4.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Argmax { int argmax[]; };
layout(std430, set = 0, binding = 2) buffer Dx { float dx[]; };

// Outputs o whose window [o*S - P, o*S - P + K) contains i: [lo, hi].
void covering(int i, int K, int S, int P, int O, out int lo, out int hi)
{
    int n = i + P; // o*S <= n and o*S > n - K
    hi = min(n / S, O - 1);
    int m = n - K + 1;
    lo = m <= 0 ? 0 : (m + S - 1) / S;
}

void main()
{
    uint idx = item_index();
    uint planes = uint(p.i[0]), H = uint(p.i[1]), W = uint(p.i[2]);
    if (idx >= planes * H * W)
        return;
    int OH = p.i[9], OW = p.i[10], KW = p.i[4];
    uint iw = idx % W;
    uint ih = (idx / W) % H;
    uint plane = idx / (W * H);
    int self = int(ih * W + iw);
    bool bytes = p.i[12] != 0;
    uint d = arg_offset(2u) + idx;
    float acc = p.i[11] != 0 ? dx[d] : 0.0;
    int oh0, oh1, ow0, ow1;
    covering(int(ih), p.i[3], p.i[5], p.i[7], OH, oh0, oh1);
    covering(int(iw), KW, p.i[6], p.i[8], OW, ow0, ow1);
    uint base = plane * uint(OH) * uint(OW);
    uint aoff = arg_offset(1u), yoff = arg_offset(0u) + base;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            uint o = uint(oh * OW + ow);
            bool mine;
            if (bytes) { // my index in window o, from its padded origin
                uint b = base + o;
                uint at = (uint(argmax[aoff + (b >> 2u)]) >> (8u * (b & 3u))) & 255u;
                int rel = (int(ih) - (oh * p.i[5] - p.i[7])) * KW + (int(iw) - (ow * p.i[6] - p.i[8]));
                mine = int(at) == rel;
            } else {
                mine = argmax[aoff + base + o] == self;
            }
            if (mine)
                acc += dy[yoff + o];
        }
    dx[d] = acc;
}
