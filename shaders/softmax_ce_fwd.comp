#version 450
// RT_K_SOFTMAX_CE_FWD: softmax cross entropy with label smoothing s over
// logits [N, C]: probs = softmax(x) per row, loss_n = logZ - (1-s) x_label
// - s/C sum_c x_c (logZ = max + log sum exp(x - max), stable). A label
// outside [0, C) contributes no loss (the mean still divides by N);
// CORRECT counts rows whose argmax (lowest index on ties) equals the label.
// Scalars: LOSS = sum / N, LOSS_SUM += sum, CORRECT +=, SAMPLES += N.
// Geometry: ROWS(1): a single workgroup loops over the rows in order;
// row reductions are joined in a fixed order (reduce.glsl), the batch
// sum is added row by row (compensated) by thread 0, so the result is
// deterministic. exp is the CPU backend's exp_approx, step for step.
// The row max: every thread's running max starts at the row's first
// logit, and a later NaN loses every `>`, so a thread's max is NaN
// exactly when x[0] is; group_max gives NaN when any thread's is. The
// row max is then NaN iff x[0] is, else the largest non-NaN logit: the
// CPU's rule (its lanes also start at x[0]; "a NaN on the left wins").
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Logits { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Labels { int labels[]; };
layout(std430, set = 0, binding = 2) buffer Probs { float probs[]; };
layout(std430, set = 0, binding = 3) buffer Scalars { uint sc[]; };

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
            sum_add(s, serr, vec2(e, v));
        }
        vec2 sums = group_sum(s, serr);
        first = group_min(first);
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
                sum_add(loss_s, loss_e, loss);
            }
        }
    }
    if (t == 0u) {
        uint os = arg_offset(3u);
        float total = pair_value(loss_s, loss_e);
        sc[os + SC_LOSS] = floatBitsToUint(total / float(N));
        sc[os + SC_LOSS_SUM] = floatBitsToUint(uintBitsToFloat(sc[os + SC_LOSS_SUM]) + total);
        sc[os + SC_CORRECT] += correct;
        sc[os + SC_SAMPLES] += N;
    }
}
