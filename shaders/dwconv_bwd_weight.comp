#version 450
// RT_K_DWCONV_BWD_WEIGHT: dw[c, kh, kw] (+)= sum over n, oh, ow of
// dy[n, c, oh, ow] * x[n, c, ih, iw]. Geometry: ROWS(C*KH*KW): workgroup
// g sums weight element g (c = g / (KH*KW), tap = g % (KH*KW)).
// args: 0 dy, 1 x, 2 dw; i: as IM2COL, 14 accum, 15 reserved for the
// backend (0 from callers): the first image to sum. A driver that bounds
// an invocation's loop iterations (lavapipe: 65535) gets a long sum as
// chained dispatches over images [i15, batch), each continuing in dw.
//
// Deterministic: thread t sums items k = t, t + LOCAL_SIZE, ... of the
// images' (n, oh, ow) in order, as a compensated pair, and the workgroup
// joins the pairs in a fixed order (reduce.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 2) buffer DW { float dw[]; };

void main()
{
    uint g = group_index();
    uint C = uint(max(p.i[1], 0)), KH = uint(max(p.i[4], 1)), KW = uint(max(p.i[5], 1));
    if (g >= C * KH * KW) // uniform over the workgroup: no barrier is skipped by part of it
        return;
    uint batch = uint(max(p.i[0], 0)), n0 = uint(max(p.i[15], 0));
    uint H = uint(p.i[2]), W = uint(p.i[3]), OH = uint(p.i[12]), OW = uint(p.i[13]);
    uint c = g / (KH * KW), tap = g % (KH * KW);
    int offh = int(tap / KW) * p.i[10] - p.i[8], offw = int(tap % KW) * p.i[11] - p.i[9];
    uint ohw = OH * OW;
    uint t = gl_LocalInvocationID.x;
    float hi = 0.0, lo = 0.0;
    if (n0 < batch && ohw > 0u) {
        uint total = (batch - n0) * ohw;
        for (uint k = t; k < total; k += LOCAL_SIZE) {
            uint n = n0 + k / ohw, j = k % ohw;
            int ih = int(j / OW) * p.i[6] + offh, iw = int(j % OW) * p.i[7] + offw;
            if (ih >= 0 && ih < int(H) && iw >= 0 && iw < int(W)) {
                uint plane = n * C + c;
                float xv = x[arg_offset(1u) + (plane * H + uint(ih)) * W + uint(iw)];
                sum_add(hi, lo, dy[arg_offset(0u) + plane * ohw + j] * xv);
            }
        }
    }
    group_sum_pair(hi, lo);
    if (t == 0u) {
        uint d = arg_offset(2u) + g;
        if (p.i[14] != 0)
            pair_add(hi, lo, dw[d], 0.0);
        dw[d] = pair_value(hi, lo);
    }
}
