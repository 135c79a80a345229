// Shared by the attention shaders (RT_K_ATTN_*, runtime/kernels.h):
// the launch geometry and the arithmetic of the CPU kernels
// (runtime/cpu/attention.c), in the same order so both backends agree.
// Geometry: ITEMS(batch * heads * T * D), T = Tq for the query-side
// kernels and Tk for the key side; item t is element d = t % D of row
// t / D, rows ordered (sample, head, position). Loops: a thread makes
// about (T_other + 1) * D iterations (lavapipe stops an invocation
// after 65535, docs/vulkan.md).
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
