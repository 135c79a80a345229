// Workgroup reductions of the reduction shaders (one workgroup per row):
// compensated float sums, float max, uint max and min. Include after
// common.glsl. Every invocation of the workgroup must call a group_*
// function together (they hold barriers), and each returns the result to
// every invocation.
//
// Each shader is built twice from the same source:
//  - portable: partial results are joined by a fixed tree in shared
//    memory (log2(LOCAL_SIZE) levels, a barrier each);
//  - VKT_SUBGROUP defined (devices with subgroup basic, vote, arithmetic
//    and shuffle operations in compute): each subgroup reduces in
//    registers, then the subgroups' results are joined through shared
//    memory in subgroup order (two barriers in all).
//
// Determinism. max, min and the uint reductions are order-independent,
// so subgroupMax / subgroupMin give the portable path's bits. A float
// sum is not: subgroupAdd adds in an implementation-defined order, so it
// is never used. The subgroup path sums by a butterfly of
// subgroupShuffleXor steps in which both partners apply the same pair
// addition to the same (lower lane, upper lane) operands, then adds the
// subgroups' sums in subgroup order: a fixed order for a given device
// (its subgroup size is fixed for compute with SPIR-V 1.3), so run-to-run
// bit-identical, and within an ulp or so of the portable tree, which
// pairs the terms differently.
//
// Sums are unevaluated float pairs hi + lo: every addition is an
// error-free TwoSum (`precise` keeps the compiler from reassociating it
// away), which carries about 48 bits, so a sum is correctly rounded in
// all but rare cases (the CPU backend sums in double). An infinite or NaN
// hi (an inf or NaN was added; its TwoSum error is NaN) is the sum as it
// stands and lo is then meaningless, so inf and NaN propagate as in a
// double sum.

#ifdef VKT_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_vote : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

// Per invocation (portable: the tree's nodes) or per subgroup.
shared vec2 red_hi[LOCAL_SIZE];
shared vec2 red_lo[LOCAL_SIZE];
shared uint red_u[LOCAL_SIZE];

bool finite(float h)
{
    return !(isinf(h) || isnan(h));
}

bvec2 finite(vec2 h)
{
    return bvec2(finite(h.x), finite(h.y));
}

// For T = float and vec2 (componentwise):
//   sum_add:    (hi, lo) += x, hi the rounded sum, lo the rounding errors
//   pair_add:   (hi, lo) += (hi2, lo2), renormalised so |lo| <= ulp(hi) / 2
//   pair_value: the pair rounded to one float
#define REDUCE_PAIR_OPS(T)                                                     \
    void sum_add(inout T hi, inout T lo, T x)                                  \
    {                                                                          \
        precise T s = hi + x;                                                  \
        precise T bb = s - hi;                                                 \
        precise T err = (hi - (s - bb)) + (x - bb);                            \
        precise T l = lo + err;                                                \
        hi = s;                                                                \
        lo = l;                                                                \
    }                                                                          \
    void pair_add(inout T hi, inout T lo, T hi2, T lo2)                        \
    {                                                                          \
        T h = hi, l = lo2;                                                     \
        sum_add(h, l, hi2);                                                    \
        precise T e = l + lo;                                                  \
        precise T s = h + e;                                                   \
        precise T ne = e - (s - h);                                            \
        hi = mix(h, s, finite(h));                                             \
        lo = mix(T(0.0), ne, finite(h));                                       \
    }                                                                          \
    T pair_value(T hi, T lo)                                                   \
    {                                                                          \
        precise T v = hi + lo;                                                 \
        return mix(hi, v, finite(hi));                                         \
    }

REDUCE_PAIR_OPS(float)
REDUCE_PAIR_OPS(vec2)

// Order-preserving uint key of a float (-0 below +0), every NaN above
// +inf: max over keys is exact and order-independent.
uint max_key(float v)
{
    uint b = floatBitsToUint(v);
    if (isnan(v))
        return 0xffffffffu;
    return (b & 0x80000000u) != 0u ? ~b : b | 0x80000000u;
}

// The float of a key; the NaN key gives the NaN 0x7fffffff.
float key_float(uint k)
{
    return uintBitsToFloat((k & 0x80000000u) != 0u ? k & 0x7fffffffu : ~k);
}

const uint RED_MAX = 0u;
const uint RED_MIN = 1u;

uint red_op(uint a, uint b, uint op)
{
    return op == RED_MAX ? max(a, b) : min(a, b);
}

#ifdef VKT_SUBGROUP

// (hi, lo) of the subgroup's active invocations, in each of them. A full
// subgroup runs a butterfly; a partial one (a workgroup size that is not
// a multiple of the subgroup size leaves lanes inactive, and which ones
// is up to the device) folds its active lanes in lane order.
void subgroup_sum_pair(inout vec2 hi, inout vec2 lo)
{
    uint lane = gl_SubgroupInvocationID;
    if (subgroupAdd(1u) == gl_SubgroupSize) {
        for (uint m = 1u; m < gl_SubgroupSize; m <<= 1u) {
            vec2 oh = subgroupShuffleXor(hi, m), ol = subgroupShuffleXor(lo, m);
            // Both partners add (lower lane's pair) + (upper lane's pair):
            // the same bits in both.
            bool upper = (lane & m) != 0u;
            vec2 ah = upper ? oh : hi, al = upper ? ol : lo;
            pair_add(ah, al, upper ? hi : oh, upper ? lo : ol);
            hi = ah;
            lo = al;
        }
        return;
    }
    vec2 sh = vec2(0.0), sl = vec2(0.0);
    bool first = true;
    for (uint l = 0u; l < gl_SubgroupSize; l++) {
        if (!subgroupAny(lane == l))
            continue; // inactive: shuffling from it is undefined
        vec2 h = subgroupShuffle(hi, l), e = subgroupShuffle(lo, l);
        if (first) {
            sh = h;
            sl = e;
        } else
            pair_add(sh, sl, h, e);
        first = false;
    }
    hi = sh;
    lo = sl;
}

// Subgroups in the workgroup. lavapipe (Mesa 22.3) reports
// gl_NumSubgroups = LOCAL_SIZE / gl_SubgroupSize rounded down while it
// runs a last, partial subgroup: no subgroup has more than
// gl_SubgroupSize invocations, so the rounded-up quotient is a floor
// that a correct gl_NumSubgroups never falls below.
uint subgroup_count()
{
    return max(gl_NumSubgroups, (LOCAL_SIZE + gl_SubgroupSize - 1u) / gl_SubgroupSize);
}

void group_sum_pair(inout vec2 hi, inout vec2 lo)
{
    subgroup_sum_pair(hi, lo);
    if (subgroupElect()) {
        red_hi[gl_SubgroupID] = hi;
        red_lo[gl_SubgroupID] = lo;
    }
    barrier();
    hi = red_hi[0];
    lo = red_lo[0];
    for (uint s = 1u, n = subgroup_count(); s < n; s++)
        pair_add(hi, lo, red_hi[s], red_lo[s]);
    barrier(); // the slots may be reused by the next reduction
}

uint group_uint(uint v, uint op)
{
    v = op == RED_MAX ? subgroupMax(v) : subgroupMin(v);
    if (subgroupElect())
        red_u[gl_SubgroupID] = v;
    barrier();
    v = red_u[0];
    for (uint s = 1u, n = subgroup_count(); s < n; s++)
        v = red_op(v, red_u[s], op);
    barrier();
    return v;
}

#else

// Largest power of two below LOCAL_SIZE (1 for LOCAL_SIZE <= 2): the
// first level of the tree folds [top, LOCAL_SIZE) onto [0, ...).
uint tree_top()
{
    uint h = 1u;
    while (h * 2u < LOCAL_SIZE)
        h *= 2u;
    return h;
}

void group_sum_pair(inout vec2 hi, inout vec2 lo)
{
    uint t = gl_LocalInvocationID.x;
    red_hi[t] = hi;
    red_lo[t] = lo;
    barrier();
    for (uint h = tree_top(); h > 0u; h >>= 1u) {
        if (t < h && t + h < LOCAL_SIZE) {
            vec2 a = red_hi[t], al = red_lo[t];
            pair_add(a, al, red_hi[t + h], red_lo[t + h]);
            red_hi[t] = a;
            red_lo[t] = al;
        }
        barrier();
    }
    hi = red_hi[0];
    lo = red_lo[0];
    barrier(); // the slots may be reused by the next reduction
}

uint group_uint(uint v, uint op)
{
    uint t = gl_LocalInvocationID.x;
    red_u[t] = v;
    barrier();
    for (uint h = tree_top(); h > 0u; h >>= 1u) {
        if (t < h && t + h < LOCAL_SIZE)
            red_u[t] = red_op(red_u[t], red_u[t + h], op);
        barrier();
    }
    v = red_u[0];
    barrier();
    return v;
}

#endif

// The workgroup's sum of every invocation's pair, as a pair.
void group_sum_pair(inout float hi, inout float lo)
{
    vec2 h = vec2(hi, 0.0), l = vec2(lo, 0.0);
    group_sum_pair(h, l);
    hi = h.x;
    lo = l.x;
}

// The workgroup's sum of every invocation's pair, rounded.
float group_sum(float hi, float lo)
{
    group_sum_pair(hi, lo);
    return pair_value(hi, lo);
}

vec2 group_sum(vec2 hi, vec2 lo)
{
    group_sum_pair(hi, lo);
    return pair_value(hi, lo);
}

// Largest value over the workgroup; NaN (0x7fffffff) if any invocation
// holds a NaN, and +0 above -0, so the result does not depend on the
// order of the invocations.
float group_max(float v)
{
    return key_float(group_uint(max_key(v), RED_MAX));
}

uint group_min(uint v)
{
    return group_uint(v, RED_MIN);
}
