#version 450
// RT_K_UNPACK_F16 with 16-bit storage: reads halves directly (exact).
// Geometry: ITEMS((count+1)/2).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float16_t src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };

void main()
{
    uint w = item_index();
    uint count = uint(p.i[0]);
    if (w >= (count + 1u) / 2u)
        return;
    uint s = 2u * (arg_offset(0u) + w), d = arg_offset(1u) + 2u * w;
    dst[d] = float(src[s]);
    if (2u * w + 1u < count)
        dst[d + 1u] = float(src[s + 1u]);
}
