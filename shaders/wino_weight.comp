#version 450
// RT_K_WINO_WEIGHT: U[16, K, C] = G g G^T of each 3x3 filter g of
// w[K, C, 3, 3]. Geometry: ITEMS(K*C), one thread per filter.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 1) writeonly buffer U { float u[]; };

// G applied to a, b, c.
vec4 g3(float a, float b, float c)
{
    return vec4(a, ((a + b) + c) * 0.5, ((a - b) + c) * 0.5, c);
}

void main()
{
    uint kc = item_index(), pairs = uint(p.i[0]) * uint(p.i[1]);
    if (kc >= pairs)
        return;
    uint src = arg_offset(0u) + kc * 9u;
    vec4 t[3]; // t[q][r]: row r of G g, column q
    for (uint q = 0u; q < 3u; q++)
        t[q] = g3(w[src + q], w[src + 3u + q], w[src + 6u + q]);
    for (uint r = 0u; r < 4u; r++) {
        vec4 row = g3(t[0][r], t[1][r], t[2][r]);
        for (uint e = 0u; e < 4u; e++)
            u[arg_offset(1u) + (4u * r + e) * pairs + kc] = row[e];
    }
}
