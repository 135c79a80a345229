#version 450
// RT_K_SOFTMAX_CE_BWD: dlogits (+)= (p - q) / M (M = i[3] if > 0, else N) with
// q = (1-s) onehot(label) + s/C; a row whose label is outside [0, C)
// gets no gradient (zeros, or left as is when accumulating).
// Geometry: ITEMS(N*C).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Probs { float probs[]; };
layout(std430, set = 0, binding = 1) readonly buffer Labels { int labels[]; };
layout(std430, set = 0, binding = 2) buffer Dlogits { float dlogits[]; };

void main()
{
    uint idx = item_index();
    uint N = uint(p.i[0]), C = uint(p.i[1]);
    if (idx >= N * C)
        return;
    uint r = idx / C, c = idx - r * C;
    bool acc = p.i[2] != 0;
    uint o = arg_offset(2u) + idx;
    int label = labels[arg_offset(1u) + r];
    if (label < 0 || label >= int(C)) {
        if (!acc)
            dlogits[o] = 0.0;
        return;
    }
    float smoothing = p.f[0];
    float inv_n = 1.0 / float(p.i[3] > 0 ? uint(p.i[3]) : N);
    float v = (probs[arg_offset(0u) + idx] - smoothing / float(C)) * inv_n;
    if (acc)
        v += dlogits[o];
    if (c == uint(label))
        v -= (1.0 - smoothing) * inv_n;
    dlogits[o] = v;
}
