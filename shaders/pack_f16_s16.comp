#version 450
// RT_K_PACK_F16 where the device has 16-bit storage (storageBuffer16BitAccess):
// writes halves directly, one thread per element pair as pack_f16.comp, with
// the same layout (element i is half i of the buffer, little-endian words).
// Geometry: ITEMS((count+1)/2).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float16_t dst[]; };

void main()
{
    uint w = item_index();
    uint count = uint(p.i[0]);
    if (w >= (count + 1u) / 2u)
        return;
    uint s = arg_offset(0u) + 2u * w, d = 2u * (arg_offset(1u) + w);
    dst[d] = float16_t(src[s]);
    dst[d + 1u] = float16_t(2u * w + 1u < count ? src[s + 1u] : 0.0);
}
