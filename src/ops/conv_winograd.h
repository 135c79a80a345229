/* Winograd F(2x2, 3x3) lowering of 3x3, stride 1 convolutions (called by
 * op_conv2d.c, which checks kernel size, stride, dilation and groups).
 *
 * Forward: U = transform(w), then per chunk of images V = transform(x),
 * M[xi] = U[xi] V[xi] (one GEMM launch over the 16 positions), y =
 * transform(M) + bias. Backward uses the exact adjoints: dM =
 * transform^T(dY), dU = sum dM V^T (V kept from forward), dV = U^T dM
 * (GEMMs), dw = G^T dU G, dx = transform^T(dV). */
#ifndef VKT_CONV_WINOGRAD_H
#define VKT_CONV_WINOGRAD_H

#include <stdbool.h>

#include "ops.h"

typedef struct wino_conv {
    int batch, cin, cout, h, w, ph, pw, oh, ow;
} wino_conv;

/* Whether Winograd is worth it for this shape (it is not for few
 * channels) and its sizes fit the kernels' 32-bit parameters. Depends
 * on the shape only, so every backend makes the same choice. */
bool wino_conv_chosen(const wino_conv *c);

/* Node id; keep_v: backward will want the weight gradient (V is then
 * kept for it). Slots: x input, w weight, bias (-1: none), y output. */
void wino_conv_forward(emit_ctx *e, const wino_conv *c, int id, bool keep_v, int x, int w, int bias, int y);

/* dw (-1: not wanted; else forward had keep_v) gets dw_accum, dx (-1:
 * not wanted) dx_accum; w is the weight, dy the output gradient. */
void wino_conv_backward(emit_ctx *e, const wino_conv *c, int id, int w, int dy, int dw, int dw_accum, int dx,
                        int dx_accum);

#endif
