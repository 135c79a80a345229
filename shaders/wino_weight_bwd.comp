#version 450
// RT_K_WINO_WEIGHT_BWD: dw[K, C, 3, 3] (+)= G^T dU G, the adjoint of
// WINO_WEIGHT. Geometry: ITEMS(K*C), one thread per filter.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DU { float du[]; };
layout(std430, set = 0, binding = 1) buffer DW { float dw[]; };

// G^T applied to v[0..3].
vec3 gt4(vec4 v)
{
    return vec3(v[0] + (v[1] + v[2]) * 0.5, (v[1] - v[2]) * 0.5, (v[1] + v[2]) * 0.5 + v[3]);
}

void main()
{
    uint kc = item_index(), pairs = uint(p.i[0]) * uint(p.i[1]);
    if (kc >= pairs)
        return;
    uint src = arg_offset(0u) + kc;
    vec3 t[4]; // t[q][a]: row a of G^T dU, column q
    for (uint q = 0u; q < 4u; q++)
        t[q] = gt4(vec4(du[src + q * pairs], du[src + (4u + q) * pairs], du[src + (8u + q) * pairs],
                        du[src + (12u + q) * pairs]));
    uint dst = arg_offset(1u) + kc * 9u;
    for (uint a = 0u; a < 3u; a++) {
        vec3 row = gt4(vec4(t[0][a], t[1][a], t[2][a], t[3][a]));
        for (uint e = 0u; e < 3u; e++)
            dw[dst + 3u * a + e] = p.i[2] != 0 ? dw[dst + 3u * a + e] + row[e] : row[e];
    }
}
