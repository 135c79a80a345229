#version 450
// RT_K_AVGPOOL_FWD: PyTorch avg_pool2d. The sum runs in row-major window
// order; the divisor is the window clipped to the padded input
// (count_include_pad) or to the input. A window wholly outside the input
// yields 0. Geometry: ITEMS(planes*OH*OW), one thread per output element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

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
    int he = min(hs + p.i[3], H + p.i[7]), we = min(ws + p.i[4], W + p.i[8]);
    int h0 = max(hs, 0), h1 = min(he, H), w0 = max(ws, 0), w1 = min(we, W);
    float r = 0.0;
    if (h0 < h1 && w0 < w1) {
        uint xoff = arg_offset(0u) + plane * uint(H) * uint(W);
        float sum = 0.0;
        for (int h = h0; h < h1; h++)
            for (int c = w0; c < w1; c++)
                sum += x[xoff + uint(h * W + c)];
        int divisor = p.i[11] != 0 ? (he - hs) * (we - ws) : (h1 - h0) * (w1 - w0);
        r = sum / float(divisor);
    }
    y[arg_offset(1u) + idx] = r;
}
