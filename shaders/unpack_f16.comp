#version 450
// RT_K_UNPACK_F16: the inverse of pack_f16 (exact). Geometry:
// ITEMS((count+1)/2), one thread per word.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };

void main()
{
    uint w = item_index();
    uint count = uint(p.i[0]);
    if (w >= (count + 1u) / 2u)
        return;
    vec2 v = unpackHalf2x16(src[arg_offset(0u) + w]);
    uint d = arg_offset(1u) + 2u * w;
    dst[d] = v.x;
    if (2u * w + 1u < count)
        dst[d + 1u] = v.y;
}
