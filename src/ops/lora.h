/* LoRA adapters: what the linear and conv2d emitters call when their
 * node carries one (node.lora_rank > 0). */
#ifndef VKT_LORA_H
#define VKT_LORA_H

#include "ops.h"

/* The adapted layer as a matrix product. */
typedef struct lora_layout {
    int in, out;
    bool planes;   /* false: x is [positions, in] rows (linear);
                      true: x is [in, positions] per image (1x1 conv) */
    int positions; /* rows of the whole batch (linear) or HW per image */
} lora_layout;

typedef struct lora_shape {
    int r, in, out, items, cols;
    bool planes;
    size_t u_count; /* floats of A x over the batch */
} lora_shape;

/* y += s * B (A x); x and y are the layer's input and output slots. */
void lora_forward(emit_ctx *e, const node *n, int id, const lora_layout *lay, int x, int y);
/* Gradients of A and B (if trainable) and dX += A^T dt (if needed),
 * after the base layer's backward. */
void lora_backward(emit_ctx *e, const node *n, int id, const lora_layout *lay, int x, int dy);

#endif
