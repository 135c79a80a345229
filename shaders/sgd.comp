#version 450
// RT_K_SGD: torch.optim.SGD on count elements, g = grad * clip (clip =
// scalars[CLIP_SCALE] if use_clip else 1):
//   g += wd * p
//   if has_momentum: buf = (t == 1) ? g : momentum*buf + (1-dampening)*g
//                    g = nesterov ? g + momentum*buf : buf
//   p -= lr * g
// lr and t come from the scalars. Geometry: ITEMS(count).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) buffer Param { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer Grad { float grad[]; };
layout(std430, set = 0, binding = 2) buffer MomentumBuf { float buf[]; };
layout(std430, set = 0, binding = 3) readonly buffer Scalars { uint sc[]; };

void main()
{
    uint idx = item_index();
    if (idx >= uint(p.i[0]))
        return;
    uint os = arg_offset(3u);
    float lr = uintBitsToFloat(sc[os + SC_LR]);
    float clip = p.i[3] != 0 ? uintBitsToFloat(sc[os + SC_CLIP_SCALE]) : 1.0;
    float mom = p.f[0], wd = p.f[2];
    uint op = arg_offset(0u) + idx;
    float pv = param[op];
    float g = grad[arg_offset(1u) + idx] * clip + wd * pv;
    if (p.i[1] != 0) {
        uint ob = arg_offset(2u) + idx;
        float b = sc[os + SC_STEP] == 1u ? g : mom * buf[ob] + (1.0 - p.f[1]) * g;
        buf[ob] = b;
        g = p.i[2] != 0 ? g + mom * b : b;
    }
    param[op] = pv - lr * g;
}
