#include "depthwise_ref.h"

#include <string.h>

const dwr_case dwr_cases[] = {
    /* batch C  H   W  KH KW SH SW PH PW DH DW bias */
    {2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, true, "3x3 stride 1 pad 1"},
    {3, 5, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1, false, "3x3 stride 2 pad 1"},
    {2, 3, 8, 7, 3, 3, 2, 2, 0, 0, 1, 1, true, "3x3 stride 2 pad 0"},
    {2, 4, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2, true, "dilation 2"},
    {1, 2, 8, 11, 3, 2, 2, 3, 0, 1, 2, 1, false, "rectangular, mixed strides"},
    {2, 3, 6, 7, 5, 5, 1, 1, 2, 2, 1, 1, true, "5x5"},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false, "a single element"},
    {2, 2, 4, 5, 2, 2, 1, 1, 3, 3, 1, 1, true, "padding beyond the kernel"},
    {1, 2, 3, 300, 3, 3, 1, 1, 1, 1, 1, 1, false, "rows wider than a column block"},
    {3, 19, 13, 13, 3, 3, 2, 2, 1, 1, 1, 1, true, "odd channel count, stride 2"},
    /* the CPU's per-thread scratch holds the padded plane but not the
     * weight gradient's sums, then not even the plane */
    {1, 2, 230, 230, 3, 3, 1, 1, 1, 1, 1, 1, true, "big planes"},
    {1, 1, 762, 700, 3, 3, 1, 1, 1, 1, 1, 1, false, "planes past the CPU's scratch"},
    /* the CPU's scratch holds 2 of the 3 images: groups of images */
    {3, 2, 300, 300, 3, 3, 1, 1, 1, 1, 1, 1, true, "images in groups, 3x3"},
    {3, 2, 300, 300, 1, 1, 1, 1, 0, 0, 1, 1, false, "images in groups, 1x1"},
};
const size_t dwr_case_count = sizeof dwr_cases / sizeof dwr_cases[0];

static int out_size(int in, int k, int s, int p, int d)
{
    int o = (in + 2 * p - d * (k - 1) - 1) / s + 1;
    return o > 0 ? o : 0;
}

int dwr_oh(const dwr_case *c)
{
    return out_size(c->H, c->KH, c->SH, c->PH, c->DH);
}

int dwr_ow(const dwr_case *c)
{
    return out_size(c->W, c->KW, c->SW, c->PW, c->DW);
}

size_t dwr_x_elems(const dwr_case *c)
{
    return (size_t)c->batch * c->C * c->H * c->W;
}

size_t dwr_w_elems(const dwr_case *c)
{
    return (size_t)c->C * c->KH * c->KW;
}

size_t dwr_y_elems(const dwr_case *c)
{
    return (size_t)c->batch * c->C * dwr_oh(c) * dwr_ow(c);
}

rt_params dwr_params(const dwr_case *c)
{
    rt_params p;
    memset(&p, 0, sizeof p);
    int v[14] = {c->batch, c->C, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, c->DH, c->DW,
                 dwr_oh(c), dwr_ow(c)};
    memcpy(p.i, v, sizeof v);
    return p;
}

/* Runs `body` with xi, yi, wi the x, y and w indices of every term
 * (input, output, tap) of the convolution whose input lies inside the
 * image. */
#define FOR_EACH_TERM(c, body)                                                                                 \
    do {                                                                                                       \
        int OH_ = dwr_oh(c), OW_ = dwr_ow(c);                                                                  \
        for (int n = 0; n < (c)->batch; n++)                                                                   \
            for (int ch = 0; ch < (c)->C; ch++)                                                                \
                for (int oh = 0; oh < OH_; oh++)                                                               \
                    for (int ow = 0; ow < OW_; ow++)                                                           \
                        for (int kh = 0; kh < (c)->KH; kh++)                                                   \
                            for (int kw = 0; kw < (c)->KW; kw++) {                                             \
                                int ih = oh * (c)->SH - (c)->PH + kh * (c)->DH;                                \
                                int iw = ow * (c)->SW - (c)->PW + kw * (c)->DW;                                \
                                if (ih < 0 || ih >= (c)->H || iw < 0 || iw >= (c)->W)                          \
                                    continue;                                                                  \
                                size_t xi = (((size_t)n * (c)->C + ch) * (c)->H + ih) * (c)->W + iw;           \
                                size_t yi = (((size_t)n * (c)->C + ch) * OH_ + oh) * OW_ + ow;                 \
                                size_t wi = ((size_t)ch * (c)->KH + kh) * (c)->KW + kw;                        \
                                body;                                                                          \
                            }                                                                                  \
    } while (0)

void dwr_forward(const dwr_case *c, const float *x, const float *w, const float *b, double *y)
{
    size_t ny = dwr_y_elems(c), plane = (size_t)dwr_oh(c) * dwr_ow(c);
    for (size_t i = 0; i < ny; i++)
        y[i] = b ? (double)b[(i / (plane ? plane : 1)) % (size_t)c->C] : 0.0;
    FOR_EACH_TERM(c, y[yi] += (double)x[xi] * w[wi]);
}

void dwr_input_grad(const dwr_case *c, const float *dy, const float *w, double *dx)
{
    memset(dx, 0, dwr_x_elems(c) * sizeof *dx);
    FOR_EACH_TERM(c, dx[xi] += (double)dy[yi] * w[wi]);
}

void dwr_weight_grad(const dwr_case *c, const float *dy, const float *x, double *dw)
{
    memset(dw, 0, dwr_w_elems(c) * sizeof *dw);
    FOR_EACH_TERM(c, dw[wi] += (double)dy[yi] * x[xi]);
}
