#version 450
// RT_K_AVGPOOL_BWD: dx (+)= sum over the windows containing the element
// of dy / divisor (divisor as AVGPOOL_FWD), added in output order as the
// CPU backend does. Geometry: ITEMS(planes*H*W), one thread per dx
// element gathering over the windows that contain it.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 1) buffer Dx { float dx[]; };

// Outputs o whose window [o*S - P, o*S - P + K) contains i: [lo, hi].
void covering(int i, int K, int S, int P, int O, out int lo, out int hi)
{
    int n = i + P; // o*S <= n and o*S > n - K
    hi = min(n / S, O - 1);
    int m = n - K + 1;
    lo = m <= 0 ? 0 : (m + S - 1) / S;
}

// Divisor of the window starting at s (one dimension), size n, padding P.
int extent(int s, int K, int P, int n, bool include_pad)
{
    int e = min(s + K, n + P);
    return include_pad ? e - s : min(e, n) - max(s, 0);
}

void main()
{
    uint idx = item_index();
    uint planes = uint(p.i[0]), H = uint(p.i[1]), W = uint(p.i[2]);
    if (idx >= planes * H * W)
        return;
    int KH = p.i[3], KW = p.i[4], SH = p.i[5], SW = p.i[6], PH = p.i[7], PW = p.i[8];
    int OH = p.i[9], OW = p.i[10];
    bool include_pad = p.i[11] != 0;
    uint iw = idx % W;
    uint ih = (idx / W) % H;
    uint plane = idx / (W * H);
    uint d = arg_offset(1u) + idx;
    float acc = p.i[12] != 0 ? dx[d] : 0.0;
    int oh0, oh1, ow0, ow1;
    covering(int(ih), KH, SH, PH, OH, oh0, oh1);
    covering(int(iw), KW, SW, PW, OW, ow0, ow1);
    uint yoff = arg_offset(0u) + plane * uint(OH) * uint(OW);
    for (int oh = oh0; oh <= oh1; oh++) {
        int eh = extent(oh * SH - PH, KH, PH, int(H), include_pad);
        for (int ow = ow0; ow <= ow1; ow++) {
            int ew = extent(ow * SW - PW, KW, PW, int(W), include_pad);
            acc += dy[yoff + uint(oh * OW + ow)] / float(eh * ew);
        }
    }
    dx[d] = acc;
}
