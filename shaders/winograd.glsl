// Winograd F(2x2, 3x3) helpers of the wino_*.comp shaders: the tile grid
// and the transform formulas in the operation order of the CPU backend
// (runtime/cpu/winograd.h): each 4x4 product rows first, then columns.
// Transformed tensors are T[16][ch][P], P = batch * TH * TW tiles.

uint wino_tiles(int n) // tiles along an output extent
{
    return (uint(n) + 1u) / 2u;
}

// B^T (input transform) of v[0..3].
vec4 wino_bt4(vec4 v)
{
    return vec4(v[0] - v[2], v[1] + v[2], v[2] - v[1], v[1] - v[3]);
}

// B, the transpose of B^T (input adjoint).
vec4 wino_b4(vec4 v)
{
    return vec4(v[0], (v[1] - v[2]) + v[3], (v[1] + v[2]) - v[0], -v[3]);
}

// A^T (output transform) of v[0..3].
vec2 wino_at4(vec4 v)
{
    return vec2((v[0] + v[1]) + v[2], (v[1] - v[2]) - v[3]);
}

// A, the transpose of A^T (output adjoint).
vec4 wino_a2(vec2 v)
{
    return vec4(v[0], v[0] + v[1], v[0] - v[1], -v[1]);
}
