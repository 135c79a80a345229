/* Naive double-precision references of the depthwise convolution
 * kernels (RT_K_DWCONV_*), and the shapes their tests share: the CPU
 * kernel tests and the Vulkan tests check against the same loops. */
#ifndef VKT_DEPTHWISE_REF_H
#define VKT_DEPTHWISE_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/kernels.h"

typedef struct dwr_case {
    int batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
    bool bias;
    const char *label;
} dwr_case;

/* Odd sizes (not multiples of a workgroup), stride 1 and 2, padding 0
 * to beyond the kernel, dilation, rectangular kernels, unequal strides
 * and planes too big for the CPU's flattened layout (its plain loops). */
extern const dwr_case dwr_cases[];
extern const size_t dwr_case_count;

int dwr_oh(const dwr_case *c);
int dwr_ow(const dwr_case *c);
size_t dwr_x_elems(const dwr_case *c);
size_t dwr_w_elems(const dwr_case *c);
size_t dwr_y_elems(const dwr_case *c);
/* i[0..13] as RT_K_IM2COL, everything else 0. */
rt_params dwr_params(const dwr_case *c);

/* y = conv(x, w) (+ b when b is not NULL). */
void dwr_forward(const dwr_case *c, const float *x, const float *w, const float *b, double *y);
/* dx = the input gradient, scattered term by term from each dy. */
void dwr_input_grad(const dwr_case *c, const float *dy, const float *w, double *dx);
/* dw = the weight gradient. */
void dwr_weight_grad(const dwr_case *c, const float *dy, const float *x, double *dw);

#endif
