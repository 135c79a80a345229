#version 450
// RT_K_ADAMW: torch.optim.AdamW (amsgrad off), g = grad * clip as SGD:
//   p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// lr, bc1 = 1 - b1^t, bc2 = 1 - b2^t come from the scalars.
// Geometry: ITEMS(count).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) buffer Param { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer Grad { float grad[]; };
layout(std430, set = 0, binding = 2) buffer M { float m[]; };
layout(std430, set = 0, binding = 3) buffer V { float v[]; };
layout(std430, set = 0, binding = 4) readonly buffer Scalars { uint sc[]; };

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    uint os = arg_offset(4u);
    float lr = uintBitsToFloat(sc[os + SC_LR]);
    float clip = p.i[1] != 0 ? uintBitsToFloat(sc[os + SC_CLIP_SCALE]) : 1.0;
    float b1 = p.f[0], b2 = p.f[1], eps = p.f[2], wd = p.f[3];
    float decay = fma(-lr, wd, 1.0); // 1 - lr*wd, rounded once
    float step_size = lr / uintBitsToFloat(sc[os + SC_BIAS_CORR1]);
    float sqrt_bc2 = sqrt(uintBitsToFloat(sc[os + SC_BIAS_CORR2]));

    float g = grad[arg_offset(1u) + idx] * clip;
    uint om = arg_offset(2u) + idx, ov = arg_offset(3u) + idx, op = arg_offset(0u) + idx;
    float mi = b1 * m[om] + (1.0 - b1) * g;
    float vi = b2 * v[ov] + (1.0 - b2) * g * g;
    m[om] = mi;
    v[ov] = vi;
    param[op] = param[op] * decay - step_size * (mi / (sqrt(vi) / sqrt_bc2 + eps));
}
