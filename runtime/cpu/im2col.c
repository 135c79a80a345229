/* Patch unfolding for convolution as GEMM.
 *
 * im2col lays each image's receptive fields out as columns so that a
 * convolution becomes one matrix product; col2im is its adjoint and folds
 * column gradients back into the image, summing where windows overlap.
 * For one kernel tap (kh, kw) the output columns whose input lies inside
 * the image form a contiguous range, computed once per row, so the inner
 * loops are plain strided copies and adds without bounds tests. */
#include <string.h>

#include "cpu_kernels.h"

/* Roughly how many elements one parallel chunk should move. */
#define CHUNK_ELEMS 32768

typedef struct conv_geom {
    int64_t batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
} conv_geom;

static conv_geom geom_of(const rt_params *p)
{
    const int32_t *i = p->i;
    return (conv_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13]};
}

static int64_t ceil_div_nonneg(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Outputs o in [*lo, *hi) read input o*stride + off inside [0, size). */
static void inside_range(int64_t off, int64_t stride, int64_t size, int64_t outs, int64_t *lo, int64_t *hi)
{
    int64_t first = off >= 0 ? 0 : ceil_div_nonneg(-off, stride);
    int64_t last = size - 1 - off < 0 ? 0 : (size - 1 - off) / stride + 1;
    *lo = first < outs ? first : outs;
    *hi = last < outs ? last : outs;
    if (*hi < *lo)
        *hi = *lo;
}

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}

/* ---- im2col: one task item is one column-matrix row (b, c, kh, kw) ---- */

typedef struct im2col_job {
    conv_geom g;
    const float *x;
    float *col;
} im2col_job;

static void im2col_row(const conv_geom *g, const float *restrict plane, float *restrict dst, int64_t kh, int64_t kw)
{
    int64_t off_w = kw * g->DW - g->PW, lo, hi;
    inside_range(off_w, g->SW, g->W, g->OW, &lo, &hi);
    for (int64_t oh = 0; oh < g->OH; oh++, dst += g->OW) {
        int64_t ih = oh * g->SH - g->PH + kh * g->DH;
        if (ih < 0 || ih >= g->H || lo == hi) {
            memset(dst, 0, (size_t)g->OW * sizeof *dst);
            continue;
        }
        const float *src = plane + ih * g->W;
        memset(dst, 0, (size_t)lo * sizeof *dst);
        if (g->SW == 1)
            memcpy(dst + lo, src + lo + off_w, (size_t)(hi - lo) * sizeof *dst);
        else
            for (int64_t ow = lo; ow < hi; ow++)
                dst[ow] = src[ow * g->SW + off_w];
        memset(dst + hi, 0, (size_t)(g->OW - hi) * sizeof *dst);
    }
}

static void im2col_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const im2col_job *j = ctx;
    const conv_geom *g = &j->g;
    int64_t taps = g->KH * g->KW, ohw = g->OH * g->OW;
    for (int64_t r = begin; r < end; r++) {
        int64_t plane = r / taps, tap = r % taps; /* plane = b*C + c */
        im2col_row(g, j->x + plane * g->H * g->W, j->col + r * ohw, tap / g->KW, tap % g->KW);
    }
}

void cpu_im2col(const cpu_kernel_args *a)
{
    im2col_job j = {geom_of(a->p), a->args[0], a->args[1]};
    if (j.g.batch * j.g.C * j.g.OH * j.g.OW == 0) /* checked first: then rows cannot overflow */
        return;
    int64_t rows = j.g.batch * j.g.C * j.g.KH * j.g.KW;
    if (j.g.H * j.g.W == 0) { /* nothing inside the image: all padding */
        memset(j.col, 0, (size_t)(rows * j.g.OH * j.g.OW) * sizeof *j.col);
        return;
    }
    cpu_parallel_for(a->pool, rows, chunk_of(j.g.OH * j.g.OW), im2col_range, &j);
}

/* ---- col2im: one task item is one image plane (b, c), which only its
 * own KH*KW column rows touch, so planes never race ---- */

typedef struct col2im_job {
    conv_geom g;
    const float *col;
    float *dx;
    int accum;
} col2im_job;

static void col2im_row(const conv_geom *g, const float *restrict src, float *restrict plane, int64_t kh, int64_t kw)
{
    int64_t off_w = kw * g->DW - g->PW, lo, hi;
    inside_range(off_w, g->SW, g->W, g->OW, &lo, &hi);
    if (lo == hi)
        return;
    for (int64_t oh = 0; oh < g->OH; oh++, src += g->OW) {
        int64_t ih = oh * g->SH - g->PH + kh * g->DH;
        if (ih < 0 || ih >= g->H)
            continue;
        float *dst = plane + ih * g->W + off_w + lo * g->SW; /* first written element */
        const float *s = src + lo;
        int64_t n = hi - lo;
        if (g->SW == 1)
            for (int64_t k = 0; k < n; k++)
                dst[k] += s[k];
        else
            for (int64_t k = 0; k < n; k++)
                dst[k * g->SW] += s[k];
    }
}

static void col2im_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const col2im_job *j = ctx;
    const conv_geom *g = &j->g;
    int64_t taps = g->KH * g->KW, ohw = g->OH * g->OW, hw = g->H * g->W;
    for (int64_t p = begin; p < end; p++) {
        float *plane = j->dx + p * hw;
        if (!j->accum)
            memset(plane, 0, (size_t)hw * sizeof *plane);
        const float *rows = j->col + p * taps * ohw; /* rows (c*KH + kh)*KW + kw of image b */
        for (int64_t tap = 0; tap < taps; tap++)
            col2im_row(g, rows + tap * ohw, plane, tap / g->KW, tap % g->KW);
    }
}

void cpu_col2im(const cpu_kernel_args *a)
{
    col2im_job j = {geom_of(a->p), a->args[0], a->args[1], a->p->i[14]};
    int64_t planes = j.g.batch * j.g.C;
    if (planes * j.g.H * j.g.W == 0)
        return;
    if (j.g.KH * j.g.KW * j.g.OH * j.g.OW == 0) { /* no columns: dx (+)= 0 */
        if (!j.accum)
            memset(j.dx, 0, (size_t)(planes * j.g.H * j.g.W) * sizeof *j.dx);
        return;
    }
    cpu_parallel_for(a->pool, planes, chunk_of(j.g.KH * j.g.KW * j.g.OH * j.g.OW), col2im_range, &j);
}
