// Workgroup reductions of the reduction shaders (one workgroup per row):
// compensated float sums, float max, uint max and min. Include after
// common.glsl. Every invocation of the workgroup must call a group_*
// function together (they hold barriers), and each returns the result to
// every invocation.
//
// Partial results are joined by a fixed tree in shared memory
// (log2(LOCAL_SIZE) levels, a barrier each), so every result is
// deterministic.
//
// Sums are unevaluated float pairs hi + lo: every addition is an
// error-free TwoSum (`precise` keeps the compiler from reassociating it
// away), which carries about 48 bits, so a sum is correctly rounded in
// all but rare cases (the CPU backend sums in double). An infinite or NaN
// hi (an inf or NaN was added; its TwoSum error is NaN) is the sum as it
// stands and lo is then meaningless, so inf and NaN propagate as in a
// double sum.

// The tree's nodes, one per invocation.
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
