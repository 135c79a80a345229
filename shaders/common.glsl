// Shared declarations of every vktrain compute shader. Each shader
// starts with: #version 450, the include-directive extension, then
// #include "common.glsl".
//
// Launch parameters arrive as push constants laid out like rt_params
// (runtime/kernels.h): 24 ints then 8 floats. p.i[23] is reserved for the
// backend: the index of this launch in the argument table, which holds,
// per launch, the element offset of each argument inside its binding
// (descriptor offsets must be aligned, views need not be) and a bit mask
// of the arguments present.
//
// Work geometry: the host dispatches a grid of workgroups of
// LOCAL_SIZE threads (specialization constant 0), folded into 2-D when
// it exceeds 65535 groups; group_index() undoes the folding.


layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LOCAL_SIZE = 64;

layout(push_constant) uniform Params {
    int i[24];
    float f[8];
} p;

layout(std430, set = 0, binding = 8) readonly buffer ArgTable {
    uint argtab[];
};

uint arg_offset(uint a)
{
    return argtab[uint(p.i[23]) * 9u + a];
}

bool arg_present(uint a)
{
    return ((argtab[uint(p.i[23]) * 9u + 8u] >> a) & 1u) != 0u;
}

uint group_index()
{
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

// Index of this thread in a 1-D "one thread per item" dispatch.
uint item_index()
{
    return group_index() * LOCAL_SIZE + gl_LocalInvocationID.x;
}

// Scalars buffer slots (enum rt_scalar_slot).
const uint SC_LR = 0u;
const uint SC_STEP = 1u;
const uint SC_SEED = 2u;
const uint SC_BIAS_CORR1 = 3u;
const uint SC_BIAS_CORR2 = 4u;
const uint SC_CLIP_SCALE = 5u;
const uint SC_GRAD_NORM = 6u;
const uint SC_LOSS = 7u;
const uint SC_LOSS_SUM = 8u;
const uint SC_CORRECT = 9u;
const uint SC_SAMPLES = 10u;

// rt_hash32 / rt_hash_uniform of runtime/kernels.h, bit for bit.
uint rt_hash32(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

float rt_hash_uniform(uint seed, uint salt, uint index)
{
    uint h = rt_hash32(index ^ rt_hash32(salt ^ rt_hash32(seed)));
    return float(h >> 8) * (1.0 / 16777216.0);
}
