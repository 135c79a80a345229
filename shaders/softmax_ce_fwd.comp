#version 450
// RT_K_SOFTMAX_CE_FWD: softmax cross entropy with label smoothing s over
// logits [N, C]: probs = softmax(x) per row, loss_n = logZ - (1-s) x_label
// - s/C sum_c x_c (logZ = max + log sum exp(x - max), stable). A label
// outside [0, C) contributes no loss (the mean still divides by N);
// CORRECT counts rows whose argmax (lowest index on ties) equals the label.
// Scalars: LOSS = sum / N, LOSS_SUM += sum, CORRECT +=, SAMPLES += N.
// Geometry: ROWS(1): a single workgroup loops over the rows in order;
// row reductions are fixed-order shared-memory trees, the batch sum is
// added row by row (compensated) by thread 0, so the result is
// deterministic. exp is the CPU backend's exp_approx, step for step.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Logits { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Labels { int labels[]; };
layout(std430, set = 0, binding = 2) buffer Probs { float probs[]; };
layout(std430, set = 0, binding = 3) buffer Scalars { uint sc[]; };

shared float red_f[LOCAL_SIZE];
shared vec2 red_s[LOCAL_SIZE];
shared vec2 red_e[LOCAL_SIZE];
shared uint red_u[LOCAL_SIZE];

// e^x to a few ulp; 0 below x = -87.3, saturates above x = 88.3
// (exp_approx of runtime/cpu/loss.c).
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

// Error-free accumulation (Knuth's TwoSum): s + e is the running sum, e
// collects the rounding error of every addition. precise keeps the
// compiler from folding the error terms away.
void two_sum_add(inout vec2 s, inout vec2 e, vec2 v)
{
    precise vec2 t = s + v;
    precise vec2 bp = t - s;
    precise vec2 err = (s - (t - bp)) + (v - bp);
    precise vec2 ne = e + err;
    e = ne;
    s = t;
}

void two_sum_add(inout float s, inout float e, float v)
{
    precise float t = s + v;
    precise float bp = t - s;
    precise float err = (s - (t - bp)) + (v - bp);
    precise float ne = e + err;
    e = ne;
    s = t;
}

uint tree_start()
{
    uint s = 1u;
    while (s * 2u < LOCAL_SIZE)
        s *= 2u;
    return s;
}

// Largest element over the workgroup (a NaN on the left wins, as the CPU
// whose lanes start at x[0]); every thread gets it.
float group_max(float v)
{
    uint t = gl_LocalInvocationID.x;
    red_f[t] = v;
    barrier();
    for (uint s = tree_start(); s > 0u; s >>= 1u) {
        if (t < s && t + s < LOCAL_SIZE && red_f[t + s] > red_f[t])
            red_f[t] = red_f[t + s];
        barrier();
    }
    float r = red_f[0];
    barrier();
    return r;
}

// Compensated sums (s + e) of every thread's (s, e) and min of u over the
// workgroup, joined in a fixed tree order; every thread gets the totals.
vec2 group_sum_min(vec2 s, vec2 e, inout uint u)
{
    uint t = gl_LocalInvocationID.x;
    red_s[t] = s;
    red_e[t] = e;
    red_u[t] = u;
    barrier();
    for (uint h = tree_start(); h > 0u; h >>= 1u) {
        if (t < h && t + h < LOCAL_SIZE) {
            vec2 a = red_s[t], ae = red_e[t];
            two_sum_add(a, ae, red_s[t + h]);
            red_s[t] = a;
            red_e[t] = ae + red_e[t + h];
            red_u[t] = min(red_u[t], red_u[t + h]);
        }
        barrier();
    }
    vec2 r = red_s[0] + red_e[0];
    u = red_u[0];
    barrier();
    return r;
}

void main()
{
    if (group_index() != 0u)
        return;
    uint N = uint(p.i[0]), C = uint(p.i[1]);
    float smoothing = p.f[0];
    uint t = gl_LocalInvocationID.x;
    uint ox = arg_offset(0u), ol = arg_offset(1u), op = arg_offset(2u);

    float loss_s = 0.0, loss_e = 0.0;
    uint correct = 0u;
    for (uint r = 0u; r < N; r++) {
        uint row = r * C;
        float top = x[ox + row];
        for (uint c = t; c < C; c += LOCAL_SIZE) {
            float v = x[ox + row + c];
            if (v > top)
                top = v;
        }
        top = group_max(top);

        // first index holding the max (C if none: an all-NaN row),
        // (sum exp(x - max), sum x); probs hold exp(x - max) for now.
        uint first = C;
        vec2 s = vec2(0.0), serr = vec2(0.0);
        for (uint c = t; c < C; c += LOCAL_SIZE) {
            float v = x[ox + row + c];
            if (first == C && v == top)
                first = c;
            float e = exp_approx(v - top);
            probs[op + row + c] = e;
            two_sum_add(s, serr, vec2(e, v));
        }
        vec2 sums = group_sum_min(s, serr, first);
        float inv = 1.0 / sums.x;
        for (uint c = t; c < C; c += LOCAL_SIZE)
            probs[op + row + c] *= inv;

        if (t == 0u) {
            int label = labels[ol + r];
            if (label == int(first))
                correct++;
            if (label >= 0 && label < int(C)) {
                float loss = (top + log(sums.x)) - (1.0 - smoothing) * x[ox + row + uint(label)];
                if (smoothing > 0.0)
                    loss -= smoothing / float(C) * sums.y;
                two_sum_add(loss_s, loss_e, loss);
            }
        }
    }
    if (t == 0u) {
        uint os = arg_offset(3u);
        float total = loss_s + loss_e;
        sc[os + SC_LOSS] = floatBitsToUint(total / float(N));
        sc[os + SC_LOSS_SUM] = floatBitsToUint(uintBitsToFloat(sc[os + SC_LOSS_SUM]) + total);
        sc[os + SC_CORRECT] += correct;
        sc[os + SC_SAMPLES] += N;
    }
}
