/* Patch unfolding for convolution as GEMM.
 *
 * im2col lays each image's receptive fields out as columns so that a
 * convolution becomes one matrix product; col2im is its adjoint and folds
 * column gradients back into the image, summing where windows overlap.
 * For one kernel tap (kh, kw) the output columns whose input lies inside
 * the image form a contiguous range, computed once per row, so the inner
 * loops are plain strided copies and adds without bounds tests. */
#include <stdbool.h>
#include <string.h>

#include "cpu_kernels.h"
#include "simd.h"

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
    void (*row)(const conv_geom *g, const float *plane, float *dst, int64_t kh, int64_t kw);
} im2col_job;

/* The general row: any stride. */
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
        for (int64_t ow = lo; ow < hi; ow++)
            dst[ow] = src[ow * g->SW + off_w];
        memset(dst + hi, 0, (size_t)(g->OW - hi) * sizeof *dst);
    }
}

/* SW == 1: each output row is a shifted run of an input row between
 * zero borders, written in one pass of inline loops. (GCC turns the
 * longer ones into memset and memcpy calls.) */
CPU_CLONES static void im2col_row_s1(const conv_geom *g, const float *restrict plane, float *restrict dst, int64_t kh,
                                     int64_t kw)
{
    int64_t off_w = kw * g->DW - g->PW, lo, hi, OW = g->OW;
    inside_range(off_w, 1, g->W, OW, &lo, &hi);
    for (int64_t oh = 0; oh < g->OH; oh++, dst += OW) {
        int64_t ih = oh * g->SH - g->PH + kh * g->DH;
        if (ih < 0 || ih >= g->H || lo == hi) {
            for (int64_t ow = 0; ow < OW; ow++)
                dst[ow] = 0.0f;
            continue;
        }
        const float *src = plane + ih * g->W;
        for (int64_t ow = 0; ow < lo; ow++)
            dst[ow] = 0.0f;
        for (int64_t ow = lo; ow < hi; ow++)
            dst[ow] = src[ow + off_w];
        for (int64_t ow = hi; ow < OW; ow++)
            dst[ow] = 0.0f;
    }
}

#if CPU_HAVE_AVX512
/* SW == 1 with AVX-512: per 16 output columns one masked load (lanes
 * outside [lo, hi) read nothing and come out zero) and one store. Rows
 * wholly in the padding are stored as zeros without loads. */
CPU_TARGET_AVX512 static void im2col_row_s1_avx512(const conv_geom *g, const float *plane, float *dst, int64_t kh,
                                                   int64_t kw)
{
    const int64_t OW = g->OW, OH = g->OH, W = g->W;
    int64_t off_w = kw * g->DW - g->PW, lo, hi, oh_lo, oh_hi;
    inside_range(off_w, 1, W, OW, &lo, &hi);
    inside_range(kh * g->DH - g->PH, g->SH, g->H, OH, &oh_lo, &oh_hi); /* rows reading inside the image */
    if (lo == hi)
        oh_lo = oh_hi = OH;
    /* Column ow of output row oh is read at row + ow; masked-off lanes are
     * never read, so the address may point outside the row. */
    uintptr_t row = (uintptr_t)plane + (uintptr_t)((oh_lo * g->SH - g->PH + kh * g->DH) * W + off_w) * sizeof(float);
    uintptr_t row_step = (uintptr_t)(g->SH * W) * sizeof(float);
    const __m512 zero = _mm512_setzero_ps();
    if (OW <= 16) { /* one vector a row: masks fixed for the whole tap */
        __mmask16 m = lanes16(lo, hi), ms = lanes16(0, OW);
        int64_t oh = 0;
        for (; oh < oh_lo; oh++, dst += OW)
            _mm512_mask_storeu_ps(dst, ms, zero);
        for (; oh < oh_hi; oh++, dst += OW, row += row_step)
            _mm512_mask_storeu_ps(dst, ms, _mm512_maskz_loadu_ps(m, (const void *)row));
        for (; oh < OH; oh++, dst += OW)
            _mm512_mask_storeu_ps(dst, ms, zero);
        return;
    }
    if (OW <= 32) { /* two vectors a row, the same way */
        __mmask16 m0 = lanes16(lo, hi), m1 = lanes16(lo - 16, hi - 16), ms = lanes16(0, OW - 16);
        int64_t oh = 0;
        for (; oh < oh_lo; oh++, dst += OW) {
            _mm512_storeu_ps(dst, zero);
            _mm512_mask_storeu_ps(dst + 16, ms, zero);
        }
        for (; oh < oh_hi; oh++, dst += OW, row += row_step) {
            _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0, (const void *)row));
            _mm512_mask_storeu_ps(dst + 16, ms, _mm512_maskz_loadu_ps(m1, (const void *)(row + 16 * sizeof(float))));
        }
        for (; oh < OH; oh++, dst += OW) {
            _mm512_storeu_ps(dst, zero);
            _mm512_mask_storeu_ps(dst + 16, ms, zero);
        }
        return;
    }
    for (int64_t oh = 0; oh < OH; oh++, dst += OW) {
        bool inside = oh >= oh_lo && oh < oh_hi;
        for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
            __mmask16 m = inside ? lanes16(lo - ow0, hi - ow0) : 0;
            __m512 v = _mm512_maskz_loadu_ps(m, (const void *)(row + (uintptr_t)ow0 * sizeof(float)));
            if (OW - ow0 >= 16)
                _mm512_storeu_ps(dst + ow0, v);
            else
                _mm512_mask_storeu_ps(dst + ow0, lanes16(0, OW - ow0), v);
        }
        if (inside)
            row += row_step;
    }
}
#endif

static void im2col_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const im2col_job *j = ctx;
    const conv_geom *g = &j->g;
    int64_t taps = g->KH * g->KW, ohw = g->OH * g->OW;
    int64_t plane = begin / taps, tap = begin % taps; /* plane = b*C + c */
    int64_t kh = tap / g->KW, kw = tap % g->KW;       /* then stepped without divisions */
    for (int64_t r = begin; r < end; r++) {
        j->row(g, j->x + plane * g->H * g->W, j->col + r * ohw, kh, kw);
        if (++kw == g->KW) {
            kw = 0;
            if (++kh == g->KH)
                kh = 0, plane++;
        }
    }
}

void cpu_im2col(const cpu_kernel_args *a)
{
    im2col_job j = {geom_of(a->p), a->args[0], a->args[1], im2col_row};
    if (j.g.batch * j.g.C * j.g.OH * j.g.OW == 0) /* checked first: then rows cannot overflow */
        return;
    int64_t rows = j.g.batch * j.g.C * j.g.KH * j.g.KW;
    if (j.g.H * j.g.W == 0) { /* nothing inside the image: all padding */
        memset(j.col, 0, (size_t)(rows * j.g.OH * j.g.OW) * sizeof *j.col);
        return;
    }
    if (j.g.SW == 1) {
        j.row = im2col_row_s1;
#if CPU_HAVE_AVX512
        if (cpu_simd_avx512())
            j.row = im2col_row_s1_avx512;
#endif
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

/* Each dx element gets at most one term per tap (a tap maps distinct
 * column elements to distinct dx elements), added in tap order to 0 or
 * to its old value. */
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

#if CPU_HAVE_AVX512
/* Vectors of running sums that the AVX-512 path keeps on the stack, and
 * the most taps it handles. */
#define COL2IM_VECS 128
#define COL2IM_TAPS 128

/* What one tap adds into a strip of dx rows: `rows` column rows from
 * col + src (column element iw - off_w feeds dx column iw), into the
 * sums from buf + dst on, every `step` vectors, dx columns [a, b). */
typedef struct col2im_tap {
    int64_t src, dst, rows, a, b;
} col2im_tap;

/* SW == 1 with AVX-512, as col2im_range but with the sums of a strip of
 * dx rows held in an aligned local buffer (16 columns a vector): per tap
 * and row one masked load of the column row and one masked add (lanes
 * without a term keep their value, the sign of a zero included), and
 * full-vector buffer accesses that forward cleanly. Needs
 * ceil(W / 16) <= COL2IM_VECS and at most COL2IM_TAPS taps. */
CPU_TARGET_AVX512 static void col2im_planes_s1_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const col2im_job *j = ctx;
    const conv_geom *g = &j->g;
    const int64_t H = g->H, W = g->W, OW = g->OW, taps = g->KH * g->KW, ohw = g->OH * OW;
    const int64_t nch = (W + 15) / 16, strip = COL2IM_VECS / nch, step = g->SH * nch;
    __m512 buf[COL2IM_VECS];
    col2im_tap t[COL2IM_TAPS];
    for (int64_t ih0 = 0; ih0 < H; ih0 += strip) {
        int64_t ih1 = ih0 + strip < H ? ih0 + strip : H, nt = 0;
        for (int64_t tap = 0; tap < taps; tap++) { /* the same for every plane */
            int64_t kh = tap / g->KW, kw = tap % g->KW, off_w = kw * g->DW - g->PW, lo, hi, oh_lo, oh_hi;
            inside_range(off_w, 1, W, OW, &lo, &hi);
            /* dx rows ih = oh*SH + off_h inside the strip */
            int64_t off_h = kh * g->DH - g->PH;
            inside_range(off_h - ih0, g->SH, ih1 - ih0, g->OH, &oh_lo, &oh_hi);
            if (lo < hi && oh_lo < oh_hi)
                t[nt++] = (col2im_tap){tap * ohw + oh_lo * OW - off_w, (oh_lo * g->SH + off_h - ih0) * nch,
                                       oh_hi - oh_lo, lo + off_w, hi + off_w};
        }
        for (int64_t p = begin; p < end; p++) {
            const float *rows = j->col + p * taps * ohw;
            float *plane = j->dx + p * H * W;
            for (int64_t ih = ih0; ih < ih1; ih++)
                for (int64_t c = 0; c < nch; c++) {
                    __mmask16 m = j->accum ? lanes16(0, W - 16 * c) : 0; /* accum 0: start from +0 */
                    buf[(ih - ih0) * nch + c] = _mm512_maskz_loadu_ps(m, plane + ih * W + 16 * c);
                }
            for (int64_t k = 0; k < nt; k++)
                for (int64_t c = 0; c < nch; c++) {
                    __mmask16 m = lanes16(t[k].a - 16 * c, t[k].b - 16 * c);
                    if (!m)
                        continue;
                    /* masked-off lanes are not read: the address may lie
                     * outside the column row */
                    uintptr_t s = (uintptr_t)rows + (uintptr_t)(t[k].src + 16 * c) * sizeof(float);
                    __m512 *b = buf + t[k].dst + c;
                    for (int64_t r = 0; r < t[k].rows; r++, s += (uintptr_t)OW * sizeof(float), b += step)
                        *b = _mm512_mask_add_ps(*b, m, *b, _mm512_maskz_loadu_ps(m, (const void *)s));
                }
            for (int64_t ih = ih0; ih < ih1; ih++)
                for (int64_t c = 0; c < nch; c++)
                    _mm512_mask_storeu_ps(plane + ih * W + 16 * c, lanes16(0, W - 16 * c), buf[(ih - ih0) * nch + c]);
        }
    }
}
#endif

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
    cpu_task_fn fn = col2im_range;
#if CPU_HAVE_AVX512
    if (j.g.SW == 1 && (j.g.W + 15) / 16 <= COL2IM_VECS && j.g.KH * j.g.KW <= COL2IM_TAPS && cpu_simd_avx512())
        fn = col2im_planes_s1_avx512;
#endif
    cpu_parallel_for(a->pool, planes, chunk_of(j.g.KH * j.g.KW * j.g.OH * j.g.OW), fn, &j);
}
