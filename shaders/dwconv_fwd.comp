#version 450
// RT_K_DWCONV_FWD: direct depthwise convolution, plane (n, c) of x with
// filter c. Geometry: ITEMS(batch*C*OH*OW), one thread per output
// element (index = row-major position in y).
// args: 0 x, 1 w [C, KH, KW], 2 bias (optional), 3 y; i: as IM2COL.
// The sum starts from the bias and adds w * x of every tap in order (kh,
// then kw), x = 0 outside the image, like the CPU; `precise` keeps the
// compiler from fusing the multiply-adds, so the results match its bits.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]), H = uint(p.i[2]), W = uint(p.i[3]);
    uint KH = uint(p.i[4]), KW = uint(p.i[5]);
    uint OH = uint(p.i[12]), OW = uint(p.i[13]);
    if (idx >= batch * C * OH * OW)
        return;
    uint ow = idx % OW;
    uint r = idx / OW;
    uint oh = r % OH;
    uint plane = r / OH; // n*C + c
    uint c = plane % C;
    int ih0 = int(oh) * p.i[6] - p.i[8], iw0 = int(ow) * p.i[7] - p.i[9];
    uint xb = arg_offset(0u) + plane * H * W, wb = arg_offset(1u) + c * KH * KW;
    precise float acc = arg_present(2u) ? bias[arg_offset(2u) + c] : 0.0;
    for (uint kh = 0u; kh < KH; kh++) {
        int ih = ih0 + int(kh) * p.i[10];
        bool row_inside = ih >= 0 && ih < int(H);
        for (uint kw = 0u; kw < KW; kw++) {
            int iw = iw0 + int(kw) * p.i[11];
            float xv = 0.0;
            if (row_inside && iw >= 0 && iw < int(W))
                xv = x[xb + uint(ih) * W + uint(iw)];
            acc += w[wb + kh * KW + kw] * xv;
        }
    }
    y[arg_offset(3u) + idx] = acc;
}
