#version 450
// RT_K_MAXPOOL_FWD: PyTorch max_pool2d. Padding never wins, the first max
// in row-major window order wins, a NaN wins (the last NaN, as the CPU
// backend's branch-free scan). A window wholly outside the plane yields
// y = 0, argmax -1 (byte 255).
// argmax_format (i[12]) 0: int32 index inside the plane; geometry
// ITEMS(planes*OH*OW), one thread per output. 1: byte index inside the
// window, four per word; geometry ITEMS((planes*OH*OW + 3) / 4), one
// thread per word, which pools its four outputs and writes the word whole
// (unused bytes of the last word 255).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Argmax { int argmax[]; };

// Pools output idx: writes y, returns the winner's index in the plane
// (-1: none) and in the window (255: none).
void pool(uint idx, out int at_plane, out uint at_window)
{
    uint OH = uint(p.i[9]), OW = uint(p.i[10]);
    int H = p.i[1], W = p.i[2], KW = p.i[4];
    uint ow = idx % OW;
    uint oh = (idx / OW) % OH;
    uint plane = idx / (OW * OH);
    int hs = int(oh) * p.i[5] - p.i[7], ws = int(ow) * p.i[6] - p.i[8];
    int h0 = max(hs, 0), h1 = min(hs + p.i[3], H);
    int w0 = max(ws, 0), w1 = min(ws + KW, W);
    float best = 0.0;
    int best_h = -1, best_w = 0;
    if (h0 < h1 && w0 < w1) {
        uint xoff = arg_offset(0u) + plane * uint(H) * uint(W);
        best = uintBitsToFloat(0xff800000u); // -inf
        best_h = h0;
        best_w = w0;
        for (int h = h0; h < h1; h++)
            for (int c = w0; c < w1; c++) {
                float v = x[xoff + uint(h * W + c)];
                if (v > best || isnan(v)) {
                    best = v;
                    best_h = h;
                    best_w = c;
                }
            }
    }
    y[arg_offset(1u) + idx] = best;
    at_plane = best_h < 0 ? -1 : best_h * W + best_w;
    at_window = best_h < 0 ? 255u : uint((best_h - hs) * KW + (best_w - ws));
}

void main()
{
    uint idx = item_index();
    uint n = uint(p.i[0]) * uint(p.i[9]) * uint(p.i[10]);
    int at_plane;
    uint at_window;
    if (p.i[12] == 0) {
        if (idx >= n)
            return;
        pool(idx, at_plane, at_window);
        argmax[arg_offset(2u) + idx] = at_plane;
        return;
    }
    if (idx * 4u >= n)
        return;
    uint word = 0u;
    for (uint k = 0u; k < 4u; k++) {
        uint o = idx * 4u + k;
        at_window = 255u;
        if (o < n)
            pool(o, at_plane, at_window);
        word |= at_window << (8u * k);
    }
    argmax[arg_offset(2u) + idx] = int(word);
}
