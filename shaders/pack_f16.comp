#version 450
// RT_K_PACK_F16: two floats per word as IEEE halves (element 2k in the
// low half). Geometry: ITEMS((count+1)/2), one thread per word.
// packHalf2x16 is core GLSL: no 16-bit storage feature needed.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { uint dst[]; };

void main()
{
    uint w = item_index();
    uint count = uint(p.i[0]);
    if (w >= (count + 1u) / 2u)
        return;
    uint s = arg_offset(0u) + 2u * w;
    float hi = 2u * w + 1u < count ? src[s + 1u] : 0.0;
    dst[arg_offset(1u) + w] = packHalf2x16(vec2(src[s], hi));
}
