/* Winograd F(2x2, 3x3) convolution: the launches (see conv_winograd.h
 * and the RT_K_WINO_* kernels in runtime/kernels.h).
 *
 * The multiplications run in 16 GEMMs (one launch) of Cout x Cin by
 * Cin x tiles, 2.25x fewer than im2col's 9 Cin per output. The images
 * of the batch go through the transforms and the GEMM in chunks, so the
 * transformed tensors of one chunk stay small enough to be cache
 * resident between the launches that write and read them. When the
 * weight gradient is wanted, forward keeps V for it (V is four times the
 * input's size, but then the input itself need not be kept, and backward
 * saves a pass over it); otherwise V is a per-chunk temporary. */
#include "conv_winograd.h"

#include <stdint.h>

/* Bytes of V and M (or dM, V, dV) one chunk of images should take at
 * most: about twice a core's L2 cache (measured on the cnn preset: whole
 * batches, 64 images, were 35% slower; 1-4 MiB chunks within noise). */
#define CHUNK_BYTES ((size_t)2 << 20)
/* Where Winograd pays: the transforms cost per channel and per plane
 * what the GEMMs save per channel pair. Measured on this project's CPU
 * (one training step of a conv -> MSE graph, batch 64, 1 thread): with 4
 * or fewer input or output channels, or planes under 10x10 outputs
 * (8x8 at 16 channels, 7x7 at 32), im2col was as fast or faster; at
 * 8 -> 8 channels on 14x14 they tie, on 20x20 and up Winograd won by
 * 1.5-2.3x, at 16 -> 32 on 14x14 (the cnn preset) by 1.9x. */
#define MIN_CHANNELS 8
#define MIN_OUTPUTS 100

typedef struct wino_plan {
    int tiles;  /* tiles per image */
    int chunk;  /* images per chunk */
} wino_plan;

static wino_plan plan_of(const wino_conv *c)
{
    wino_plan p;
    p.tiles = ((c->oh + 1) / 2) * ((c->ow + 1) / 2);
    size_t per_image = (size_t)16 * (size_t)p.tiles * (size_t)(c->cin + 2 * c->cout) * 4;
    size_t chunks = ((size_t)c->batch * per_image + CHUNK_BYTES - 1) / CHUNK_BYTES;
    chunks = chunks < 1 ? 1 : chunks > (size_t)c->batch ? (size_t)c->batch : chunks;
    p.chunk = (int)(((size_t)c->batch + chunks - 1) / chunks); /* equal chunks, the last may be short */
    return p;
}

bool wino_conv_chosen(const wino_conv *c)
{
    if (c->cin < MIN_CHANNELS || c->cout < MIN_CHANNELS || c->batch < 1 || c->oh < 1 || c->ow < 1 ||
        (int64_t)c->oh * c->ow < MIN_OUTPUTS)
        return false;
    /* Strides and sizes of the position GEMMs and transforms are int32. */
    int64_t tiles = (int64_t)((c->oh + 1) / 2) * ((c->ow + 1) / 2) * c->batch;
    int64_t widest = c->cin > c->cout ? c->cin : c->cout;
    return 16 * widest * tiles <= INT32_MAX && 16 * (int64_t)c->cin * c->cout <= INT32_MAX;
}

/* Image range [b0, b0 + nb) of the batch; P its tile count. */
typedef struct chunk {
    int b0, nb, P;
} chunk;

static rt_params input_params(const wino_conv *c, const chunk *k, int accum)
{
    rt_params p = rt_params_zero();
    int v[9] = {k->nb, c->cin, c->h, c->w, c->ph, c->pw, c->oh, c->ow, accum};
    for (int i = 0; i < 9; i++)
        p.i[i] = v[i];
    return p;
}

static rt_params output_params(const wino_conv *c, const chunk *k)
{
    rt_params p = rt_params_zero();
    p.i[0] = k->nb, p.i[1] = c->cout, p.i[2] = c->oh, p.i[3] = c->ow;
    return p;
}

static rt_params weight_params(const wino_conv *c, int accum)
{
    rt_params p = rt_params_zero();
    p.i[0] = c->cout, p.i[1] = c->cin, p.i[2] = accum;
    return p;
}

/* The 16 position GEMMs C[xi] (+)= op(A[xi]) op(B[xi]), each operand
 * packed position after position from the start of its argument. */
static void position_gemm(emit_ctx *e, int M, int N, int K, int ta, int tb, plan_arg a, plan_arg b, plan_arg cs,
                          int accum)
{
    rt_params p = rt_params_zero();
    int v[15] = {M, N, K, ta, tb, ta ? M : K, tb ? K : N, N, 16, M * K, K * N, M * N, 0, accum, 0};
    for (int i = 0; i < 15; i++)
        p.i[i] = v[i];
    plan_arg args[4] = {a, b, cs, arg_none()};
    ec_emit_args(e, RT_K_GEMM, &p, 4, args);
}

/* Image tensors (x, y, dx, dy) of a chunk: its images' range. */
static plan_arg images(int slot, const chunk *k, size_t per_image)
{
    return arg_at(slot, (size_t)k->b0 * per_image, (size_t)k->nb * per_image);
}

static chunk chunk_at(const wino_conv *c, const wino_plan *wp, int b0)
{
    chunk k = {b0, c->batch - b0 < wp->chunk ? c->batch - b0 : wp->chunk, 0};
    k.P = k.nb * wp->tiles;
    return k;
}

/* A transformed tensor T[16][ch][P] of a chunk: at the start of a
 * per-chunk temporary, or at the chunk's place in one kept for the batch
 * (chunks one after the other). */
static plan_arg chunk_tensor(int slot, bool whole_batch, int ch, const chunk *k, const wino_plan *wp)
{
    size_t first = whole_batch ? (size_t)16 * ch * k->b0 * wp->tiles : 0;
    return arg_at(slot, first, (size_t)16 * ch * k->P);
}

/* Tag of the V kept from forward for the weight gradient. */
enum { SAVED_V = 0 };

void wino_conv_forward(emit_ctx *e, const wino_conv *c, int id, bool keep_v, int x, int w, int bias, int y)
{
    wino_plan wp = plan_of(c);
    size_t chunk_tiles = (size_t)wp.chunk * (size_t)wp.tiles;
    size_t x_img = (size_t)c->cin * c->h * c->w, y_img = (size_t)c->cout * c->oh * c->ow;
    int u = ec_temp(e, (size_t)16 * c->cout * c->cin * 4);
    int v = keep_v ? ec_saved(e, id, SAVED_V, (size_t)16 * c->cin * c->batch * wp.tiles * 4)
                   : ec_temp(e, 16 * (size_t)c->cin * chunk_tiles * 4);
    int m = ec_temp(e, 16 * (size_t)c->cout * chunk_tiles * 4);

    rt_params p = weight_params(c, 0);
    emit2(e, RT_K_WINO_WEIGHT, &p, w, u);
    for (int b0 = 0; b0 < c->batch; b0 += wp.chunk) {
        chunk k = chunk_at(c, &wp, b0);
        plan_arg vk = chunk_tensor(v, keep_v, c->cin, &k, &wp);
        p = input_params(c, &k, 0);
        plan_arg in[2] = {images(x, &k, x_img), vk};
        ec_emit_args(e, RT_K_WINO_INPUT, &p, 2, in);
        plan_arg mk = chunk_tensor(m, false, c->cout, &k, &wp);
        position_gemm(e, c->cout, k.P, c->cin, 0, 0, arg_at(u, 0, (size_t)16 * c->cout * c->cin), vk, mk, 0);
        p = output_params(c, &k);
        plan_arg out[3] = {arg_at(m, 0, 16 * (size_t)c->cout * k.P),
                           bias >= 0 ? arg_at(bias, 0, (size_t)c->cout) : arg_none(), images(y, &k, y_img)};
        ec_emit_args(e, RT_K_WINO_OUTPUT, &p, 3, out);
    }
}

void wino_conv_backward(emit_ctx *e, const wino_conv *c, int id, int w, int dy, int dw, int dw_accum, int dx,
                        int dx_accum)
{
    if (dw < 0 && dx < 0)
        return;
    wino_plan wp = plan_of(c);
    size_t chunk_tiles = (size_t)wp.chunk * (size_t)wp.tiles;
    size_t x_img = (size_t)c->cin * c->h * c->w, y_img = (size_t)c->cout * c->oh * c->ow;
    size_t u_bytes = (size_t)16 * c->cout * c->cin * 4, u_elems = u_bytes / 4;
    int dm = ec_temp(e, 16 * (size_t)c->cout * chunk_tiles * 4);
    int v = dw >= 0 ? ec_saved(e, id, SAVED_V, 0) : -1;
    int du = dw >= 0 ? ec_temp(e, u_bytes) : -1;
    int u = dx >= 0 ? ec_temp(e, u_bytes) : -1;
    int dv = dx >= 0 ? ec_temp(e, 16 * (size_t)c->cin * chunk_tiles * 4) : -1;

    rt_params p;
    if (dx >= 0) {
        p = weight_params(c, 0);
        emit2(e, RT_K_WINO_WEIGHT, &p, w, u);
    }
    for (int b0 = 0; b0 < c->batch; b0 += wp.chunk) {
        chunk k = chunk_at(c, &wp, b0);
        plan_arg dmk = chunk_tensor(dm, false, c->cout, &k, &wp);
        p = output_params(c, &k);
        plan_arg grad[2] = {images(dy, &k, y_img), dmk};
        ec_emit_args(e, RT_K_WINO_OUTPUT_BWD, &p, 2, grad);
        if (dw >= 0) /* dU[xi] (cout x cin) (+)= dM[xi] V[xi]^T, chunks summed in order */
            position_gemm(e, c->cout, c->cin, k.P, 0, 1, dmk, chunk_tensor(v, true, c->cin, &k, &wp),
                          arg_at(du, 0, u_elems), b0 > 0);
        if (dx >= 0) {
            plan_arg dvk = chunk_tensor(dv, false, c->cin, &k, &wp);
            position_gemm(e, c->cin, k.P, c->cout, 1, 0, arg_at(u, 0, u_elems), dmk, dvk, 0); /* dV = U^T dM */
            p = input_params(c, &k, dx_accum);
            plan_arg out[2] = {dvk, images(dx, &k, x_img)};
            ec_emit_args(e, RT_K_WINO_INPUT_BWD, &p, 2, out);
        }
    }
    if (dw >= 0) {
        p = weight_params(c, dw_accum);
        emit2(e, RT_K_WINO_WEIGHT_BWD, &p, du, dw);
    }
}
