/* Direct depthwise convolution (RT_K_DWCONV_*).
 *
 * Every plane (n, c) meets filter c alone, so the three kernels work a
 * plane or a channel at a time with no column buffer. For one tap
 * (kh, kw) the output rows and columns whose input lies inside the image
 * form contiguous ranges, computed once per tap, so the inner loops are
 * branch-free runs over ow (unit stride when SW == 1, which GCC
 * vectorises). Each output element is summed by one task in a fixed
 * order, so results do not depend on the thread count. */
#include <string.h>

#include "cpu_kernels.h"
#include "simd.h"

/* Roughly how many multiply-adds one parallel chunk should do. */
#define CHUNK_WORK 65536
/* Columns of running sums the weight gradient keeps on the stack. */
#define WGRAD_BLOCK 256

typedef struct dw_geom {
    int64_t batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
} dw_geom;

static dw_geom geom_of(const rt_params *p)
{
    const int32_t *i = p->i;
    return (dw_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13]};
}

/* Outputs o in [*lo, *hi) read input o*stride + off inside [0, size). */
static void inside_outputs(int64_t off, int64_t stride, int64_t size, int64_t outs, int64_t *lo, int64_t *hi)
{
    int64_t first = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t end = size - off <= 0 ? 0 : (size - off - 1) / stride + 1;
    *lo = first < outs ? first : outs;
    *hi = end < outs ? end : outs;
    if (*hi < *lo)
        *hi = *lo;
}

/* The ranges of tap (kh, kw): output rows [oh_lo, oh_hi) and columns
 * [ow_lo, ow_hi) read inside the image, at row oh*SH + off_h and column
 * ow*SW + off_w. */
typedef struct dw_tap {
    int64_t off_h, off_w, oh_lo, oh_hi, ow_lo, ow_hi;
} dw_tap;

static dw_tap tap_of(const dw_geom *g, int64_t kh, int64_t kw)
{
    dw_tap t;
    t.off_h = kh * g->DH - g->PH;
    t.off_w = kw * g->DW - g->PW;
    inside_outputs(t.off_h, g->SH, g->H, g->OH, &t.oh_lo, &t.oh_hi);
    inside_outputs(t.off_w, g->SW, g->W, g->OW, &t.ow_lo, &t.ow_hi);
    return t;
}

/* Items per chunk; work in double, as the product of the sizes may
 * exceed what any one tensor holds. */
static int64_t grain_of(double work_per_item)
{
    double g = CHUNK_WORK / (work_per_item > 1 ? work_per_item : 1);
    return g > 1 ? (int64_t)g : 1;
}

typedef struct dw_job {
    dw_geom g;
    const float *in;   /* x (forward, weight gradient) or dy (input gradient) */
    const float *w;    /* filters (forward, input gradient) or dy (weight gradient) */
    const float *bias; /* forward only; NULL without bias */
    float *out;
    int accum;
} dw_job;

/* ---- forward: one item is one plane (n, c) ---- */

/* y[oh, ow] += wt * x[oh*SH + off_h, ow*SW + off_w] over the tap's ranges. */
CPU_CLONES static void fwd_tap(const dw_geom *g, const dw_tap *t, float wt, const float *restrict x, float *restrict y)
{
    const int64_t SW = g->SW, W = g->W, OW = g->OW;
    for (int64_t oh = t->oh_lo; oh < t->oh_hi; oh++) {
        const float *xr = x + (oh * g->SH + t->off_h) * W + t->off_w;
        float *yr = y + oh * OW;
        if (SW == 1)
            for (int64_t ow = t->ow_lo; ow < t->ow_hi; ow++)
                yr[ow] += wt * xr[ow];
        else
            for (int64_t ow = t->ow_lo; ow < t->ow_hi; ow++)
                yr[ow] += wt * xr[ow * SW];
    }
}

static void fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t ohw = g->OH * g->OW, taps = g->KH * g->KW;
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        float *y = j->out + p * ohw;
        float b = j->bias ? j->bias[c] : 0.0f;
        for (int64_t k = 0; k < ohw; k++)
            y[k] = b;
        /* tap by tap over the plane: each output adds its taps in order */
        for (int64_t tap = 0; tap < taps; tap++) {
            dw_tap t = tap_of(g, tap / g->KW, tap % g->KW);
            if (t.ow_lo < t.ow_hi)
                fwd_tap(g, &t, j->w[c * taps + tap], j->in + p * g->H * g->W, y);
        }
    }
}

void cpu_dwconv_fwd(const cpu_kernel_args *a)
{
    dw_job j = {geom_of(a->p), a->args[0], a->args[1], a->sizes[2] ? a->args[2] : NULL, a->args[3], 0};
    int64_t planes = j.g.batch * j.g.C;
    if (planes * j.g.OH * j.g.OW == 0)
        return;
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, planes, grain_of(work), fwd_planes, &j);
}

/* ---- input gradient: one item is one plane (n, c) ---- */

/* The adjoint of fwd_tap: dx[oh*SH + off_h, ow*SW + off_w] += wt * dy[oh, ow].
 * A tap maps distinct outputs to distinct inputs, so each dx element
 * gets at most one term per tap. */
CPU_CLONES static void bwd_input_tap(const dw_geom *g, const dw_tap *t, float wt, const float *restrict dy,
                                     float *restrict dx)
{
    const int64_t SW = g->SW, W = g->W, OW = g->OW;
    for (int64_t oh = t->oh_lo; oh < t->oh_hi; oh++) {
        float *dxr = dx + (oh * g->SH + t->off_h) * W + t->off_w;
        const float *dyr = dy + oh * OW;
        if (SW == 1)
            for (int64_t ow = t->ow_lo; ow < t->ow_hi; ow++)
                dxr[ow] += wt * dyr[ow];
        else
            for (int64_t ow = t->ow_lo; ow < t->ow_hi; ow++)
                dxr[ow * SW] += wt * dyr[ow];
    }
}

static void bwd_input_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t hw = g->H * g->W, taps = g->KH * g->KW;
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        float *dx = j->out + p * hw;
        if (!j->accum)
            memset(dx, 0, (size_t)hw * sizeof *dx);
        /* taps in order: every dx element adds its terms in tap order,
         * as the gather on the GPU does */
        for (int64_t tap = 0; tap < taps; tap++) {
            dw_tap t = tap_of(g, tap / g->KW, tap % g->KW);
            if (t.ow_lo < t.ow_hi)
                bwd_input_tap(g, &t, j->w[c * taps + tap], j->in + p * g->OH * g->OW, dx);
        }
    }
}

void cpu_dwconv_bwd_input(const cpu_kernel_args *a)
{
    dw_job j = {geom_of(a->p), a->args[0], a->args[1], NULL, a->args[2], a->p->i[14]};
    int64_t planes = j.g.batch * j.g.C;
    if (planes * j.g.H * j.g.W == 0)
        return;
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, planes, grain_of(work), bwd_input_planes, &j);
}

/* ---- weight gradient: one item is one channel c ---- */

/* acc[ow - lo] += dy[oh, ow] * x[oh*SH + off_h, ow*SW + off_w] for
 * columns [lo, hi) of the tap's rows, image after image. */
CPU_CLONES static void bwd_weight_block(const dw_geom *g, const dw_tap *t, int64_t lo, int64_t hi,
                                        const float *restrict dy, const float *restrict x, float *restrict acc)
{
    const int64_t SW = g->SW, W = g->W, OW = g->OW, dy_img = g->C * g->OH * OW, x_img = g->C * g->H * W;
    for (int64_t n = 0; n < g->batch; n++, dy += dy_img, x += x_img)
        for (int64_t oh = t->oh_lo; oh < t->oh_hi; oh++) {
            const float *xr = x + (oh * g->SH + t->off_h) * W + t->off_w;
            const float *dyr = dy + oh * OW;
            if (SW == 1)
                for (int64_t ow = lo; ow < hi; ow++)
                    acc[ow - lo] += dyr[ow] * xr[ow];
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    acc[ow - lo] += dyr[ow] * xr[ow * SW];
        }
}

/* One float running sum per output column (the column loop vectorises),
 * over every image and row, then the columns' sums added in double. */
static void bwd_weight_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t taps = g->KH * g->KW;
    float acc[WGRAD_BLOCK];
    for (int64_t c = begin; c < end; c++) {
        const float *dy = j->w + c * g->OH * g->OW, *x = j->in + c * g->H * g->W;
        for (int64_t tap = 0; tap < taps; tap++) {
            dw_tap t = tap_of(g, tap / g->KW, tap % g->KW);
            double s = 0;
            for (int64_t lo = t.ow_lo; lo < t.ow_hi && t.oh_lo < t.oh_hi; lo += WGRAD_BLOCK) {
                int64_t hi = t.ow_hi - lo < WGRAD_BLOCK ? t.ow_hi : lo + WGRAD_BLOCK;
                memset(acc, 0, (size_t)(hi - lo) * sizeof *acc);
                bwd_weight_block(g, &t, lo, hi, dy, x, acc);
                for (int64_t k = 0; k < hi - lo; k++)
                    s += acc[k];
            }
            float *d = &j->out[c * taps + tap];
            *d = j->accum ? (float)((double)*d + s) : (float)s;
        }
    }
}

void cpu_dwconv_bwd_weight(const cpu_kernel_args *a)
{
    dw_job j = {geom_of(a->p), a->args[1], a->args[0], NULL, a->args[2], a->p->i[14]};
    if (j.g.C * j.g.KH * j.g.KW == 0)
        return;
    double work = (double)j.g.batch * (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, j.g.C, grain_of(work), bwd_weight_channels, &j);
}
