/* Winograd F(2x2, 3x3) kernels (RT_K_WINO_*): each transform against a
 * double-precision reference built from the transform matrices, each
 * *_BWD kernel against the explicit transpose of its forward kernel (in
 * both accum modes), the whole chain (transforms + the 16 position GEMMs)
 * against direct convolution forward, input gradient and weight
 * gradient, over odd sizes, padding 0/1/2, tile rows longer than one
 * chunk and many channels; and 1 vs 3 threads giving the same bits. */
#include "kernel_harness.h"

#include <math.h>
#include <string.h>

static const double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

typedef struct wcase {
    int batch, C, K, H, W, PH, PW;
    int OH, OW; /* 0: the convolution's output size */
} wcase;

static const wcase cases[] = {
    /* batch C   K   H   W  PH PW */
    {1, 1, 1, 3, 3, 0, 0, 0, 0},      /* one output: a single, mostly padded tile */
    {2, 3, 4, 5, 6, 1, 1, 0, 0},      /* odd output rows */
    {1, 2, 3, 7, 4, 2, 2, 0, 0},      /* padding 2 */
    {3, 5, 2, 6, 9, 0, 1, 0, 0},      /* odd output columns, mixed padding */
    {2, 40, 36, 9, 11, 1, 0, 0, 0},   /* many channels */
    {1, 4, 3, 5, 70, 1, 1, 0, 0},     /* 35 tiles a row: more than one chunk */
    {1, 3, 2, 1, 2, 2, 2, 0, 0},      /* image smaller than the kernel */
    {2, 16, 32, 14, 14, 1, 1, 0, 0},  /* the cnn preset's second convolution */
    {64, 16, 32, 14, 14, 1, 1, 0, 0}, /* at batch 64: many tasks */
    {2, 2, 3, 8, 9, 1, 1, 5, 4},      /* output smaller than the convolution's */
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct wsizes {
    int OH, OW, TH, TW;
    size_t P, x, y, w, u, v, m;
} wsizes;

static wsizes sizes_of(const wcase *c)
{
    wsizes s;
    s.OH = c->OH ? c->OH : c->H + 2 * c->PH - 2;
    s.OW = c->OW ? c->OW : c->W + 2 * c->PW - 2;
    s.TH = (s.OH + 1) / 2, s.TW = (s.OW + 1) / 2;
    s.P = (size_t)c->batch * s.TH * s.TW;
    s.x = (size_t)c->batch * c->C * c->H * c->W;
    s.y = (size_t)c->batch * c->K * s.OH * s.OW;
    s.w = (size_t)c->K * c->C * 9;
    s.u = 16 * (size_t)c->K * c->C;
    s.v = 16 * (size_t)c->C * s.P;
    s.m = 16 * (size_t)c->K * s.P;
    return s;
}

static kh_launch input_launch(rt_kernel k, const wcase *c, const wsizes *s, float *a0, size_t n0, float *a1,
                              size_t n1)
{
    kh_launch l = kh_make_launch(k);
    int v[8] = {c->batch, c->C, c->H, c->W, c->PH, c->PW, s->OH, s->OW};
    memcpy(l.p.i, v, sizeof v);
    kh_bind(&l, 0, a0, n0);
    kh_bind(&l, 1, a1, n1);
    return l;
}

static kh_launch output_launch(const wcase *c, const wsizes *s, float *m, float *bias, float *y)
{
    kh_launch l = kh_make_launch(RT_K_WINO_OUTPUT);
    int v[4] = {c->batch, c->K, s->OH, s->OW};
    memcpy(l.p.i, v, sizeof v);
    kh_bind(&l, 0, m, s->m);
    kh_bind(&l, 1, bias, bias ? (size_t)c->K : 0);
    kh_bind(&l, 2, y, s->y);
    return l;
}

static kh_launch output_bwd_launch(const wcase *c, const wsizes *s, float *dy, float *dm)
{
    kh_launch l = kh_make_launch(RT_K_WINO_OUTPUT_BWD);
    int v[4] = {c->batch, c->K, s->OH, s->OW};
    memcpy(l.p.i, v, sizeof v);
    kh_bind(&l, 0, dy, s->y);
    kh_bind(&l, 1, dm, s->m);
    return l;
}

static kh_launch weight_launch(rt_kernel k, const wcase *c, float *a0, size_t n0, float *a1, size_t n1)
{
    kh_launch l = kh_make_launch(k);
    l.p.i[0] = c->K, l.p.i[1] = c->C;
    kh_bind(&l, 0, a0, n0);
    kh_bind(&l, 1, a1, n1);
    return l;
}

/* ---- references ---- */

/* V[xi][c][p] = (B^T d B)[xi] of every tile. */
static void ref_input(const wcase *c, const wsizes *s, const float *x, double *v)
{
    for (int b = 0; b < c->batch; b++)
        for (int ch = 0; ch < c->C; ch++)
            for (int th = 0; th < s->TH; th++)
                for (int tw = 0; tw < s->TW; tw++) {
                    double d[4][4];
                    for (int r = 0; r < 4; r++)
                        for (int q = 0; q < 4; q++) {
                            int ih = 2 * th - c->PH + r, iw = 2 * tw - c->PW + q;
                            bool in = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W;
                            d[r][q] = in ? x[((size_t)(b * c->C + ch) * c->H + ih) * c->W + iw] : 0.0;
                        }
                    size_t p = ((size_t)b * s->TH + th) * s->TW + tw;
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            double acc = 0;
                            for (int r = 0; r < 4; r++)
                                for (int q = 0; q < 4; q++)
                                    acc += BT[i][r] * d[r][q] * BT[j][q];
                            v[((size_t)(4 * i + j) * c->C + ch) * s->P + p] = acc;
                        }
                }
}

/* y = A^T M A (+ bias) of every tile, inside [OH, OW]. */
static void ref_output(const wcase *c, const wsizes *s, const float *m, const float *bias, double *y)
{
    for (int b = 0; b < c->batch; b++)
        for (int k = 0; k < c->K; k++)
            for (int th = 0; th < s->TH; th++)
                for (int tw = 0; tw < s->TW; tw++) {
                    size_t p = ((size_t)b * s->TH + th) * s->TW + tw;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++) {
                            int oh = 2 * th + i, ow = 2 * tw + j;
                            if (oh >= s->OH || ow >= s->OW)
                                continue;
                            double acc = bias ? bias[k] : 0.0;
                            for (int r = 0; r < 4; r++)
                                for (int q = 0; q < 4; q++)
                                    acc += AT[i][r] * m[((size_t)(4 * r + q) * c->K + k) * s->P + p] * AT[j][q];
                            y[((size_t)(b * c->K + k) * s->OH + oh) * s->OW + ow] = acc;
                        }
                }
}

/* U[xi][k][c] = (G g G^T)[xi]. */
static void ref_weight(const wcase *c, const float *w, double *u)
{
    size_t pairs = (size_t)c->K * c->C;
    for (size_t kc = 0; kc < pairs; kc++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double acc = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                        acc += G[i][a] * w[kc * 9 + (size_t)(3 * a + b)] * G[j][b];
                u[(size_t)(4 * i + j) * pairs + kc] = acc;
            }
}

/* Direct convolution (stride 1, 3x3): y, and the gradients of
 * sum(y * dy) with respect to x and w. */
static double x_at(const wcase *c, const float *x, int b, int ch, int ih, int iw)
{
    if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
        return 0.0;
    return x[((size_t)(b * c->C + ch) * c->H + ih) * c->W + iw];
}

static void ref_conv(const wcase *c, const wsizes *s, const float *x, const float *w, const float *bias,
                     const float *dy, double *y, double *dx, double *dw)
{
    for (int b = 0; b < c->batch; b++)
        for (int k = 0; k < c->K; k++)
            for (int oh = 0; oh < s->OH; oh++)
                for (int ow = 0; ow < s->OW; ow++) {
                    size_t yi = ((size_t)(b * c->K + k) * s->OH + oh) * s->OW + ow;
                    double acc = bias ? bias[k] : 0.0;
                    for (int ch = 0; ch < c->C; ch++)
                        for (int a = 0; a < 3; a++)
                            for (int e = 0; e < 3; e++) {
                                int ih = oh - c->PH + a, iw = ow - c->PW + e;
                                size_t wi = ((size_t)(k * c->C + ch) * 3 + a) * 3 + e;
                                acc += w[wi] * x_at(c, x, b, ch, ih, iw);
                                dw[wi] += dy[yi] * x_at(c, x, b, ch, ih, iw);
                                if (ih >= 0 && ih < c->H && iw >= 0 && iw < c->W)
                                    dx[((size_t)(b * c->C + ch) * c->H + ih) * c->W + iw] += w[wi] * dy[yi];
                            }
                    y[yi] = acc;
                }
}

/* ---- forward transforms ---- */

static void test_input_transform(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        float *x = kh_frand(s.x, 10 + t, -1, 1), *v = kh_fzeros(s.v);
        kh_fill_nan(v, s.v);
        double *ref = kh_dzeros(s.v);
        ref_input(c, &s, x, ref);
        kh_launch l = input_launch(RT_K_WINO_INPUT, c, &s, x, s.x, v, s.v);
        kh_run(&l);
        kh_expect_close(v, ref, s.v, 1e-6, "wino_input");
    }
}

static void test_output_transform(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        float *m = kh_frand(s.m, 20 + t, -1, 1), *bias = kh_frand((size_t)c->K, 30 + t, -1, 1);
        float *y = kh_fzeros(s.y);
        double *ref = kh_dzeros(s.y);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            kh_fill_nan(y, s.y);
            ref_output(c, &s, m, with_bias ? bias : NULL, ref);
            kh_launch l = output_launch(c, &s, m, with_bias ? bias : NULL, y);
            kh_run(&l);
            kh_expect_close(y, ref, s.y, 1e-6, with_bias ? "wino_output with bias" : "wino_output");
        }
    }
}

static void test_weight_transform(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        float *w = kh_frand(s.w, 40 + t, -1, 1), *u = kh_fzeros(s.u);
        kh_fill_nan(u, s.u);
        double *ref = kh_dzeros(s.u);
        ref_weight(c, w, ref);
        kh_launch l = weight_launch(RT_K_WINO_WEIGHT, c, w, s.w, u, s.u);
        kh_run(&l);
        kh_expect_close(u, ref, s.u, 1e-6, "wino_weight");
    }
}

/* ---- adjoints: each *_BWD kernel is the transpose of its forward ---- */

/* ref = F^T g for the linear map F: in (n_in) -> out (n_out) computed by
 * `fwd` (slot in_slot in, out_slot out), column by column of F. */
static void explicit_transpose(kh_launch fwd, int in_slot, int out_slot, size_t n_in, size_t n_out,
                               const float *g, double *ref)
{
    float *e = kh_fzeros(n_in), *col = kh_fzeros(n_out);
    kh_bind(&fwd, in_slot, e, n_in);
    kh_bind(&fwd, out_slot, col, n_out);
    for (size_t j = 0; j < n_in; j++) {
        e[j] = 1;
        kh_run(&fwd);
        e[j] = 0;
        double acc = 0;
        for (size_t i = 0; i < n_out; i++)
            acc += (double)col[i] * g[i];
        ref[j] = acc;
    }
}

/* Cases small enough for an explicit transpose. */
static bool small_case(const wcase *c)
{
    wsizes s = sizes_of(c);
    return s.x * s.v < 20000000 && s.y * s.m < 20000000;
}

static void test_input_bwd_is_adjoint(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        if (!small_case(c))
            continue;
        wsizes s = sizes_of(c);
        float *dv = kh_frand(s.v, 50 + t, -1, 1), *dx = kh_fzeros(s.x);
        double *ref = kh_dzeros(s.x);
        explicit_transpose(input_launch(RT_K_WINO_INPUT, c, &s, NULL, 0, NULL, 0), 0, 1, s.x, s.v, dv, ref);
        kh_launch l = input_launch(RT_K_WINO_INPUT_BWD, c, &s, dv, s.v, dx, s.x);
        kh_check_both_modes(&l, 8, 1, s.x, ref, 1e-5);
    }
}

static void test_output_bwd_is_adjoint(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        if (!small_case(c))
            continue;
        wsizes s = sizes_of(c);
        float *dy = kh_frand(s.y, 60 + t, -1, 1), *dm = kh_fzeros(s.m);
        double *ref = kh_dzeros(s.m);
        explicit_transpose(output_launch(c, &s, NULL, NULL, NULL), 0, 2, s.m, s.y, dy, ref);
        kh_fill_nan(dm, s.m);
        kh_launch l = output_bwd_launch(c, &s, dy, dm);
        kh_run(&l);
        kh_expect_close(dm, ref, s.m, 1e-5, "wino_output_bwd");
    }
}

static void test_weight_bwd_is_adjoint(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        if (c->K * c->C > 64)
            continue;
        wsizes s = sizes_of(c);
        float *du = kh_frand(s.u, 70 + t, -1, 1), *dw = kh_fzeros(s.w);
        double *ref = kh_dzeros(s.w);
        explicit_transpose(weight_launch(RT_K_WINO_WEIGHT, c, NULL, 0, NULL, 0), 0, 1, s.w, s.u, du, ref);
        kh_launch l = weight_launch(RT_K_WINO_WEIGHT_BWD, c, du, s.u, dw, s.w);
        kh_check_both_modes(&l, 2, 1, s.w, ref, 1e-5);
    }
}

/* ---- the chain: transforms + GEMMs == direct convolution ---- */

/* C[xi] (accum)= op(A[xi]) op(B[xi]) for the 16 positions. */
static void run_gemm16(int M, int N, int K, int ta, int tb, const float *A, const float *B, float *C, int accum)
{
    kh_launch l = kh_make_launch(RT_K_GEMM);
    int v[15] = {M, N, K, ta, tb, ta ? M : K, tb ? K : N, N, 16, M * K, K * N, M * N, 0, accum, 0};
    memcpy(l.p.i, v, sizeof v);
    kh_bind(&l, 0, (float *)A, (size_t)16 * M * K);
    kh_bind(&l, 1, (float *)B, (size_t)16 * K * N);
    kh_bind(&l, 2, C, (size_t)16 * M * N);
    kh_run(&l);
}

static void test_chain_matches_direct_convolution(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        if (c->OH || c->OW)
            continue; /* a convolution has its own output size */
        wsizes s = sizes_of(c);
        int P = (int)s.P;
        float *x = kh_frand(s.x, 80 + t, -1, 1), *w = kh_frand(s.w, 90 + t, -1, 1);
        float *bias = kh_frand((size_t)c->K, 100 + t, -1, 1), *dy = kh_frand(s.y, 110 + t, -1, 1);
        float *u = kh_fzeros(s.u), *v = kh_fzeros(s.v), *m = kh_fzeros(s.m), *y = kh_fzeros(s.y);
        float *dm = kh_fzeros(s.m), *du = kh_fzeros(s.u), *dv = kh_fzeros(s.v);
        float *dx = kh_fzeros(s.x), *dw = kh_fzeros(s.w);
        double *ry = kh_dzeros(s.y), *rdx = kh_dzeros(s.x), *rdw = kh_dzeros(s.w);
        ref_conv(c, &s, x, w, bias, dy, ry, rdx, rdw);

        kh_launch l = weight_launch(RT_K_WINO_WEIGHT, c, w, s.w, u, s.u);
        kh_run(&l);
        l = input_launch(RT_K_WINO_INPUT, c, &s, x, s.x, v, s.v);
        kh_run(&l);
        run_gemm16(c->K, P, c->C, 0, 0, u, v, m, 0); /* M = U V */
        l = output_launch(c, &s, m, bias, y);
        kh_run(&l);
        kh_expect_close(y, ry, s.y, 2e-5 * c->C, "winograd forward");

        l = output_bwd_launch(c, &s, dy, dm);
        kh_run(&l);
        run_gemm16(c->K, c->C, P, 0, 1, dm, v, du, 0); /* dU = dM V^T */
        l = weight_launch(RT_K_WINO_WEIGHT_BWD, c, du, s.u, dw, s.w);
        kh_run(&l);
        kh_expect_close(dw, rdw, s.w, 2e-5 * (double)s.P, "winograd weight gradient");
        run_gemm16(c->C, P, c->K, 1, 0, u, dm, dv, 0); /* dV = U^T dM */
        l = input_launch(RT_K_WINO_INPUT_BWD, c, &s, dv, s.v, dx, s.x);
        kh_run(&l);
        kh_expect_close(dx, rdx, s.x, 2e-5 * c->K, "winograd input gradient");
    }
}

/* No tiles (an output of 0 rows): V and y are empty, dx becomes 0 or
 * keeps its value. */
static void test_empty_shapes(void **state)
{
    (void)state;
    const wcase *c = &(wcase){2, 3, 4, 5, 6, 1, 1, 0, 0};
    wsizes s = sizes_of(c);
    s.OH = 0;
    float *dx = kh_frand(s.x, 1, -1, 1);
    kh_launch l = input_launch(RT_K_WINO_INPUT, c, &s, dx, s.x, NULL, 0);
    kh_run(&l);
    l = input_launch(RT_K_WINO_INPUT_BWD, c, &s, NULL, 0, dx, s.x);
    double *zeros = kh_dzeros(s.x);
    kh_check_both_modes(&l, 8, 1, s.x, zeros, 0);
    l = output_launch(c, &s, NULL, NULL, NULL);
    kh_run(&l);
    l = output_bwd_launch(c, &s, NULL, NULL);
    kh_bind(&l, 0, NULL, 0), kh_bind(&l, 1, NULL, 0);
    kh_run(&l);
}

/* ---- determinism ---- */

/* Not a public API (runtime/cpu/simd.h). */
const char *cpu_simd_use_isa(const char *name);

/* Runs `l` with the portable code and with the AVX-512 code (if this CPU
 * has it) from the same starting state; every argument must end bit for
 * bit equal. */
static void expect_isa_independent(const kh_launch *l, const char *what)
{
    if (strcmp(cpu_simd_use_isa("avx512"), "avx512") != 0)
        return;
    void *start[RT_MAX_ARGS] = {0}, *fast[RT_MAX_ARGS] = {0};
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i])
            start[i] = kh_fcopy(l->ptr[i], l->bytes[i] / 4);
    kh_run(l);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i]) {
            fast[i] = kh_fcopy(l->ptr[i], l->bytes[i] / 4);
            memcpy(l->ptr[i], start[i], l->bytes[i]);
        }
    cpu_simd_use_isa("generic");
    kh_run(l);
    cpu_simd_use_isa(NULL);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i] && memcmp(fast[i], l->ptr[i], l->bytes[i]) != 0)
            fail_msg("%s: arg %d differs between the AVX-512 and the portable code", what, i);
}

/* Values that tell operation orders apart: signed zeros, exact ties. */
static float *tricky(size_t n, uint64_t seed)
{
    float *x = kh_frand(n, seed, -2, 2);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 7 == 3 ? -0.0f : i % 11 == 5 ? 0.0f : i % 5 == 1 ? roundf(x[i]) : x[i];
    return x;
}

static void test_isa_independence(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        kh_launch l = input_launch(RT_K_WINO_INPUT, c, &s, tricky(s.x, t), s.x, kh_fzeros(s.v), s.v);
        expect_isa_independent(&l, "wino_input");
        l = input_launch(RT_K_WINO_INPUT_BWD, c, &s, tricky(s.v, t + 1), s.v, tricky(s.x, t + 2), s.x);
        expect_isa_independent(&l, "wino_input_bwd");
        l.p.i[8] = 1;
        expect_isa_independent(&l, "wino_input_bwd accum");
        l = output_launch(c, &s, tricky(s.m, t + 3), tricky((size_t)c->K, t + 4), kh_fzeros(s.y));
        expect_isa_independent(&l, "wino_output");
        l = output_launch(c, &s, tricky(s.m, t + 3), NULL, kh_fzeros(s.y));
        expect_isa_independent(&l, "wino_output without bias");
        l = output_bwd_launch(c, &s, tricky(s.y, t + 5), kh_fzeros(s.m));
        expect_isa_independent(&l, "wino_output_bwd");
    }
}

static void test_thread_count_independence(void **state)
{
    (void)state;
    cpu_pool *one, *three;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);
    const wcase *c = &(wcase){5, 12, 10, 14, 37, 1, 1, 0, 0};
    wsizes s = sizes_of(c);
    kh_launch l = input_launch(RT_K_WINO_INPUT, c, &s, kh_frand(s.x, 1, -1, 1), s.x, kh_fzeros(s.v), s.v);
    kh_expect_thread_independent(&l, one, three, "wino_input");
    l = input_launch(RT_K_WINO_INPUT_BWD, c, &s, kh_frand(s.v, 2, -1, 1), s.v, kh_frand(s.x, 3, -1, 1), s.x);
    kh_expect_thread_independent(&l, one, three, "wino_input_bwd");
    l.p.i[8] = 1;
    kh_expect_thread_independent(&l, one, three, "wino_input_bwd accum");
    l = output_launch(c, &s, kh_frand(s.m, 4, -1, 1), kh_frand((size_t)c->K, 5, -1, 1), kh_fzeros(s.y));
    kh_expect_thread_independent(&l, one, three, "wino_output");
    l = output_bwd_launch(c, &s, kh_frand(s.y, 6, -1, 1), kh_fzeros(s.m));
    kh_expect_thread_independent(&l, one, three, "wino_output_bwd");
    l = weight_launch(RT_K_WINO_WEIGHT, c, kh_frand(s.w, 7, -1, 1), s.w, kh_fzeros(s.u), s.u);
    kh_expect_thread_independent(&l, one, three, "wino_weight");
    l = weight_launch(RT_K_WINO_WEIGHT_BWD, c, kh_frand(s.u, 8, -1, 1), s.u, kh_frand(s.w, 9, -1, 1), s.w);
    l.p.i[2] = 1;
    kh_expect_thread_independent(&l, one, three, "wino_weight_bwd");
    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_input_transform),
        KH_TEST(test_output_transform),
        KH_TEST(test_weight_transform),
        KH_TEST(test_input_bwd_is_adjoint),
        KH_TEST(test_output_bwd_is_adjoint),
        KH_TEST(test_weight_bwd_is_adjoint),
        KH_TEST(test_chain_matches_direct_convolution),
        KH_TEST(test_empty_shapes),
        KH_TEST(test_thread_count_independence),
        KH_TEST(test_isa_independence),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
