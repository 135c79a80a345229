// Shared by the attention shaders (RT_K_ATTN_*, runtime/kernels.h):
// the launch geometry and the arithmetic of the CPU kernels
// (runtime/cpu/attention.c), in the same order so both backends agree.
// Geometry: ITEMS(batch * heads * T * D), T = Tq for the query-side
// kernels and Tk for the key side; item t is element d = t % D of row
// t / D, rows ordered (sample, head, position). Loops: a thread makes
// about T_other * (D / 4 + 1) iterations (lavapipe stops an invocation
// after 65535, docs/vulkan.md).
// Dot products run in four interleaved lanes joined as (l0 + l1) +
// (l2 + l3), as the CPU's dot() does.
// Include after common.glsl.

uint attn_batch() { return uint(p.i[0]); }
uint attn_heads() { return uint(p.i[1]); }
uint attn_tq() { return uint(p.i[2]); }
uint attn_tk() { return uint(p.i[3]); }
uint attn_d() { return uint(p.i[4]); }
bool attn_causal() { return p.i[5] != 0; }
float attn_scale() { return p.f[0]; }

// Element offset of position t, head h of sample b in [batch, T, heads*D].
uint attn_at(uint b, uint t, uint T, uint h)
{
    return (b * T + t) * attn_heads() * attn_d() + h * attn_d();
}

// Keys query i sees: [0, attn_key_end(i)).
uint attn_key_end(uint i)
{
    return attn_causal() && i + 1u < attn_tk() ? i + 1u : attn_tk();
}

// Adds the terms d .. d+3 (those below D; d < D) of the dot product of
// the D-element rows at bufa[oa] and bufb[ob] into the vec4 of lanes
// `acc`, one lane per d mod 4 (d a multiple of 4). Written out, not a
// loop, to keep the invocation's loop count at D / 4 per dot product.
#define ATTN_DOT_STEP(acc, bufa, oa, bufb, ob, d, D)                          \
    {                                                                         \
        acc.x += bufa[(oa) + (d)] * bufb[(ob) + (d)];                         \
        if ((d) + 1u < (D))                                                   \
            acc.y += bufa[(oa) + (d) + 1u] * bufb[(ob) + (d) + 1u];           \
        if ((d) + 2u < (D))                                                   \
            acc.z += bufa[(oa) + (d) + 2u] * bufb[(ob) + (d) + 2u];           \
        if ((d) + 3u < (D))                                                   \
            acc.w += bufa[(oa) + (d) + 3u] * bufb[(ob) + (d) + 3u];           \
    }

float attn_join(vec4 lanes)
{
    return (lanes.x + lanes.y) + (lanes.z + lanes.w);
}

// Keys per block of the forward's running maximum (ATTN_BLOCK of
// runtime/cpu/attention.c).
const uint ATTN_BLOCK = 16u;

// e^x to a few ulp, 0 below x = -87.3: exp_approx of
// runtime/cpu/fastmath.h, operation for operation (`precise` keeps the
// compiler from fusing them), so both backends get the same p_ij.
float exp_approx(float xv)
{
    const float shifter = 12582912.0;
    bool underflows = xv < -87.3;
    float v = underflows ? -87.3 : xv;
    v = v > 88.3 ? 88.3 : v;
    precise float t = v * 1.44269504 + shifter;
    precise float n = t - shifter;
    uint scale = (floatBitsToUint(t) - floatBitsToUint(shifter) + 127u) << 23;
    precise float r = v - n * 0.693359375;
    r = r - n * -2.12194440e-4;
    precise float q = 1.98909809e-4;
    q = q * r + 1.39336410e-3;
    q = q * r + 8.33331093e-3;
    q = q * r + 4.16664650e-2;
    q = q * r + 1.66666667e-1;
    q = q * r + 5.00000001e-1;
    precise float e = (1.0 + r + r * r * q) * uintBitsToFloat(scale);
    return underflows ? 0.0 : e;
}
