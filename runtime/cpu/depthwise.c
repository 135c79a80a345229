/* Direct depthwise convolution (RT_K_DWCONV_*).
 *
 * Every plane (n, c) meets filter c alone, so there is no column buffer,
 * and each output is summed by one task in a fixed order: results do
 * not depend on the thread count.
 *
 * Depthwise planes are small (a few to a few dozen columns), so loops
 * per output row, or even per plane, would be short. With equal strides
 * S a task takes one channel and lays the planes of a group of images
 * out in per-thread scratch: each zero-padded (row pitch P) in a slot of
 * L floats, outputs on a "wide" grid of L/S per image (output (oh, ow)
 * of image k at k*L/S + oh*P + ow; the other positions are scratch, read
 * as 0 where they feed a sum). Wide output i of tap (kh, kw) then reads
 * element S*i + kh*DH*P + kw*DW, so each tap is one long loop over the
 * group's planes with the channel's one weight, which GCC vectorises
 * (unit stride for S = 1). Unequal strides and planes too large for the
 * scratch take plain loops that add the same terms. */
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"
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

/* Items per chunk; work in double, as the product of the sizes may
 * exceed what any one tensor holds. */
static int64_t grain_of(double work_per_item)
{
    double g = CHUNK_WORK / (work_per_item > 1 ? work_per_item : 1);
    return g > 1 ? (int64_t)g : 1;
}

/* ---- the flattened layout ---- */

typedef struct dw_flat {
    int64_t P;      /* row pitch of the padded planes and of the wide outputs */
    int64_t L;      /* floats per image's padded plane, a multiple of S */
    int64_t reach;  /* the farthest tap's shift: kh*DH*P + kw*DW at its largest */
    int64_t images; /* images per group */
} dw_flat;

/* Whether the flattened layout applies (equal strides) and fits the
 * scratch beside the padded planes: `per_wide` wide grids (L/S floats)
 * per image of a group and `once_wide` more. Input element (r, c) of
 * image k sits at k*L + (r + PH)*P + c + PW. */
static bool flat_of(const dw_geom *g, int64_t per_wide, int64_t once_wide, dw_flat *f)
{
    if (g->SH != g->SW || g->OH * g->OW == 0 || g->batch == 0)
        return false;
    int64_t S = g->SW;
    double limit = (double)CPU_SCRATCH_BYTES / sizeof(float);
    /* sizes in double first: huge parameters must not overflow */
    double rows_d = (double)(g->OH - 1) * S + (double)(g->KH - 1) * g->DH + 1;
    double P_d = (double)(g->OW - 1) * S + (double)(g->KW - 1) * g->DW + 1;
    rows_d = rows_d > (double)(g->PH + g->H) ? rows_d : (double)(g->PH + g->H);
    P_d = P_d > (double)(g->PW + g->W) ? P_d : (double)(g->PW + g->W);
    if (rows_d * P_d * (double)(2 + per_wide + once_wide) > limit)
        return false;
    int64_t rows = (int64_t)rows_d;
    f->P = (int64_t)P_d;
    f->L = (rows * f->P + S - 1) / S * S;
    f->reach = (g->KH - 1) * g->DH * f->P + (g->KW - 1) * g->DW;
    /* per image: its padded plane and per_wide wide grids; once: the
     * reads past the last plane and once_wide grids */
    int64_t per = f->L + per_wide * (f->L / S), fixed = f->reach + 1 + once_wide * (f->L / S);
    int64_t fit = ((int64_t)limit - fixed) / per;
    f->images = fit < g->batch ? fit : g->batch;
    return f->images >= 1;
}

/* Offset of tap (kh, kw)'s first read in a padded plane. */
static int64_t tap_offset(const dw_geom *g, const dw_flat *f, int64_t tap)
{
    return (tap / g->KW) * g->DH * f->P + (tap % g->KW) * g->DW;
}

/* The image plane x[H, W] into the interior of its padded plane xp,
 * whose padding stays as it is (zero). */
static void pad_plane(const dw_geom *g, const dw_flat *f, const float *restrict x, float *restrict xp)
{
    for (int64_t r = 0; r < g->H; r++) {
        const float *src = x + r * g->W;
        float *dst = xp + (g->PH + r) * f->P + g->PW;
        for (int64_t k = 0; k < g->W; k++)
            dst[k] = src[k];
    }
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

/* acc[i] += a[k*n + i] * b[s*(k*n + i)] for each of `count` images k in
 * order: one float sum per wide output position over a group. */
CPU_CLONES static void mul_acc(float *restrict acc, const float *restrict a, const float *restrict b, int64_t s,
                               int64_t n, int64_t count)
{
    for (int64_t k = 0; k < count; k++, a += n, b += s * n) {
        if (s == 1)
            for (int64_t i = 0; i < n; i++)
                acc[i] += a[i] * b[i];
        else
            for (int64_t i = 0; i < n; i++)
                acc[i] += a[i] * b[i * s];
    }
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
    const float *in;   /* x (forward, weight gradient) or dy (input gradient) */
    const float *w;    /* filters (forward, input gradient) or dy (weight gradient) */
    const float *bias; /* forward only; NULL without bias */
    float *out;
    int accum;
} dw_job;

/* ---- forward: one item is one plane (n, c) ----
 * y = bias (or 0), then each tap's w * x in tap order, x = 0 outside. */

/* One item is one channel, its images in groups. */
static void fwd_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW, S = g->SW, slot = f->L / S;
    float *xp = cpu_pool_scratch(j->pool, thread), *yw = xp + f->images * f->L + f->reach + 1;
    memset(xp, 0, (size_t)(f->images * f->L + f->reach + 1) * sizeof *xp); /* the padding */
    for (int64_t c = begin; c < end; c++)
        for (int64_t n0 = 0; n0 < g->batch; n0 += f->images) {
            int64_t group = g->batch - n0 < f->images ? g->batch - n0 : f->images;
            for (int64_t k = 0; k < group; k++)
                pad_plane(g, f, j->in + ((n0 + k) * g->C + c) * hw, xp + k * f->L);
            float b = j->bias ? j->bias[c] : 0.0f;
            for (int64_t i = 0; i < group * slot; i++)
                yw[i] = b;
            for (int64_t tap = 0; tap < taps; tap++)
                axpy(yw, xp + tap_offset(g, f, tap), S, j->w[c * taps + tap], group * slot);
            for (int64_t k = 0; k < group; k++) {
                float *y = j->out + ((n0 + k) * g->C + c) * ohw;
                for (int64_t oh = 0; oh < g->OH; oh++)
                    memcpy(y + oh * g->OW, yw + k * slot + oh * f->P, (size_t)g->OW * sizeof *y);
            }
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
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    if (flat_of(&j.g, 1, 0, &j.f)) /* the wide outputs */
        cpu_parallel_for(a->pool, j.g.C, grain_of(work * (double)j.g.batch), fwd_channels, &j);
    else
        cpu_parallel_for(a->pool, planes, grain_of(work), fwd_planes_plain, &j);
}

/* ---- input gradient: one item is one plane (n, c) ----
 * dx (+)= the sum, from 0 in tap order, of the terms w * dy that reach
 * each element (and, in the flattened layout, terms w * 0). */

/* One item is one channel, its images in groups. */
static void bwd_input_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW, S = g->SW;
    /* dy upsampled: dyu[k*L + S*(oh*P + ow)] = dy of image k, 0 elsewhere,
     * so the adjoint of the forward's reads is a unit-stride loop */
    int64_t span = f->images * f->L + f->reach + 1;
    float *dxp = cpu_pool_scratch(j->pool, thread), *dyu = dxp + span;
    memset(dyu, 0, (size_t)(f->images * f->L) * sizeof *dyu); /* only the dy positions change */
    for (int64_t c = begin; c < end; c++)
        for (int64_t n0 = 0; n0 < g->batch; n0 += f->images) {
            int64_t group = g->batch - n0 < f->images ? g->batch - n0 : f->images;
            for (int64_t k = 0; k < group; k++) {
                const float *dy = j->in + ((n0 + k) * g->C + c) * ohw;
                float *u = dyu + k * f->L;
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++)
                        u[S * (oh * f->P + ow)] = dy[oh * g->OW + ow];
            }
            memset(dxp, 0, (size_t)span * sizeof *dxp);
            for (int64_t tap = 0; tap < taps; tap++)
                axpy(dxp + tap_offset(g, f, tap), dyu, 1, j->w[c * taps + tap], group * f->L);
            for (int64_t k = 0; k < group; k++) {
                float *dx = j->out + ((n0 + k) * g->C + c) * hw;
                for (int64_t r = 0; r < g->H; r++) {
                    const float *src = dxp + k * f->L + (g->PH + r) * f->P + g->PW;
                    float *dst = dx + r * g->W;
                    if (j->accum)
                        for (int64_t q = 0; q < g->W; q++)
                            dst[q] += src[q];
                    else
                        for (int64_t q = 0; q < g->W; q++)
                            dst[q] = src[q];
                }
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
    double work = (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    if (flat_of(&j.g, j.g.SW, 0, &j.f)) /* the upsampled dy: a padded plane each */
        cpu_parallel_for(a->pool, j.g.C, grain_of(work * (double)j.g.batch), bwd_input_channels, &j);
    else
        cpu_parallel_for(a->pool, planes, grain_of(work), bwd_input_planes_plain, &j);
}

/* ---- weight gradient: one item is one channel c ---- */

/* Per tap, one float running sum per wide output position over the
 * images (0 off the outputs), then those sums added in double
 * (fastmath.h's fixed lanes). */
static void bwd_weight_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    const dw_job *j = ctx;
    const dw_geom *g = &j->g;
    const dw_flat *f = &j->f;
    int64_t taps = g->KH * g->KW, hw = g->H * g->W, ohw = g->OH * g->OW, S = g->SW, slot = f->L / S;
    int64_t span = f->images * f->L + f->reach + 1;
    float *xp = cpu_pool_scratch(j->pool, thread), *dyw = xp + span, *acc = dyw + f->images * slot;
    memset(xp, 0, (size_t)span * sizeof *xp);
    memset(dyw, 0, (size_t)(f->images * slot) * sizeof *dyw);
    for (int64_t c = begin; c < end; c++) {
        memset(acc, 0, (size_t)(taps * slot) * sizeof *acc);
        for (int64_t n0 = 0; n0 < g->batch; n0 += f->images) {
            int64_t group = g->batch - n0 < f->images ? g->batch - n0 : f->images;
            for (int64_t k = 0; k < group; k++) {
                int64_t p = (n0 + k) * g->C + c;
                pad_plane(g, f, j->in + p * hw, xp + k * f->L);
                for (int64_t oh = 0; oh < g->OH; oh++)
                    memcpy(dyw + k * slot + oh * f->P, j->w + p * ohw + oh * g->OW, (size_t)g->OW * sizeof *dyw);
            }
            for (int64_t tap = 0; tap < taps; tap++)
                mul_acc(acc + tap * slot, dyw, xp + tap_offset(g, f, tap), S, slot, group);
        }
        for (int64_t tap = 0; tap < taps; tap++) {
            double s = cpu_sum_f64(acc + tap * slot, slot);
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
    double work = (double)j.g.batch * (double)(j.g.OH * j.g.OW) * (double)(j.g.KH * j.g.KW);
    /* dy on the wide grid per image; the taps' sums, one wide grid each */
    bool flat = flat_of(&j.g, 1, j.g.KH * j.g.KW, &j.f);
    cpu_parallel_for(a->pool, j.g.C, grain_of(work), flat ? bwd_weight_channels : bwd_weight_channels_plain, &j);
}
