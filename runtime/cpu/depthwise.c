/* Direct depthwise convolution (RT_K_DWCONV_*).
 *
 * Every plane (n, c) meets filter c alone, so the kernels work a plane
 * (forward, input gradient) or a channel (weight gradient) at a time
 * with no column buffer, and each output is summed by one task in a
 * fixed order: results do not depend on the thread count.
 *
 * Depthwise planes are small (a few to a few dozen columns), so loops
 * per output row would be short. With equal strides S the kernels work
 * on flattened planes in per-thread scratch instead: the input copied
 * into a zero-padded plane of row pitch P, and outputs on a "wide" grid
 * of OH rows of P columns (the columns past OW are scratch, and read as
 * 0 where they feed a sum). Wide output i of a tap then reads element
 * S*i + shift of the padded plane, so each tap is one long loop over the
 * plane that GCC vectorises (unit stride for S = 1). Unequal strides and
 * planes too large for the scratch take plain loops that add the same
 * terms. */
#include <string.h>

#include "cpu_kernels.h"
#include "simd.h"

/* Roughly how many multiply-adds one parallel chunk should do. */
#define CHUNK_WORK 65536
/* Columns of running sums the plain weight gradient keeps on the stack. */
#define WGRAD_BLOCK 256

typedef struct dw_geom {
    int64_t batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
} dw_geom;

static dw_geom geom_of(const rt_params *p)
{
    const int32_t *i = p->i;
    return (dw_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13]};
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Items per chunk; work in double, as the product of the sizes may
 * exceed what any one tensor holds. */
static int64_t grain_of(double work_per_item)
{
    double g = CHUNK_WORK / (work_per_item > 1 ? work_per_item : 1);
    return g > 1 ? (int64_t)g : 1;
}

/* ---- the flattened layout ---- */

typedef struct dw_flat {
    int64_t P;     /* row pitch of the padded plane and of the wide outputs */
    int64_t wide;  /* OH * P wide outputs */
    int64_t plane; /* floats of the padded plane, with room for every read */
} dw_flat;

/* Whether the flattened layout applies (equal strides S) and fits the
 * scratch, with `extra` floats per wide output beside the padded plane
 * and one wide plane. Input element (r, c) sits at (r + PH)*P + c + PW
 * of the padded plane; wide output i = oh*P + ow of tap (kh, kw) reads
 * S*i + kh*DH*P + kw*DW. */
static bool flat_of(const dw_geom *g, int64_t extra, dw_flat *f)
{
    if (g->SH != g->SW || g->OH * g->OW == 0)
        return false;
    int64_t S = g->SW;
    double limit = (double)CPU_SCRATCH_BYTES / sizeof(float);
    /* sizes in double first: huge parameters must not overflow */
    double rows_d = (double)(g->OH - 1) * S + (double)(g->KH - 1) * g->DH + 1;
    double P_d = (double)(g->OW - 1) * S + (double)(g->KW - 1) * g->DW + 1;
    rows_d = rows_d > (double)(g->PH + g->H) ? rows_d : (double)(g->PH + g->H);
    P_d = P_d > (double)(g->PW + g->W) ? P_d : (double)(g->PW + g->W);
    if (rows_d * P_d > limit || (double)g->OH * P_d * (double)(2 + extra) > limit)
        return false;
    int64_t rows = (int64_t)rows_d, P = (int64_t)P_d;
    f->P = P;
    f->wide = g->OH * P;
    /* the last read: wide output S*wide - 1 of the input gradient's
     * upsampled grid, the others' S*(wide - 1) */
    int64_t last = S * f->wide - 1 + (g->KH - 1) * g->DH * P + (g->KW - 1) * g->DW;
    f->plane = max64(rows * P, last + 1);
    return (double)f->plane + (double)f->wide * (double)(1 + extra) <= limit;
}

/* Offset of tap (kh, kw)'s first read in the padded plane. */
static int64_t tap_offset(const dw_geom *g, const dw_flat *f, int64_t tap)
{
    return (tap / g->KW) * g->DH * f->P + (tap % g->KW) * g->DW;
}

/* The image plane x[H, W] into the interior of xp, whose padding stays
 * as it is (zero). */
static void pad_plane(const dw_geom *g, const dw_flat *f, const float *x, float *xp)
{
    for (int64_t r = 0; r < g->H; r++)
        memcpy(xp + (g->PH + r) * f->P + g->PW, x + r * g->W, (size_t)g->W * sizeof *x);
}

/* y[i] += w * x[s*i]. */
CPU_CLONES static void axpy(float *restrict y, const float *restrict x, int64_t s, float w, int64_t n)
{
    if (s == 1)
        for (int64_t i = 0; i < n; i++)
            y[i] += w * x[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] += w * x[i * s];
}

/* acc[i] += a[i] * b[s*i]. */
CPU_CLONES static void mul_acc(float *restrict acc, const float *restrict a, const float *restrict b, int64_t s,
                               int64_t n)
{
    if (s == 1)
        for (int64_t i = 0; i < n; i++)
            acc[i] += a[i] * b[i];
    else
        for (int64_t i = 0; i < n; i++)
            acc[i] += a[i] * b[i * s];
}

/* The input element that tap (kh, kw) of output (oh, ow) reads, or -1
 * outside the image. */
static int64_t input_at(const dw_geom *g, int64_t oh, int64_t ow, int64_t kh, int64_t kw)
{
    int64_t ih = oh * g->SH - g->PH + kh * g->DH, iw = ow * g->SW - g->PW + kw * g->DW;
    return ih >= 0 && ih < g->H && iw >= 0 && iw < g->W ? ih * g->W + iw : -1;
}

typedef struct dw_job {
    cpu_pool *pool;
    dw_geom g;
    dw_flat f;
    bool flat;
    const float *in;   /* x (forward, weight gradient) or dy (input gradient) */
    const float *w;    /* filters (forward, input gradient) or dy (weight gradient) */
    const float *bias; /* forward only; NULL without bias */
    float *out;
    int accum;
} dw_job;

/* ---- forward: one item is one plane (n, c) ----
 * y = bias (or 0), then each tap's w * x in tap order, x = 0 outside. */

static void fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW;
    float *xp = cpu_pool_scratch(j->pool, thread), *yw = xp + f->plane;
    memset(xp, 0, (size_t)f->plane * sizeof *xp); /* the padding, for every plane of the chunk */
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        float b = j->bias ? j->bias[c] : 0.0f;
        pad_plane(g, f, j->in + p * hw, xp);
        for (int64_t i = 0; i < f->wide; i++)
            yw[i] = b;
        for (int64_t tap = 0; tap < taps; tap++)
            axpy(yw, xp + tap_offset(g, f, tap), g->SW, j->w[c * taps + tap], f->wide);
        float *y = j->out + p * ohw;
        for (int64_t oh = 0; oh < g->OH; oh++)
            memcpy(y + oh * g->OW, yw + oh * f->P, (size_t)g->OW * sizeof *y);
    }
}

/* Per output, as the GPU does. */
static void fwd_planes_plain(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t taps = g->KH * g->KW;
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        const float *x = j->in + p * g->H * g->W, *w = j->w + c * taps;
        float *y = j->out + p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                float acc = j->bias ? j->bias[c] : 0.0f;
                for (int64_t tap = 0; tap < taps; tap++) {
                    int64_t at = input_at(g, oh, ow, tap / g->KW, tap % g->KW);
                    acc += w[tap] * (at >= 0 ? x[at] : 0.0f);
                }
                y[oh * g->OW + ow] = acc;
            }
    }
}

void cpu_dwconv_fwd(const cpu_kernel_args *a)
{
    dw_job j = {.pool = a->pool, .g = geom_of(a->p), .in = a->args[0], .w = a->args[1],
                .bias = a->sizes[2] ? a->args[2] : NULL, .out = a->args[3]};
    int64_t planes = j.g.batch * j.g.C;
    if (planes * j.g.OH * j.g.OW == 0)
        return;
    j.flat = flat_of(&j.g, 0, &j.f);
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, planes, grain_of(work), j.flat ? fwd_planes : fwd_planes_plain, &j);
}

/* ---- input gradient: one item is one plane (n, c) ----
 * dx (+)= the sum, from 0 in tap order, of the terms w * dy that reach
 * each element (and, in the flattened layout, terms w * 0). */

static void bwd_input_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW, S = g->SW;
    /* dy upsampled: dyu[S*(oh*P + ow)] = dy[oh, ow], 0 elsewhere, so the
     * adjoint of the forward's reads S*i + shift is a unit-stride loop */
    float *dxp = cpu_pool_scratch(j->pool, thread), *dyu = dxp + f->plane;
    memset(dyu, 0, (size_t)(S * f->wide) * sizeof *dyu); /* only the dy positions change */
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        const float *dy = j->in + p * ohw;
        if (S == 1)
            for (int64_t oh = 0; oh < g->OH; oh++)
                memcpy(dyu + oh * f->P, dy + oh * g->OW, (size_t)g->OW * sizeof *dy);
        else
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++)
                    dyu[S * (oh * f->P + ow)] = dy[oh * g->OW + ow];
        memset(dxp, 0, (size_t)f->plane * sizeof *dxp);
        for (int64_t tap = 0; tap < taps; tap++)
            axpy(dxp + tap_offset(g, f, tap), dyu, 1, j->w[c * taps + tap], S * f->wide);
        float *dx = j->out + p * hw;
        for (int64_t r = 0; r < g->H; r++) {
            const float *src = dxp + (g->PH + r) * f->P + g->PW;
            float *dst = dx + r * g->W;
            if (j->accum)
                for (int64_t k = 0; k < g->W; k++)
                    dst[k] += src[k];
            else
                memcpy(dst, src, (size_t)g->W * sizeof *dst);
        }
    }
}

/* Per dx element, gathering as the GPU does. */
static void bwd_input_planes_plain(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t taps = g->KH * g->KW;
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % g->C;
        const float *dy = j->in + p * g->OH * g->OW, *w = j->w + c * taps;
        float *dx = j->out + p * g->H * g->W;
        for (int64_t ih = 0; ih < g->H; ih++)
            for (int64_t iw = 0; iw < g->W; iw++) {
                float acc = 0.0f;
                for (int64_t kh = 0; kh < g->KH; kh++) {
                    int64_t th = ih + g->PH - kh * g->DH;
                    if (th < 0 || th % g->SH || th / g->SH >= g->OH)
                        continue;
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        int64_t tw = iw + g->PW - kw * g->DW;
                        if (tw >= 0 && tw % g->SW == 0 && tw / g->SW < g->OW)
                            acc += w[kh * g->KW + kw] * dy[th / g->SH * g->OW + tw / g->SW];
                    }
                }
                float *d = &dx[ih * g->W + iw];
                *d = j->accum ? *d + acc : acc;
            }
    }
}

void cpu_dwconv_bwd_input(const cpu_kernel_args *a)
{
    dw_job j = {.pool = a->pool, .g = geom_of(a->p), .in = a->args[0], .w = a->args[1], .out = a->args[2],
                .accum = a->p->i[14]};
    int64_t planes = j.g.batch * j.g.C;
    if (planes * j.g.H * j.g.W == 0)
        return;
    j.flat = flat_of(&j.g, j.g.SW - 1, &j.f); /* the upsampled dy: SW wide planes */
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, planes, grain_of(work), j.flat ? bwd_input_planes : bwd_input_planes_plain, &j);
}

/* ---- weight gradient: one item is one channel c ----
 * One float running sum per wide output and tap over the images (the
 * loop over outputs vectorises), then each tap's sums added in double. */

static void bwd_weight_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW;
    float *xp = cpu_pool_scratch(j->pool, thread), *dyw = xp + f->plane, *acc = dyw + f->wide;
    memset(xp, 0, (size_t)f->plane * sizeof *xp);
    memset(dyw, 0, (size_t)f->wide * sizeof *dyw);
    for (int64_t c = begin; c < end; c++) {
        memset(acc, 0, (size_t)(taps * f->wide) * sizeof *acc);
        for (int64_t n = 0; n < g->batch; n++) {
            int64_t p = n * g->C + c;
            pad_plane(g, f, j->in + p * hw, xp);
            for (int64_t oh = 0; oh < g->OH; oh++)
                memcpy(dyw + oh * f->P, j->w + p * ohw + oh * g->OW, (size_t)g->OW * sizeof *dyw);
            for (int64_t tap = 0; tap < taps; tap++)
                mul_acc(acc + tap * f->wide, dyw, xp + tap_offset(g, f, tap), g->SW, f->wide);
        }
        for (int64_t tap = 0; tap < taps; tap++) {
            double s = 0;
            for (int64_t i = 0; i < f->wide; i++)
                s += acc[tap * f->wide + i];
            float *d = &j->out[c * taps + tap];
            *d = j->accum ? (float)((double)*d + s) : (float)s;
        }
    }
}

/* Tap by tap, per column block: double running sums over the images and
 * rows (long columns: big planes come here), then the block's sums. */
static void bwd_weight_channels_plain(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    int64_t taps = g->KH * g->KW, dy_img = g->C * g->OH * g->OW, x_img = g->C * g->H * g->W;
    double acc[WGRAD_BLOCK];
    for (int64_t c = begin; c < end; c++)
        for (int64_t tap = 0; tap < taps; tap++) {
            int64_t kh = tap / g->KW, kw = tap % g->KW;
            double s = 0;
            for (int64_t ow0 = 0; ow0 < g->OW; ow0 += WGRAD_BLOCK) {
                int64_t cols = g->OW - ow0 < WGRAD_BLOCK ? g->OW - ow0 : WGRAD_BLOCK;
                memset(acc, 0, (size_t)cols * sizeof *acc);
                for (int64_t n = 0; n < g->batch; n++) {
                    const float *dy = j->w + n * dy_img + c * g->OH * g->OW, *x = j->in + n * x_img + c * g->H * g->W;
                    for (int64_t oh = 0; oh < g->OH; oh++)
                        for (int64_t k = 0; k < cols; k++) {
                            int64_t at = input_at(g, oh, ow0 + k, kh, kw);
                            if (at >= 0)
                                acc[k] += (double)dy[oh * g->OW + ow0 + k] * x[at];
                        }
                }
                for (int64_t k = 0; k < cols; k++)
                    s += acc[k];
            }
            float *d = &j->out[c * taps + tap];
            *d = j->accum ? (float)((double)*d + s) : (float)s;
        }
}

void cpu_dwconv_bwd_weight(const cpu_kernel_args *a)
{
    dw_job j = {.pool = a->pool, .g = geom_of(a->p), .in = a->args[1], .w = a->args[0], .out = a->args[2],
                .accum = a->p->i[14]};
    if (j.g.C * j.g.KH * j.g.KW == 0)
        return;
    j.flat = j.g.batch > 0 && flat_of(&j.g, j.g.KH * j.g.KW, &j.f);
    double work = (double)j.g.batch * (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    cpu_parallel_for(a->pool, j.g.C, grain_of(work), j.flat ? bwd_weight_channels : bwd_weight_channels_plain, &j);
}
