#version 450
// RT_K_WINO_INPUT_BWD: dx (+)= the sum over tiles of B dV B^T placed
// where WINO_INPUT read the tile, the adjoint of WINO_INPUT. Geometry:
// ITEMS(batch*C*H*W), one thread per dx element, which gathers the terms
// of the (up to four) tiles covering it in the CPU backend's order
// (runtime/cpu/winograd.h, WINO_JOIN): (upper tile row) + (lower tile
// row), each (tile k) + (tile k - 1), missing tiles left out.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DV { float dv[]; };
layout(std430, set = 0, binding = 1) buffer DX { float dx[]; };

// Element (r, s) of B dV B^T of the tile whose position-0 value is at
// dv[at] (positions xs apart).
float tile_term(uint at, uint xs, uint r, uint s)
{
    vec4 w[4]; // w[e]: column e of B dV
    for (uint e = 0u; e < 4u; e++)
        w[e] = wino_b4(vec4(dv[at + e * xs], dv[at + (4u + e) * xs], dv[at + (8u + e) * xs],
                            dv[at + (12u + e) * xs]));
    return wino_b4(vec4(w[0][r], w[1][r], w[2][r], w[3][r]))[s];
}

// Terms of tile row t, its row r, for padded column pair k, column e.
float row_terms(uint at, uint xs, uint TW, uint t, uint r, uint k, uint e)
{
    bool has_k = k < TW, has_left = k >= 1u && k <= TW;
    float a = has_k ? tile_term(at + t * TW + k, xs, r, e) : 0.0;
    float b = has_left ? tile_term(at + t * TW + k - 1u, xs, r, e + 2u) : 0.0;
    return has_k && has_left ? a + b : has_k ? a : b;
}

void main()
{
    uint idx = item_index();
    uint batch = uint(p.i[0]), C = uint(p.i[1]), H = uint(p.i[2]), W = uint(p.i[3]);
    uint TH = wino_tiles(p.i[6]), TW = wino_tiles(p.i[7]), P = batch * TH * TW;
    if (idx >= batch * C * H * W)
        return;
    uint iw = idx % W, ih = (idx / W) % H, plane = idx / (W * H);
    uint b = plane / C, c = plane % C;
    uint R = ih + uint(p.i[4]), Q = iw + uint(p.i[5]); // padded row and column
    uint th = R / 2u, i = R % 2u, k = Q / 2u, e = Q % 2u;
    bool has_lo = th < TH, has_up = th >= 1u && th <= TH;
    bool cols = k <= TW; // some tile column covers Q
    uint at = arg_offset(0u) + c * P + b * TH * TW, xs = C * P;
    float up = has_up && cols ? row_terms(at, xs, TW, th - 1u, i + 2u, k, e) : 0.0;
    float lo = has_lo && cols ? row_terms(at, xs, TW, th, i, k, e) : 0.0;
    float v = has_up && has_lo ? up + lo : has_up ? up : lo;
    uint d = arg_offset(1u) + idx;
    if (!cols || !(has_up || has_lo))
        v = 0.0; // no tile reaches this element
    dx[d] = p.i[8] != 0 ? dx[d] + v : v;
}
