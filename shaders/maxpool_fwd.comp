#version 450
// RT_K_MAXPOOL_FWD: PyTorch max_pool2d. Padding never wins, the first max
// in row-major window order wins, a NaN wins (the last NaN, as the CPU
// backend's branch-free scan). A window wholly outside the plane yields
// y = 0, argmax = -1. argmax is the index inside the plane (int32).
// Geometry: ITEMS(planes*OH*OW), one thread per output element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Argmax { int argmax[]; };

void main()
{
    uint idx = item_index();
    uint planes = uint(p.i[0]), OH = uint(p.i[9]), OW = uint(p.i[10]);
    if (idx >= planes * OH * OW)
        return;
    int H = p.i[1], W = p.i[2];
    uint ow = idx % OW;
    uint oh = (idx / OW) % OH;
    uint plane = idx / (OW * OH);
    int hs = int(oh) * p.i[5] - p.i[7], ws = int(ow) * p.i[6] - p.i[8];
    int h0 = max(hs, 0), h1 = min(hs + p.i[3], H);
    int w0 = max(ws, 0), w1 = min(ws + p.i[4], W);
    float best = 0.0;
    int best_at = -1;
    if (h0 < h1 && w0 < w1) {
        uint xoff = arg_offset(0u) + plane * uint(H) * uint(W);
        best = uintBitsToFloat(0xff800000u); // -inf
        best_at = h0 * W + w0;
        for (int h = h0; h < h1; h++)
            for (int c = w0; c < w1; c++) {
                float v = x[xoff + uint(h * W + c)];
                if (v > best || isnan(v)) {
                    best = v;
                    best_at = h * W + c;
                }
            }
    }
    y[arg_offset(1u) + idx] = best;
    argmax[arg_offset(2u) + idx] = best_at;
}
