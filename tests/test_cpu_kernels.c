/* Tests of the CPU kernels (all but GEMM) and of the launch validator.
 *
 * Every launch goes through rt_launch_validate before it runs, so each
 * kernel test also checks that the validator accepts a correct launch.
 * Forward kernels are compared with plain double-precision references on
 * odd sizes; kernels with an accum flag are run in both modes (accum = 0
 * over NaN-filled outputs, so a kernel that reads its output is caught);
 * backward kernels are compared with central finite differences of their
 * forward kernel; reductions must give the same bits with 1 and 3
 * threads. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/cpu/cpu_kernels.h"
#include "runtime/rt_error.h"

/* ---- test scaffolding ---- */

static cpu_pool *g_pool; /* 2 threads: chunks really run concurrently */

/* Every allocation of a test, released by its teardown. */
static void *g_allocs[512];
static int g_nallocs;

static void *track(void *p)
{
    assert_non_null(p);
    assert_true(g_nallocs < (int)(sizeof g_allocs / sizeof g_allocs[0]));
    g_allocs[g_nallocs++] = p;
    return p;
}

static int release_all(void **state)
{
    (void)state;
    while (g_nallocs > 0)
        free(g_allocs[--g_nallocs]);
    return 0;
}

static float *fzeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(float)));
}

static double *dzeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(double)));
}

static int32_t *izeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(int32_t)));
}

static float *frand(size_t n, uint64_t seed, float lo, float hi)
{
    float *x = fzeros(n);
    tu_fill_uniform(x, n, seed, lo, hi);
    return x;
}

static float *fcopy(const float *x, size_t n)
{
    float *y = fzeros(n);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* A kernel launch on host arrays. */
typedef struct launch {
    rt_kernel kernel;
    rt_params p;
    void *ptr[RT_MAX_ARGS];
    size_t bytes[RT_MAX_ARGS];
} launch;

static launch make_launch(rt_kernel k)
{
    launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    return l;
}

/* Binds `elems` 32-bit elements at `ptr` to a slot (NULL: absent). */
static void bind(launch *l, int slot, void *ptr, size_t elems)
{
    l->ptr[slot] = ptr;
    l->bytes[slot] = ptr ? elems * 4 : 0;
}

static char g_fake_buffer; /* stands in for the rt_buffer of host views */

static rt_launch as_rt_launch(const launch *l)
{
    rt_launch r;
    memset(&r, 0, sizeof r);
    r.kernel = l->kernel;
    r.nargs = RT_MAX_ARGS;
    r.params = l->p;
    for (int i = 0; i < RT_MAX_ARGS; i++)
        r.args[i] = (rt_view){l->bytes[i] ? (rt_buffer *)(void *)&g_fake_buffer : NULL, 0, l->bytes[i]};
    return r;
}

static void run_on(cpu_pool *pool, const launch *l)
{
    rt_launch r = as_rt_launch(l);
    if (rt_launch_validate(&r) != VKT_OK)
        fail_msg("validator rejected a test launch: %s", rt_error_message());
    cpu_kernel_args a;
    memset(&a, 0, sizeof a);
    a.pool = pool;
    a.p = &l->p;
    for (int i = 0; i < RT_MAX_ARGS; i++) {
        a.args[i] = l->bytes[i] ? l->ptr[i] : NULL;
        a.sizes[i] = l->bytes[i];
    }
    cpu_kernel_table[l->kernel](&a);
}

static void run(const launch *l)
{
    run_on(g_pool, l);
}

/* |got - want| <= tol * max(1, |want|) everywhere. */
static void expect_close(const float *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= tol * fmax(1.0, fabs(want[i]))))
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i], want[i]);
    }
}

static void expect_close1(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol * fmax(1.0, fabs(want))))
        fail_msg("%s: %.9g, expected %.9g", what, got, want);
}

/* Runs `l` with accum = 0 over an output full of NaN, then with accum = 1
 * over random contents, and checks both against ref. */
static void check_both_modes(launch *l, int accum_param, int out_slot, size_t n, const double *ref, double tol)
{
    float *out = l->ptr[out_slot];
    fill_nan(out, n);
    l->p.i[accum_param] = 0;
    run(l);
    expect_close(out, ref, n, tol, "accum = 0");

    float *base = frand(n, 4242, -1, 1);
    double *want = dzeros(n);
    for (size_t i = 0; i < n; i++)
        want[i] = (double)base[i] + ref[i];
    memcpy(out, base, n * sizeof *out);
    l->p.i[accum_param] = 1;
    run(l);
    expect_close(out, want, n, tol, "accum = 1");
    l->p.i[accum_param] = 0;
}

/* ---- finite differences ---- */

#define FD_EPS 1e-3

/* sum_i r_i y_i after running the forward launch. */
static double weighted_output(const launch *fwd, const float *y, const float *r, size_t ny)
{
    run(fwd);
    double s = 0;
    for (size_t i = 0; i < ny; i++)
        s += (double)r[i] * y[i];
    return s;
}

/* Central differences of L = sum r*y with respect to each x[i]. */
static void numeric_grad(const launch *fwd, float *x, size_t nx, const float *y, const float *r, size_t ny,
                         double *out)
{
    for (size_t i = 0; i < nx; i++) {
        float saved = x[i];
        float xp = (float)(saved + FD_EPS), xm = (float)(saved - FD_EPS);
        x[i] = xp;
        double lp = weighted_output(fwd, y, r, ny);
        x[i] = xm;
        double lm = weighted_output(fwd, y, r, ny);
        x[i] = saved;
        out[i] = (lp - lm) / ((double)xp - (double)xm);
    }
}

static void expect_grad(const float *analytic, const double *numeric, size_t n, double atol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double a = analytic[i], m = numeric[i];
        if (!(fabs(a - m) <= 1e-2 * fmax(fabs(a), fabs(m)) + atol))
            fail_msg("%s: d/dx[%zu] analytic %.7g, numeric %.7g", what, i, a, m);
    }
}

/* ---- im2col / col2im ---- */

typedef struct conv_case {
    int batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
} conv_case;

static int conv_out(int in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static void conv_params(rt_params *p, const conv_case *c)
{
    int v[14] = {c->batch, c->C, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, c->DH, c->DW,
                 conv_out(c->H, c->KH, c->SH, c->PH, c->DH), conv_out(c->W, c->KW, c->SW, c->PW, c->DW)};
    for (int i = 0; i < 14; i++)
        p->i[i] = v[i];
}

static void ref_im2col(const conv_case *c, const float *x, double *col)
{
    int OH = conv_out(c->H, c->KH, c->SH, c->PH, c->DH), OW = conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    size_t at = 0;
    for (int b = 0; b < c->batch; b++)
        for (int ch = 0; ch < c->C; ch++)
            for (int kh = 0; kh < c->KH; kh++)
                for (int kw = 0; kw < c->KW; kw++)
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++, at++) {
                            int ih = oh * c->SH - c->PH + kh * c->DH, iw = ow * c->SW - c->PW + kw * c->DW;
                            bool in = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W;
                            col[at] = in ? x[((b * c->C + ch) * c->H + ih) * c->W + iw] : 0.0;
                        }
}

static const conv_case conv_cases[] = {
    {2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1},  /* same padding */
    {1, 2, 11, 8, 3, 2, 2, 3, 1, 0, 1, 1}, /* stride != kernel, rectangular */
    {2, 2, 9, 10, 3, 3, 2, 1, 2, 2, 2, 3}, /* dilation, big padding */
    {1, 1, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1},  /* 1x1 */
    {1, 3, 4, 6, 5, 5, 1, 1, 2, 2, 1, 1},  /* kernel larger than half the input */
};

static void conv_sizes(const conv_case *c, size_t *nx, size_t *ncol)
{
    int OH = conv_out(c->H, c->KH, c->SH, c->PH, c->DH), OW = conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    *nx = (size_t)c->batch * c->C * c->H * c->W;
    *ncol = (size_t)c->batch * c->C * c->KH * c->KW * OH * OW;
}

static void test_im2col_matches_reference(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        const conv_case *c = &conv_cases[k];
        size_t nx, ncol;
        conv_sizes(c, &nx, &ncol);
        float *x = frand(nx, 10 + k, -1, 1), *col = fzeros(ncol);
        fill_nan(col, ncol);
        double *ref = dzeros(ncol);
        ref_im2col(c, x, ref);
        launch l = make_launch(RT_K_IM2COL);
        conv_params(&l.p, c);
        bind(&l, 0, x, nx);
        bind(&l, 1, col, ncol);
        run(&l);
        expect_close(col, ref, ncol, 0, "im2col");
    }
}

/* col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>. It
 * must also equal the explicit transpose, in both accum modes. */
static void test_col2im_is_adjoint_of_im2col(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        const conv_case *c = &conv_cases[k];
        size_t nx, ncol;
        conv_sizes(c, &nx, &ncol);
        float *x = frand(nx, 20 + k, -1, 1), *cv = frand(ncol, 30 + k, -1, 1);
        float *col = fzeros(ncol), *dx = fzeros(nx);

        launch fwd = make_launch(RT_K_IM2COL);
        conv_params(&fwd.p, c);
        bind(&fwd, 0, x, nx);
        bind(&fwd, 1, col, ncol);
        run(&fwd);
        launch bwd = make_launch(RT_K_COL2IM);
        conv_params(&bwd.p, c);
        bind(&bwd, 0, cv, ncol);
        bind(&bwd, 1, dx, nx);
        run(&bwd);

        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < ncol; i++)
            lhs += (double)col[i] * cv[i];
        for (size_t i = 0; i < nx; i++)
            rhs += (double)x[i] * dx[i];
        expect_close1(rhs, lhs, 1e-5, "adjoint identity");

        /* Explicit transpose: dx[j] = sum over i with im2col(e_j)[i] = 1. */
        double *ref = dzeros(nx), *unit_col = dzeros(ncol);
        float *unit = fzeros(nx);
        for (size_t j = 0; j < nx; j++) {
            unit[j] = 1;
            ref_im2col(c, unit, unit_col);
            unit[j] = 0;
            for (size_t i = 0; i < ncol; i++)
                ref[j] += unit_col[i] * cv[i];
        }
        check_both_modes(&bwd, 14, 1, nx, ref, 1e-6);
    }
}

/* ---- activations ---- */

static double ref_act(int act, double x)
{
    switch (act) {
    case RT_ACT_RELU:
        return x < 0 ? 0 : x;
    case RT_ACT_RELU6:
        return x < 0 ? 0 : x > 6 ? 6 : x;
    case RT_ACT_GELU:
        return 0.5 * x * erfc(-x / sqrt(2.0));
    case RT_ACT_SILU:
        return x / (1 + exp(-x));
    case RT_ACT_SIGMOID:
        return 1 / (1 + exp(-x));
    default:
        return tanh(x);
    }
}

static const char *const act_names[] = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh"};

static void test_act_fwd_matches_reference(void **state)
{
    (void)state;
    const size_t n = 20011;
    float *x = fzeros(n), *y = fzeros(n);
    double *ref = dzeros(n);
    for (size_t i = 0; i < n; i++) /* dense over [-12, 12], plus extremes */
        x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    const float extremes[] = {-1e30f, -100, -87.5f, -30, -1e-6f, 0, 1e-6f, 30, 88.5f, 100, 1e30f};
    memcpy(x, extremes, sizeof extremes);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        for (size_t i = 0; i < n; i++)
            ref[i] = ref_act(act, x[i]);
        launch l = make_launch(RT_K_ACT_FWD);
        l.p.i[0] = (int)n, l.p.i[1] = act;
        bind(&l, 0, x, n);
        bind(&l, 1, y, n);
        fill_nan(y, n);
        run(&l);
        if (act == RT_ACT_SILU || act == RT_ACT_GELU) { /* x * tiny at -1e30 overflows the reference */
            y[0] = 0;
            ref[0] = 0;
        }
        expect_close(y, ref, n, 1e-6, act_names[act]);
    }
}

static void test_act_propagates_nan(void **state)
{
    (void)state;
    float x[3] = {NAN, 1, -1}, y[3];
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        launch l = make_launch(RT_K_ACT_FWD);
        l.p.i[0] = 3, l.p.i[1] = act;
        bind(&l, 0, x, 3);
        bind(&l, 1, y, 3);
        run(&l);
        if (!isnan(y[0]))
            fail_msg("%s(NaN) = %g", act_names[act], (double)y[0]);
        assert_false(isnan(y[1]) || isnan(y[2]));
    }
}

/* dx = dy * act'(x) against finite differences, then accum modes. */
static void test_act_bwd_gradcheck(void **state)
{
    (void)state;
    const size_t n = 301;
    float *x = frand(n, 7, -8, 8), *y = fzeros(n), *dy = frand(n, 8, -1, 1), *dx = fzeros(n);
    for (size_t i = 0; i < n; i++) /* keep clear of the kinks at 0 and 6 */
        if (fabsf(x[i]) < 0.05f || fabsf(x[i] - 6) < 0.05f)
            x[i] += 0.2f;
    double *num = dzeros(n);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        launch fwd = make_launch(RT_K_ACT_FWD);
        fwd.p.i[0] = (int)n, fwd.p.i[1] = act;
        bind(&fwd, 0, x, n);
        bind(&fwd, 1, y, n);
        numeric_grad(&fwd, x, n, y, dy, n, num);
        run(&fwd);

        bool reads_x = act == RT_ACT_GELU || act == RT_ACT_SILU;
        launch bwd = make_launch(RT_K_ACT_BWD);
        bwd.p.i[0] = (int)n, bwd.p.i[1] = act;
        bind(&bwd, 0, reads_x ? x : NULL, n); /* the other input is absent */
        bind(&bwd, 1, reads_x ? NULL : y, n);
        bind(&bwd, 2, dy, n);
        bind(&bwd, 3, dx, n);
        fill_nan(dx, n);
        run(&bwd);
        expect_grad(dx, num, n, 2e-3, act_names[act]);

        double *exact = dzeros(n);
        for (size_t i = 0; i < n; i++)
            exact[i] = dx[i];
        check_both_modes(&bwd, 2, 3, n, exact, 1e-6);
    }
}

/* ---- add, copy, copy2d, fill ---- */

static void test_add_copy_fill(void **state)
{
    (void)state;
    const size_t n = 70001; /* more than one parallel chunk */
    float *a = frand(n, 1, -1, 1), *b = frand(n, 2, -1, 1), *y = fzeros(n);
    double *ref = dzeros(n);

    launch add = make_launch(RT_K_ADD);
    add.p.i[0] = (int)n;
    bind(&add, 0, a, n);
    bind(&add, 1, b, n);
    bind(&add, 2, y, n);
    run(&add);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)a[i] + b[i];
    expect_close(y, ref, n, 1e-7, "add");

    launch copy = make_launch(RT_K_COPY);
    copy.p.i[0] = (int)n;
    bind(&copy, 0, a, n);
    bind(&copy, 1, y, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = a[i];
    check_both_modes(&copy, 1, 1, n, ref, 1e-7);

    launch fill = make_launch(RT_K_FILL);
    fill.p.i[0] = (int)n - 1;
    fill.p.f[0] = 2.5f;
    bind(&fill, 0, y, n - 1);
    y[n - 1] = 7;
    run(&fill);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(y[i] == 2.5f);
    assert_true(y[n - 1] == 7); /* count respected */
}

static void test_copy2d(void **state)
{
    (void)state;
    const int rows = 13, cols = 7, ss = 11, ds = 9, so = 3, doff = 5;
    size_t nsrc = (size_t)so + (rows - 1) * ss + cols, ndst = (size_t)doff + (rows - 1) * ds + cols + 4;
    float *src = frand(nsrc, 3, -1, 1), *dst = fzeros(ndst), *base = frand(ndst, 4, -1, 1);
    launch l = make_launch(RT_K_COPY2D);
    int v[7] = {rows, cols, ss, ds, so, doff, 0};
    memcpy(l.p.i, v, sizeof v);
    bind(&l, 0, src, nsrc);
    bind(&l, 1, dst, ndst);
    for (int accum = 0; accum <= 1; accum++) {
        memcpy(dst, base, ndst * sizeof *dst);
        l.p.i[6] = accum;
        run(&l);
        for (size_t i = 0; i < ndst; i++) {
            size_t rel = i - (size_t)doff;
            bool inside = i >= (size_t)doff && rel / ds < (size_t)rows && rel % ds < (size_t)cols;
            double want = base[i];
            if (inside) {
                double s = src[so + (rel / ds) * ss + rel % ds];
                want = accum ? want + s : s;
            }
            expect_close1(dst[i], want, 1e-7, "copy2d");
        }
    }
}

/* ---- bias gradient ---- */

static void check_bias_grad(int outer, int C, int inner)
{
    size_t n = (size_t)outer * C * inner;
    float *dy = frand(n, (uint64_t)(outer * 7 + inner), -1, 1), *db = fzeros((size_t)C);
    double *ref = dzeros((size_t)C);
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < inner; j++)
                ref[c] += dy[((size_t)o * C + c) * inner + j];
    launch l = make_launch(RT_K_BIAS_GRAD);
    l.p.i[0] = outer, l.p.i[1] = C, l.p.i[2] = inner;
    bind(&l, 0, dy, n);
    bind(&l, 1, db, (size_t)C);
    check_both_modes(&l, 3, 1, (size_t)C, ref, 1e-6);
}

static void test_bias_grad(void **state)
{
    (void)state;
    check_bias_grad(37, 5, 1);    /* linear layer: [rows, C] */
    check_bias_grad(3, 1031, 1);  /* several channel blocks */
    check_bias_grad(3, 5, 49);    /* conv: [N, C, HW] */
    check_bias_grad(2, 3, 7);     /* runs shorter than the lanes */
    check_bias_grad(0, 4, 3);     /* empty sum: zeros */
}

/* ---- dropout ---- */

static void test_dropout(void **state)
{
    (void)state;
    const size_t n = 100003;
    const float p = 0.3f;
    float *x = frand(n, 5, 0.5f, 1.5f), *y = fzeros(n), *dy = frand(n, 6, 0.5f, 1.5f), *dx = fzeros(n);
    uint32_t sc[RT_SC_COUNT] = {0};
    sc[RT_SC_SEED] = 1234;

    launch fwd = make_launch(RT_K_DROPOUT_FWD);
    fwd.p.i[0] = (int)n, fwd.p.i[1] = 17;
    fwd.p.f[0] = p;
    bind(&fwd, 0, x, n);
    bind(&fwd, 1, y, n);
    bind(&fwd, 2, sc, RT_SC_COUNT);
    run(&fwd);

    size_t dropped = 0;
    double *ref = dzeros(n);
    for (size_t i = 0; i < n; i++) {
        bool keep = rt_hash_uniform(1234, 17, (uint32_t)i) >= p;
        dropped += !keep;
        assert_true(y[i] == (keep ? x[i] * (1.0f / (1.0f - p)) : 0.0f));
        ref[i] = keep ? (double)(dy[i] * (1.0f / (1.0f - p))) : 0.0;
    }
    double frac = (double)dropped / (double)n;
    if (fabs(frac - p) > 0.01)
        fail_msg("dropped fraction %.4f, expected about %.2f", frac, (double)p);

    launch bwd = make_launch(RT_K_DROPOUT_BWD);
    bwd.p.i[0] = (int)n, bwd.p.i[1] = 17;
    bwd.p.f[0] = p;
    bind(&bwd, 0, dy, n);
    bind(&bwd, 1, dx, n);
    bind(&bwd, 2, sc, RT_SC_COUNT);
    check_both_modes(&bwd, 2, 1, n, ref, 1e-7);
    bwd.p.i[2] = 0;
    run(&bwd);
    for (size_t i = 0; i < n; i++) /* same mask forward and backward */
        assert_true((y[i] == 0) == (dx[i] == 0));

    /* A different seed or salt draws a different mask. */
    float *y2 = fzeros(n);
    bind(&fwd, 1, y2, n);
    fwd.p.i[1] = 18;
    run(&fwd);
    assert_true(memcmp(y, y2, n * sizeof *y) != 0);

    /* p = 0 is the identity, p = 1 drops everything. */
    fwd.p.f[0] = 0;
    run(&fwd);
    assert_memory_equal(y2, x, n * sizeof *x);
    fwd.p.f[0] = 1;
    run(&fwd);
    for (size_t i = 0; i < n; i++)
        assert_true(y2[i] == 0);
}

/* ---- pooling ---- */

typedef struct pool_case {
    int planes, H, W, KH, KW, SH, SW, PH, PW;
} pool_case;

static const pool_case pool_cases[] = {
    {3, 7, 9, 3, 3, 2, 2, 1, 1}, /* padding, stride != kernel, odd sizes */
    {2, 8, 6, 2, 2, 2, 2, 0, 0}, /* the classic 2x2 */
    {3, 7, 9, 2, 2, 2, 2, 0, 0}, /* 2x2 fast path on odd sizes (last row/column dropped) */
    {2, 5, 7, 3, 2, 1, 2, 1, 1}, /* overlapping rectangular windows */
};

static int pool_out(int in, int k, int s, int p)
{
    return (in + 2 * p - k) / s + 1;
}

static void pool_params(rt_params *p, const pool_case *c)
{
    int v[11] = {c->planes, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW,
                 pool_out(c->H, c->KH, c->SH, c->PH), pool_out(c->W, c->KW, c->SW, c->PW)};
    memcpy(p->i, v, sizeof v);
}

static void pool_sizes(const pool_case *c, size_t *nx, size_t *ny)
{
    *nx = (size_t)c->planes * c->H * c->W;
    *ny = (size_t)c->planes * pool_out(c->H, c->KH, c->SH, c->PH) * pool_out(c->W, c->KW, c->SW, c->PW);
}

/* Distinct values at least 0.01 apart (shuffled), so a finite-difference
 * step never changes which element wins a window. All negative, so a
 * padded window shows whether padding could win. */
static float *distinct_values(size_t n, uint64_t seed)
{
    float *x = fzeros(n), *u = frand(n, seed, 0, 1);
    for (size_t i = 0; i < n; i++)
        x[i] = -0.01f * (float)(i + 1);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(u[i - 1] * (float)i) % i;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    return x;
}

static void ref_pool(const pool_case *c, const float *x, bool max, bool include_pad, double *y, int32_t *arg)
{
    int OH = pool_out(c->H, c->KH, c->SH, c->PH), OW = pool_out(c->W, c->KW, c->SW, c->PW);
    for (int p = 0; p < c->planes; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double best = -INFINITY, sum = 0;
                int best_at = -1, inside = 0, padded = 0;
                for (int kh = 0; kh < c->KH; kh++)
                    for (int kw = 0; kw < c->KW; kw++) {
                        int h = oh * c->SH - c->PH + kh, w = ow * c->SW - c->PW + kw;
                        if (h >= c->H + c->PH || w >= c->W + c->PW)
                            continue; /* beyond the padded input */
                        padded++;
                        if (h < 0 || h >= c->H || w < 0 || w >= c->W)
                            continue;
                        double v = x[(p * c->H + h) * c->W + w];
                        inside++;
                        sum += v;
                        if (v > best) {
                            best = v;
                            best_at = h * c->W + w;
                        }
                    }
                size_t o = ((size_t)p * OH + oh) * OW + ow;
                y[o] = max ? best : sum / (include_pad ? padded : inside);
                if (arg)
                    arg[o] = best_at;
            }
}

static void test_maxpool(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
        const pool_case *c = &pool_cases[k];
        size_t nx, ny;
        pool_sizes(c, &nx, &ny);
        float *x = distinct_values(nx, 40 + k), *y = fzeros(ny), *r = frand(ny, 50 + k, -1, 1);
        float *dx = fzeros(nx);
        int32_t *arg = izeros(ny), *ref_arg = izeros(ny);
        double *ref = dzeros(ny), *num = dzeros(nx);
        ref_pool(c, x, true, false, ref, ref_arg);

        launch fwd = make_launch(RT_K_MAXPOOL_FWD);
        pool_params(&fwd.p, c);
        bind(&fwd, 0, x, nx);
        bind(&fwd, 1, y, ny);
        bind(&fwd, 2, arg, ny);
        run(&fwd);
        expect_close(y, ref, ny, 0, "maxpool y");
        assert_memory_equal(arg, ref_arg, ny * sizeof *arg);

        numeric_grad(&fwd, x, nx, y, r, ny, num);
        run(&fwd);
        launch bwd = make_launch(RT_K_MAXPOOL_BWD);
        pool_params(&bwd.p, c);
        bind(&bwd, 0, r, ny);
        bind(&bwd, 1, arg, ny);
        bind(&bwd, 2, dx, nx);
        run(&bwd);
        expect_grad(dx, num, nx, 2e-3, "maxpool");
        for (size_t i = 0; i < nx; i++)
            num[i] = dx[i];
        check_both_modes(&bwd, 11, 2, nx, num, 1e-6);
    }
}

static void test_maxpool_ties_and_nan(void **state)
{
    (void)state;
    /* One 2x2 window: ties go to the first element, NaN wins. */
    float x[4] = {1, 3, 3, 2}, y[1];
    int32_t arg[1];
    pool_case c = {1, 2, 2, 2, 2, 2, 2, 0, 0};
    launch l = make_launch(RT_K_MAXPOOL_FWD);
    pool_params(&l.p, &c);
    bind(&l, 0, x, 4);
    bind(&l, 1, y, 1);
    bind(&l, 2, arg, 1);
    run(&l);
    assert_true(y[0] == 3 && arg[0] == 1);
    x[3] = NAN;
    run(&l);
    assert_true(isnan(y[0]) && arg[0] == 3);

    /* A window wholly outside the input (OH beyond PyTorch's size) gives
     * 0 and argmax -1, for average pooling 0. */
    float x2[4] = {-1, -2, -3, -4}, y2[2];
    int32_t arg2[2];
    l.p.i[0] = 1, l.p.i[9] = 2, l.p.i[10] = 1; /* OH = 2: rows 2..3 do not exist */
    bind(&l, 0, x2, 4);
    bind(&l, 1, y2, 2);
    bind(&l, 2, arg2, 2);
    run(&l);
    assert_true(y2[0] == -1 && arg2[0] == 0 && y2[1] == 0 && arg2[1] == -1);
    launch avg = make_launch(RT_K_AVGPOOL_FWD);
    avg.p = l.p;
    bind(&avg, 0, x2, 4);
    bind(&avg, 1, y2, 2);
    run(&avg);
    assert_true(y2[0] == -2.5f && y2[1] == 0);

    /* Backward ignores an argmax outside the plane. */
    float dy[1] = {5}, dx[4];
    arg[0] = 99;
    launch b = make_launch(RT_K_MAXPOOL_BWD);
    pool_params(&b.p, &c);
    bind(&b, 0, dy, 1);
    bind(&b, 1, arg, 1);
    bind(&b, 2, dx, 4);
    run(&b);
    for (int i = 0; i < 4; i++)
        assert_true(dx[i] == 0);
}

static void test_avgpool(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++)
        for (int include_pad = 0; include_pad <= 1; include_pad++) {
            const pool_case *c = &pool_cases[k];
            size_t nx, ny;
            pool_sizes(c, &nx, &ny);
            float *x = frand(nx, 60 + k, -1, 1), *y = fzeros(ny), *r = frand(ny, 70 + k, -1, 1);
            float *dx = fzeros(nx);
            double *ref = dzeros(ny), *num = dzeros(nx);
            ref_pool(c, x, false, include_pad, ref, NULL);

            launch fwd = make_launch(RT_K_AVGPOOL_FWD);
            pool_params(&fwd.p, c);
            fwd.p.i[11] = include_pad;
            bind(&fwd, 0, x, nx);
            bind(&fwd, 1, y, ny);
            run(&fwd);
            expect_close(y, ref, ny, 1e-6, "avgpool y");

            numeric_grad(&fwd, x, nx, y, r, ny, num);
            launch bwd = make_launch(RT_K_AVGPOOL_BWD);
            pool_params(&bwd.p, c);
            bwd.p.i[11] = include_pad;
            bind(&bwd, 0, r, ny);
            bind(&bwd, 1, dx, nx);
            run(&bwd);
            expect_grad(dx, num, nx, 2e-3, "avgpool");
            for (size_t i = 0; i < nx; i++)
                num[i] = dx[i];
            check_both_modes(&bwd, 12, 1, nx, num, 1e-6);
        }
}

static void test_global_avg_pool(void **state)
{
    (void)state;
    const int planes = 7, hw = 37;
    size_t nx = (size_t)planes * hw;
    float *x = frand(nx, 80, -1, 1), *y = fzeros((size_t)planes), *r = frand((size_t)planes, 81, -1, 1);
    float *dx = fzeros(nx);
    double *ref = dzeros((size_t)planes), *num = dzeros(nx);
    for (int p = 0; p < planes; p++) {
        for (int j = 0; j < hw; j++)
            ref[p] += x[p * hw + j];
        ref[p] /= hw;
    }
    launch fwd = make_launch(RT_K_GAP_FWD);
    fwd.p.i[0] = planes, fwd.p.i[1] = hw;
    bind(&fwd, 0, x, nx);
    bind(&fwd, 1, y, (size_t)planes);
    run(&fwd);
    expect_close(y, ref, (size_t)planes, 1e-6, "gap y");

    numeric_grad(&fwd, x, nx, y, r, (size_t)planes, num);
    launch bwd = make_launch(RT_K_GAP_BWD);
    bwd.p.i[0] = planes, bwd.p.i[1] = hw;
    bind(&bwd, 0, r, (size_t)planes);
    bind(&bwd, 1, dx, nx);
    run(&bwd);
    expect_grad(dx, num, nx, 2e-3, "gap");
    for (size_t i = 0; i < nx; i++)
        num[i] = (double)r[i / hw] / hw;
    check_both_modes(&bwd, 2, 1, nx, num, 1e-6);
}

/* ---- batch norm ---- */

typedef struct bn_bufs {
    int N, C, HW;
    size_t n;
    float *x, *gamma, *beta, *y, *mean, *invstd, *rmean, *rvar;
} bn_bufs;

static bn_bufs bn_alloc(int N, int C, int HW, uint64_t seed)
{
    bn_bufs b = {N, C, HW, (size_t)N * C * HW, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    b.x = frand(b.n, seed, -2, 3); /* mean away from zero */
    b.gamma = frand((size_t)C, seed + 1, 0.5f, 1.5f);
    b.beta = frand((size_t)C, seed + 2, -0.5f, 0.5f);
    b.y = fzeros(b.n);
    b.mean = fzeros((size_t)C);
    b.invstd = fzeros((size_t)C);
    b.rmean = frand((size_t)C, seed + 3, -0.1f, 0.1f);
    b.rvar = frand((size_t)C, seed + 4, 0.9f, 1.1f);
    return b;
}

static launch bn_train_launch(bn_bufs *b)
{
    launch l = make_launch(RT_K_BN_TRAIN_FWD);
    l.p.i[0] = b->N, l.p.i[1] = b->C, l.p.i[2] = b->HW;
    l.p.f[0] = 1e-5f, l.p.f[1] = 0.1f;
    void *args[8] = {b->x, b->gamma, b->beta, b->y, b->mean, b->invstd, b->rmean, b->rvar};
    size_t sizes[8] = {b->n, (size_t)b->C, (size_t)b->C, b->n, (size_t)b->C, (size_t)b->C, (size_t)b->C,
                       (size_t)b->C};
    for (int i = 0; i < 8; i++)
        bind(&l, i, args[i], sizes[i]);
    return l;
}

static launch bn_bwd_launch(bn_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta)
{
    launch l = make_launch(RT_K_BN_BWD);
    l.p.i[0] = b->N, l.p.i[1] = b->C, l.p.i[2] = b->HW;
    bind(&l, 0, b->x, b->n);
    bind(&l, 1, dy, b->n);
    bind(&l, 2, b->gamma, (size_t)b->C);
    bind(&l, 3, b->mean, (size_t)b->C);
    bind(&l, 4, b->invstd, (size_t)b->C);
    bind(&l, 5, dx, b->n);
    bind(&l, 6, dgamma, (size_t)b->C);
    bind(&l, 7, dbeta, (size_t)b->C);
    return l;
}

static void test_bn_train_fwd(void **state)
{
    (void)state;
    bn_bufs b = bn_alloc(3, 4, 13, 90);
    float *rm0 = fcopy(b.rmean, (size_t)b.C), *rv0 = fcopy(b.rvar, (size_t)b.C);
    launch l = bn_train_launch(&b);
    run(&l);
    double *ref = dzeros(b.n);
    double count = (double)b.N * b.HW;
    for (int c = 0; c < b.C; c++) {
        double mean = 0, var = 0;
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++)
                mean += b.x[((size_t)n * b.C + c) * b.HW + j];
        mean /= count;
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++) {
                double d = b.x[((size_t)n * b.C + c) * b.HW + j] - mean;
                var += d * d;
            }
        var /= count;
        double invstd = 1 / sqrt(var + 1e-5);
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++) {
                size_t i = ((size_t)n * b.C + c) * b.HW + j;
                ref[i] = (b.x[i] - mean) * invstd * b.gamma[c] + b.beta[c];
            }
        expect_close1(b.mean[c], mean, 1e-6, "save_mean");
        expect_close1(b.invstd[c], invstd, 1e-6, "save_invstd");
        expect_close1(b.rmean[c], 0.9 * rm0[c] + 0.1 * mean, 1e-6, "running_mean");
        expect_close1(b.rvar[c], 0.9 * rv0[c] + 0.1 * var * count / (count - 1), 1e-6, "running_var");
    }
    expect_close(b.y, ref, b.n, 1e-5, "bn y");
}

static void test_bn_eval_fwd(void **state)
{
    (void)state;
    bn_bufs b = bn_alloc(2, 5, 11, 95);
    launch l = make_launch(RT_K_BN_EVAL_FWD);
    l.p.i[0] = b.N, l.p.i[1] = b.C, l.p.i[2] = b.HW;
    l.p.f[0] = 1e-3f;
    bind(&l, 0, b.x, b.n);
    bind(&l, 1, b.gamma, (size_t)b.C);
    bind(&l, 2, b.beta, (size_t)b.C);
    bind(&l, 3, b.rmean, (size_t)b.C);
    bind(&l, 4, b.rvar, (size_t)b.C);
    bind(&l, 5, b.y, b.n);
    run(&l);
    double *ref = dzeros(b.n);
    for (size_t i = 0; i < b.n; i++) {
        int c = (int)(i / (size_t)b.HW % (size_t)b.C);
        ref[i] = (b.x[i] - b.rmean[c]) / sqrt((double)b.rvar[c] + 1e-3) * b.gamma[c] + b.beta[c];
    }
    expect_close(b.y, ref, b.n, 1e-5, "bn eval y");
}

static void test_bn_bwd_gradcheck(void **state)
{
    (void)state;
    bn_bufs b = bn_alloc(3, 2, 5, 100);
    float *r = frand(b.n, 101, -1, 1), *dx = fzeros(b.n);
    float *dgamma = fzeros((size_t)b.C), *dbeta = fzeros((size_t)b.C);
    double *num = dzeros(b.n);
    launch fwd = bn_train_launch(&b);

    numeric_grad(&fwd, b.x, b.n, b.y, r, b.n, num);
    run(&fwd); /* save_mean/invstd of the unperturbed x */
    launch bwd = bn_bwd_launch(&b, r, dx, dgamma, dbeta);
    run(&bwd);
    expect_grad(dx, num, b.n, 2e-3, "bn dx");
    numeric_grad(&fwd, b.gamma, (size_t)b.C, b.y, r, b.n, num);
    expect_grad(dgamma, num, (size_t)b.C, 2e-3, "bn dgamma");
    numeric_grad(&fwd, b.beta, (size_t)b.C, b.y, r, b.n, num);
    expect_grad(dbeta, num, (size_t)b.C, 2e-3, "bn dbeta");
    run(&fwd);

    /* Each output alone, in both accum modes, equals the full run. */
    double *ref_dx = dzeros(b.n), *ref_dg = dzeros((size_t)b.C), *ref_db = dzeros((size_t)b.C);
    for (size_t i = 0; i < b.n; i++)
        ref_dx[i] = dx[i];
    for (int c = 0; c < b.C; c++)
        ref_dg[c] = dgamma[c], ref_db[c] = dbeta[c];
    launch only_dx = bn_bwd_launch(&b, r, dx, NULL, NULL);
    check_both_modes(&only_dx, 3, 5, b.n, ref_dx, 1e-6);
    launch only_dg = bn_bwd_launch(&b, r, NULL, dgamma, NULL);
    check_both_modes(&only_dg, 4, 6, (size_t)b.C, ref_dg, 1e-6);
    launch only_db = bn_bwd_launch(&b, r, NULL, NULL, dbeta);
    check_both_modes(&only_db, 4, 7, (size_t)b.C, ref_db, 1e-6);
}

/* ---- layer norm ---- */

typedef struct ln_bufs {
    int rows, D;
    size_t n;
    float *x, *gamma, *beta, *y, *mean, *rstd;
} ln_bufs;

static ln_bufs ln_alloc(int rows, int D, uint64_t seed)
{
    ln_bufs b = {rows, D, (size_t)rows * D, NULL, NULL, NULL, NULL, NULL, NULL};
    b.x = frand(b.n, seed, -1, 2);
    b.gamma = frand((size_t)D, seed + 1, 0.5f, 1.5f);
    b.beta = frand((size_t)D, seed + 2, -0.5f, 0.5f);
    b.y = fzeros(b.n);
    b.mean = fzeros((size_t)rows);
    b.rstd = fzeros((size_t)rows);
    return b;
}

static launch ln_fwd_launch(ln_bufs *b)
{
    launch l = make_launch(RT_K_LN_FWD);
    l.p.i[0] = b->rows, l.p.i[1] = b->D;
    l.p.f[0] = 1e-5f;
    bind(&l, 0, b->x, b->n);
    bind(&l, 1, b->gamma, (size_t)b->D);
    bind(&l, 2, b->beta, (size_t)b->D);
    bind(&l, 3, b->y, b->n);
    bind(&l, 4, b->mean, (size_t)b->rows);
    bind(&l, 5, b->rstd, (size_t)b->rows);
    return l;
}

static launch ln_bwd_launch(ln_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta)
{
    launch l = make_launch(RT_K_LN_BWD);
    l.p.i[0] = b->rows, l.p.i[1] = b->D;
    bind(&l, 0, b->x, b->n);
    bind(&l, 1, dy, b->n);
    bind(&l, 2, b->gamma, (size_t)b->D);
    bind(&l, 3, b->mean, (size_t)b->rows);
    bind(&l, 4, b->rstd, (size_t)b->rows);
    bind(&l, 5, dx, b->n);
    bind(&l, 6, dgamma, (size_t)b->D);
    bind(&l, 7, dbeta, (size_t)b->D);
    return l;
}

static void test_ln_fwd(void **state)
{
    (void)state;
    ln_bufs b = ln_alloc(5, 19, 110);
    launch l = ln_fwd_launch(&b);
    run(&l);
    double *ref = dzeros(b.n);
    for (int r = 0; r < b.rows; r++) {
        const float *x = b.x + (size_t)r * b.D;
        double mean = 0, var = 0;
        for (int d = 0; d < b.D; d++)
            mean += x[d];
        mean /= b.D;
        for (int d = 0; d < b.D; d++)
            var += (x[d] - mean) * (x[d] - mean);
        double rstd = 1 / sqrt(var / b.D + 1e-5);
        for (int d = 0; d < b.D; d++)
            ref[(size_t)r * b.D + d] = (x[d] - mean) * rstd * b.gamma[d] + b.beta[d];
        expect_close1(b.mean[r], mean, 1e-6, "save_mean");
        expect_close1(b.rstd[r], rstd, 1e-6, "save_rstd");
    }
    expect_close(b.y, ref, b.n, 1e-5, "ln y");
}

static void test_ln_bwd_gradcheck(void **state)
{
    (void)state;
    ln_bufs b = ln_alloc(4, 11, 120);
    float *r = frand(b.n, 121, -1, 1), *dx = fzeros(b.n);
    float *dgamma = fzeros((size_t)b.D), *dbeta = fzeros((size_t)b.D);
    double *num = dzeros(b.n);
    launch fwd = ln_fwd_launch(&b);

    numeric_grad(&fwd, b.x, b.n, b.y, r, b.n, num);
    run(&fwd);
    launch bwd = ln_bwd_launch(&b, r, dx, dgamma, dbeta);
    run(&bwd);
    expect_grad(dx, num, b.n, 2e-3, "ln dx");
    numeric_grad(&fwd, b.gamma, (size_t)b.D, b.y, r, b.n, num);
    expect_grad(dgamma, num, (size_t)b.D, 2e-3, "ln dgamma");
    numeric_grad(&fwd, b.beta, (size_t)b.D, b.y, r, b.n, num);
    expect_grad(dbeta, num, (size_t)b.D, 2e-3, "ln dbeta");
    run(&fwd);

    double *ref_dx = dzeros(b.n), *ref_dg = dzeros((size_t)b.D), *ref_db = dzeros((size_t)b.D);
    for (size_t i = 0; i < b.n; i++)
        ref_dx[i] = dx[i];
    for (int d = 0; d < b.D; d++)
        ref_dg[d] = dgamma[d], ref_db[d] = dbeta[d];
    launch only_dx = ln_bwd_launch(&b, r, dx, NULL, NULL);
    check_both_modes(&only_dx, 2, 5, b.n, ref_dx, 1e-6);
    launch only_dg = ln_bwd_launch(&b, r, NULL, dgamma, NULL);
    check_both_modes(&only_dg, 3, 6, (size_t)b.D, ref_dg, 1e-6);
    launch only_db = ln_bwd_launch(&b, r, NULL, NULL, dbeta);
    check_both_modes(&only_db, 3, 7, (size_t)b.D, ref_db, 1e-6);
}

/* ---- embedding ---- */

static void test_embedding(void **state)
{
    (void)state;
    const int rows = 9, num = 6, dim = 5;
    int32_t idx[9] = {2, 0, 5, 2, -1, 6, 3, 2, 0}; /* repeats and two out of range */
    size_t nw = (size_t)num * dim, ny = (size_t)rows * dim;
    float *W = frand(nw, 130, -1, 1), *y = fzeros(ny), *r = frand(ny, 131, -1, 1), *dW = fzeros(nw);
    double *ref = dzeros(ny), *num_grad = dzeros(nw), *ref_dw = dzeros(nw);

    launch fwd = make_launch(RT_K_EMBED_FWD);
    fwd.p.i[0] = rows, fwd.p.i[1] = num, fwd.p.i[2] = dim;
    bind(&fwd, 0, idx, rows);
    bind(&fwd, 1, W, nw);
    bind(&fwd, 2, y, ny);
    fill_nan(y, ny);
    run(&fwd);
    for (int i = 0; i < rows; i++)
        for (int d = 0; d < dim; d++)
            ref[i * dim + d] = idx[i] >= 0 && idx[i] < num ? W[idx[i] * dim + d] : 0.0;
    expect_close(y, ref, ny, 0, "embedding y");

    numeric_grad(&fwd, W, nw, y, r, ny, num_grad);
    launch bwd = make_launch(RT_K_EMBED_BWD);
    bwd.p.i[0] = rows, bwd.p.i[1] = num, bwd.p.i[2] = dim;
    bind(&bwd, 0, idx, rows);
    bind(&bwd, 1, r, ny);
    bind(&bwd, 2, dW, nw);
    run(&bwd);
    expect_grad(dW, num_grad, nw, 2e-3, "embedding dW");
    for (int i = 0; i < rows; i++) /* row 1 and 4 of W are named by no index: 0 */
        if (idx[i] >= 0 && idx[i] < num)
            for (int d = 0; d < dim; d++)
                ref_dw[idx[i] * dim + d] += r[i * dim + d];
    check_both_modes(&bwd, 3, 2, nw, ref_dw, 1e-6);
}

/* ---- softmax cross entropy ---- */

static void ref_softmax_ce(const float *x, const int32_t *labels, int N, int C, double s, double *probs,
                           double *loss, unsigned *correct)
{
    *loss = 0;
    *correct = 0;
    for (int n = 0; n < N; n++) {
        const float *row = x + (size_t)n * C;
        double top = row[0], z = 0;
        int arg = 0;
        for (int c = 1; c < C; c++)
            if (row[c] > top)
                top = row[c], arg = c;
        for (int c = 0; c < C; c++)
            z += exp(row[c] - top);
        double log_z = top + log(z);
        for (int c = 0; c < C; c++) {
            probs[(size_t)n * C + c] = exp(row[c] - log_z);
            double q = (c == labels[n] ? 1 - s : 0) + s / C;
            *loss -= q * (row[c] - log_z);
        }
        *correct += arg == labels[n];
    }
    *loss /= N;
}

static void test_softmax_ce(void **state)
{
    (void)state;
    const int N = 7, C = 11;
    const size_t n = (size_t)N * C;
    int32_t labels[7] = {0, 10, 3, 3, 5, 7, 1};
    const float smoothing[2] = {0, 0.1f};
    for (int si = 0; si < 2; si++) {
        float *x = frand(n, 140 + si, -3, 3), *probs = fzeros(n), *dl = fzeros(n);
        x[2 * C + 3] = 9, x[2 * C + 6] = 9; /* tie, label 3 first: correct */
        x[3 * C + 1] = 9, x[3 * C + 3] = 9; /* tie, label 3 second: wrong */
        float sc[RT_SC_COUNT] = {0};
        sc[RT_SC_LOSS_SUM] = 1.5f;
        ((unsigned *)sc)[RT_SC_CORRECT] = 2;
        ((unsigned *)sc)[RT_SC_SAMPLES] = 10;

        launch fwd = make_launch(RT_K_SOFTMAX_CE_FWD);
        fwd.p.i[0] = N, fwd.p.i[1] = C;
        fwd.p.f[0] = smoothing[si];
        bind(&fwd, 0, x, n);
        bind(&fwd, 1, labels, (size_t)N);
        bind(&fwd, 2, probs, n);
        bind(&fwd, 3, sc, RT_SC_COUNT);
        run(&fwd);

        double *ref = dzeros(n), loss;
        unsigned correct;
        ref_softmax_ce(x, labels, N, C, smoothing[si], ref, &loss, &correct);
        expect_close(probs, ref, n, 1e-6, "probs");
        expect_close1(sc[RT_SC_LOSS], loss, 1e-6, "LOSS");
        expect_close1(sc[RT_SC_LOSS_SUM], 1.5 + loss * N, 1e-6, "LOSS_SUM");
        assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 2 + correct);
        assert_int_equal(((unsigned *)sc)[RT_SC_SAMPLES], 10 + N);
        assert_true(correct >= 1); /* row 2 */

        /* Gradient of LOSS through finite differences. */
        double *num = dzeros(n);
        float one = 1;
        numeric_grad(&fwd, x, n, &sc[RT_SC_LOSS], &one, 1, num);
        run(&fwd);
        launch bwd = make_launch(RT_K_SOFTMAX_CE_BWD);
        bwd.p.i[0] = N, bwd.p.i[1] = C;
        bwd.p.f[0] = smoothing[si];
        bind(&bwd, 0, probs, n);
        bind(&bwd, 1, labels, (size_t)N);
        bind(&bwd, 2, dl, n);
        run(&bwd);
        expect_grad(dl, num, n, 1e-3, "softmax ce");
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                size_t k = (size_t)i * C + c;
                num[k] = (ref[k] - ((c == labels[i] ? 1 - smoothing[si] : 0) + smoothing[si] / C)) / N;
            }
        check_both_modes(&bwd, 2, 2, n, num, 1e-6);
    }
}

static void test_softmax_ce_extreme_logits(void **state)
{
    (void)state;
    float x[4] = {1000, -1000, 0, 999}, probs[4], sc[RT_SC_COUNT] = {0};
    int32_t labels[1] = {3};
    launch l = make_launch(RT_K_SOFTMAX_CE_FWD);
    l.p.i[0] = 1, l.p.i[1] = 4;
    bind(&l, 0, x, 4);
    bind(&l, 1, labels, 1);
    bind(&l, 2, probs, 4);
    bind(&l, 3, sc, RT_SC_COUNT);
    run(&l);
    expect_close1(sc[RT_SC_LOSS], 1 + log1p(exp(-1.0)), 1e-6, "stable loss");
    assert_true(isfinite(probs[0]) && probs[1] == 0 && isfinite(probs[3]));
}

/* A label outside [0, C) contributes no loss, no correct count and no
 * gradient; the mean still divides by N. */
static void test_softmax_ce_ignores_bad_label(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, 3, 2, 1}, probs[6], dl[6], sc[RT_SC_COUNT] = {0};
    int32_t labels[2] = {2, 7};
    launch l = make_launch(RT_K_SOFTMAX_CE_FWD);
    l.p.i[0] = 2, l.p.i[1] = 3;
    bind(&l, 0, x, 6);
    bind(&l, 1, labels, 2);
    bind(&l, 2, probs, 6);
    bind(&l, 3, sc, RT_SC_COUNT);
    run(&l);
    double row0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3;
    expect_close1(sc[RT_SC_LOSS], row0 / 2, 1e-6, "loss without the bad row");
    assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 1);
    launch b = make_launch(RT_K_SOFTMAX_CE_BWD);
    b.p.i[0] = 2, b.p.i[1] = 3;
    bind(&b, 0, probs, 6);
    bind(&b, 1, labels, 2);
    bind(&b, 2, dl, 6);
    fill_nan(dl, 6);
    run(&b);
    for (int c = 3; c < 6; c++)
        assert_true(dl[c] == 0);
    assert_true(dl[2] < 0 && dl[0] > 0);
}

/* Empty dimensions: nothing is read, outputs that exist are written. */
static void test_empty_shapes(void **state)
{
    (void)state;
    launch act = make_launch(RT_K_ACT_FWD); /* count 0, both views absent */
    act.p.i[1] = RT_ACT_GELU;
    run(&act);

    float col[2 * 9 * 4], dx[2 * 3 * 3];
    conv_case c = {1, 2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    launch im = make_launch(RT_K_IM2COL); /* W = 0: columns are all padding */
    conv_params(&im.p, &c);
    im.p.i[3] = 0, im.p.i[12] = 2, im.p.i[13] = 2;
    bind(&im, 1, col, sizeof col / sizeof col[0]);
    fill_nan(col, sizeof col / sizeof col[0]);
    run(&im);
    for (size_t i = 0; i < sizeof col / sizeof col[0]; i++)
        assert_true(col[i] == 0);

    launch ci = make_launch(RT_K_COL2IM); /* OH = 0: dx = 0 */
    conv_params(&ci.p, &c);
    ci.p.i[12] = 0;
    bind(&ci, 1, dx, sizeof dx / sizeof dx[0]);
    fill_nan(dx, sizeof dx / sizeof dx[0]);
    run(&ci);
    for (size_t i = 0; i < sizeof dx / sizeof dx[0]; i++)
        assert_true(dx[i] == 0);

    float dW[6];
    launch eb = make_launch(RT_K_EMBED_BWD); /* rows 0: dW = 0 */
    eb.p.i[1] = 3, eb.p.i[2] = 2;
    bind(&eb, 2, dW, 6);
    fill_nan(dW, 6);
    run(&eb);
    for (int i = 0; i < 6; i++)
        assert_true(dW[i] == 0);

    float dg[4], db[4];
    ln_bufs lb = {0, 4, 0, NULL, NULL, NULL, NULL, NULL, NULL};
    float gamma[4] = {1, 1, 1, 1};
    lb.gamma = gamma;
    launch ln = ln_bwd_launch(&lb, NULL, NULL, dg, db); /* rows 0: param grads 0 */
    fill_nan(dg, 4);
    fill_nan(db, 4);
    run(&ln);
    for (int i = 0; i < 4; i++)
        assert_true(dg[i] == 0 && db[i] == 0);
}

/* ---- mean squared error ---- */

static void test_mse(void **state)
{
    (void)state;
    const int N = 6, D = 7;
    const size_t n = (size_t)N * D;
    float *pred = frand(n, 150, -1, 1), *target = frand(n, 151, -1, 1), *dp = fzeros(n);
    float sc[RT_SC_COUNT] = {0};
    sc[RT_SC_LOSS_SUM] = 0.25f;
    launch fwd = make_launch(RT_K_MSE_FWD);
    fwd.p.i[0] = N, fwd.p.i[1] = D;
    bind(&fwd, 0, pred, n);
    bind(&fwd, 1, target, n);
    bind(&fwd, 2, sc, RT_SC_COUNT);
    run(&fwd);
    double loss = 0;
    for (size_t i = 0; i < n; i++)
        loss += ((double)pred[i] - target[i]) * ((double)pred[i] - target[i]);
    loss /= (double)n;
    expect_close1(sc[RT_SC_LOSS], loss, 1e-6, "mse LOSS");
    expect_close1(sc[RT_SC_LOSS_SUM], 0.25 + loss * N, 1e-6, "mse LOSS_SUM");
    assert_int_equal(((unsigned *)sc)[RT_SC_SAMPLES], N);
    assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 0);

    double *num = dzeros(n);
    float one = 1;
    numeric_grad(&fwd, pred, n, &sc[RT_SC_LOSS], &one, 1, num);
    launch bwd = make_launch(RT_K_MSE_BWD);
    bwd.p.i[0] = N, bwd.p.i[1] = D;
    bind(&bwd, 0, pred, n);
    bind(&bwd, 1, target, n);
    bind(&bwd, 2, dp, n);
    run(&bwd);
    expect_grad(dp, num, n, 1e-3, "mse");
    for (size_t i = 0; i < n; i++)
        num[i] = 2 * ((double)pred[i] - target[i]) / (double)n;
    check_both_modes(&bwd, 2, 2, n, num, 1e-6);
}

/* ---- optimizers ---- */

static void test_grad_norm(void **state)
{
    (void)state;
    const size_t n = 1003;
    float *g = frand(n, 160, -1, 1);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * g[i];
    double norm = sqrt(sum);
    const float max_norms[3] = {1.0f, 1000.0f, 0.0f};
    for (int k = 0; k < 3; k++) {
        float sc[RT_SC_COUNT] = {0};
        launch l = make_launch(RT_K_GRAD_NORM);
        l.p.i[0] = (int)n;
        l.p.f[0] = max_norms[k];
        bind(&l, 0, g, n);
        bind(&l, 1, sc, RT_SC_COUNT);
        run(&l);
        expect_close1(sc[RT_SC_GRAD_NORM], norm, 1e-6, "norm");
        expect_close1(sc[RT_SC_CLIP_SCALE], fmin(1.0, max_norms[k] / (norm + 1e-6)), 1e-6, "clip");
    }
}

typedef struct sgd_case {
    int has_momentum, nesterov, use_clip;
    float momentum, dampening, wd;
} sgd_case;

static void test_sgd_three_steps(void **state)
{
    (void)state;
    const sgd_case cases[] = {
        {0, 0, 0, 0, 0, 0},         {0, 0, 1, 0, 0, 0.01f},      {1, 0, 0, 0.9f, 0, 0},
        {1, 0, 1, 0.9f, 0.1f, 0.01f}, {1, 1, 0, 0.9f, 0, 0.001f},
    };
    const size_t n = 37;
    const float lrs[3] = {0.1f, 0.05f, 0.02f};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sgd_case *c = &cases[k];
        float *p = frand(n, 170 + k, -1, 1), *buf = fzeros(n);
        fill_nan(buf, n); /* the first step must not read the buffer */
        double *rp = dzeros(n), *rb = dzeros(n);
        for (size_t i = 0; i < n; i++)
            rp[i] = p[i];
        for (int t = 1; t <= 3; t++) {
            float *grad = frand(n, 180 + 10 * k + (uint64_t)t, -1, 1);
            float sc[RT_SC_COUNT] = {0};
            sc[RT_SC_LR] = lrs[t - 1];
            ((unsigned *)sc)[RT_SC_STEP] = (unsigned)t;
            sc[RT_SC_CLIP_SCALE] = 0.5f;
            launch l = make_launch(RT_K_SGD);
            l.p.i[0] = (int)n, l.p.i[1] = c->has_momentum, l.p.i[2] = c->nesterov, l.p.i[3] = c->use_clip;
            l.p.f[0] = c->momentum, l.p.f[1] = c->dampening, l.p.f[2] = c->wd;
            bind(&l, 0, p, n);
            bind(&l, 1, grad, n);
            bind(&l, 2, c->has_momentum ? buf : NULL, n);
            bind(&l, 3, sc, RT_SC_COUNT);
            run(&l);
            for (size_t i = 0; i < n; i++) { /* torch.optim.SGD */
                double g = grad[i] * (c->use_clip ? 0.5 : 1.0) + (double)c->wd * rp[i];
                if (c->has_momentum) {
                    rb[i] = t == 1 ? g : c->momentum * rb[i] + (1 - (double)c->dampening) * g;
                    g = c->nesterov ? g + c->momentum * rb[i] : rb[i];
                }
                rp[i] -= lrs[t - 1] * g;
            }
            expect_close(p, rp, n, 1e-6, "sgd param");
            if (c->has_momentum)
                expect_close(buf, rb, n, 1e-6, "sgd momentum buffer");
        }
    }
}

static void test_adamw_three_steps(void **state)
{
    (void)state;
    const size_t n = 41;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    const float lrs[3] = {1e-2f, 5e-3f, 2e-3f};
    for (int use_clip = 0; use_clip <= 1; use_clip++) {
        float *p = frand(n, 190, -1, 1), *m = fzeros(n), *v = fzeros(n);
        double *rp = dzeros(n), *rm = dzeros(n), *rv = dzeros(n);
        for (size_t i = 0; i < n; i++)
            rp[i] = p[i];
        for (int t = 1; t <= 3; t++) {
            float *grad = frand(n, 200 + (uint64_t)t, -1, 1);
            float sc[RT_SC_COUNT] = {0};
            sc[RT_SC_LR] = lrs[t - 1];
            ((unsigned *)sc)[RT_SC_STEP] = (unsigned)t;
            sc[RT_SC_BIAS_CORR1] = (float)(1 - pow(b1, t));
            sc[RT_SC_BIAS_CORR2] = (float)(1 - pow(b2, t));
            sc[RT_SC_CLIP_SCALE] = 0.25f;
            launch l = make_launch(RT_K_ADAMW);
            l.p.i[0] = (int)n, l.p.i[1] = use_clip;
            l.p.f[0] = (float)b1, l.p.f[1] = (float)b2, l.p.f[2] = (float)eps, l.p.f[3] = (float)wd;
            bind(&l, 0, p, n);
            bind(&l, 1, grad, n);
            bind(&l, 2, m, n);
            bind(&l, 3, v, n);
            bind(&l, 4, sc, RT_SC_COUNT);
            run(&l);
            double lr = lrs[t - 1], bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
            for (size_t i = 0; i < n; i++) { /* torch.optim.AdamW */
                double g = grad[i] * (use_clip ? 0.25 : 1.0);
                rp[i] *= 1 - lr * wd;
                rm[i] = b1 * rm[i] + (1 - b1) * g;
                rv[i] = b2 * rv[i] + (1 - b2) * g * g;
                rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
            }
            expect_close(p, rp, n, 2e-6, "adamw param");
            expect_close(m, rm, n, 1e-6, "adamw m");
            expect_close(v, rv, n, 1e-6, "adamw v");
        }
    }
}

/* ---- determinism: 1 and 3 threads give the same bits ---- */

/* Runs `l` on both pools from the same starting state of every output
 * slot, and compares the outputs (and scalars) bit for bit. */
static void expect_thread_independent(const launch *l, cpu_pool *one, cpu_pool *three, const char *what)
{
    void *start[RT_MAX_ARGS] = {0}, *first[RT_MAX_ARGS] = {0};
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i]) {
            start[i] = track(malloc(l->bytes[i]));
            memcpy(start[i], l->ptr[i], l->bytes[i]);
        }
    run_on(one, l);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i]) {
            first[i] = track(malloc(l->bytes[i]));
            memcpy(first[i], l->ptr[i], l->bytes[i]);
            memcpy(l->ptr[i], start[i], l->bytes[i]);
        }
    run_on(three, l);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i] && memcmp(first[i], l->ptr[i], l->bytes[i]) != 0)
            fail_msg("%s: arg %d differs between 1 and 3 threads", what, i);
}

static void test_thread_count_independence(void **state)
{
    (void)state;
    cpu_pool *one, *three;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);

    bn_bufs b = bn_alloc(4, 32, 3001, 300);
    launch bn = bn_train_launch(&b);
    expect_thread_independent(&bn, one, three, "bn_train_fwd");
    float *dy = frand(b.n, 301, -1, 1), *dx = fzeros(b.n);
    float *dg = fzeros((size_t)b.C), *db = fzeros((size_t)b.C);
    launch bnb = bn_bwd_launch(&b, dy, dx, dg, db);
    expect_thread_independent(&bnb, one, three, "bn_bwd");

    ln_bufs lb = ln_alloc(300, 777, 310);
    launch ln = ln_fwd_launch(&lb);
    expect_thread_independent(&ln, one, three, "ln_fwd");
    float *ldy = frand(lb.n, 311, -1, 1), *ldx = fzeros(lb.n);
    float *ldg = fzeros((size_t)lb.D), *ldb = fzeros((size_t)lb.D);
    launch lnb = ln_bwd_launch(&lb, ldy, ldx, ldg, ldb);
    expect_thread_independent(&lnb, one, three, "ln_bwd");

    const int shapes[2][3] = {{64, 3000, 1}, {8, 64, 4097}};
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)shapes[k][0] * shapes[k][1] * shapes[k][2];
        launch bg = make_launch(RT_K_BIAS_GRAD);
        memcpy(bg.p.i, shapes[k], sizeof shapes[k]);
        bind(&bg, 0, frand(n, 320 + (uint64_t)k, -1, 1), n);
        bind(&bg, 1, fzeros((size_t)shapes[k][1]), (size_t)shapes[k][1]);
        expect_thread_independent(&bg, one, three, "bias_grad");
    }

    const int N = 3000, C = 37;
    int32_t *labels = izeros((size_t)N);
    for (int i = 0; i < N; i++)
        labels[i] = (i * 7) % C;
    float sc[RT_SC_COUNT] = {0};
    launch ce = make_launch(RT_K_SOFTMAX_CE_FWD);
    ce.p.i[0] = N, ce.p.i[1] = C;
    ce.p.f[0] = 0.1f;
    bind(&ce, 0, frand((size_t)N * C, 330, -4, 4), (size_t)N * C);
    bind(&ce, 1, labels, (size_t)N);
    bind(&ce, 2, fzeros((size_t)N * C), (size_t)N * C);
    bind(&ce, 3, sc, RT_SC_COUNT);
    expect_thread_independent(&ce, one, three, "softmax_ce_fwd");

    const size_t big = 1000003;
    launch mse = make_launch(RT_K_MSE_FWD);
    mse.p.i[0] = 1, mse.p.i[1] = (int)big;
    bind(&mse, 0, frand(big, 340, -1, 1), big);
    bind(&mse, 1, frand(big, 341, -1, 1), big);
    bind(&mse, 2, sc, RT_SC_COUNT);
    expect_thread_independent(&mse, one, three, "mse_fwd");

    launch gn = make_launch(RT_K_GRAD_NORM);
    gn.p.i[0] = (int)big;
    gn.p.f[0] = 1;
    bind(&gn, 0, frand(big, 350, -1, 1), big);
    bind(&gn, 1, sc, RT_SC_COUNT);
    expect_thread_independent(&gn, one, three, "grad_norm");

    const int rows = 5000, num = 50, dim = 300;
    int32_t *idx = izeros((size_t)rows);
    for (int i = 0; i < rows; i++)
        idx[i] = (i * 13) % num;
    launch eb = make_launch(RT_K_EMBED_BWD);
    eb.p.i[0] = rows, eb.p.i[1] = num, eb.p.i[2] = dim;
    bind(&eb, 0, idx, (size_t)rows);
    bind(&eb, 1, frand((size_t)rows * dim, 360, -1, 1), (size_t)rows * dim);
    bind(&eb, 2, fzeros((size_t)num * dim), (size_t)num * dim);
    expect_thread_independent(&eb, one, three, "embed_bwd");

    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

/* ---- launch validation ---- */

static char g_buf; /* non-NULL rt_buffer stand-in */

static rt_view view(size_t elems)
{
    return (rt_view){elems ? (rt_buffer *)(void *)&g_buf : NULL, 0, elems * 4};
}

static void expect_rejected(const rt_launch *l, const char *why)
{
    rt_error_clear();
    if (rt_launch_validate(l) != VKT_ERR_INVALID_ARG)
        fail_msg("accepted a launch with %s", why);
    const char *name = rt_kernel_name(l->kernel);
    const char *msg = rt_error_message();
    if ((unsigned)l->kernel < RT_K_COUNT && strncmp(msg, name, strlen(name)) != 0)
        fail_msg("message for %s does not name the kernel: '%s'", why, msg);
}

static void expect_accepted(const rt_launch *l, const char *what)
{
    if (rt_launch_validate(l) != VKT_OK)
        fail_msg("rejected %s: %s", what, rt_error_message());
}

/* C[M, N] = A[M, K] B[K, N] over 3 batches. */
static rt_launch gemm_launch(void)
{
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_GEMM;
    l.nargs = 4;
    int M = 5, N = 6, K = 7, batch = 3, lda = 8, ldb = 6, ldc = 9;
    int v[15] = {M, N, K, 0, 0, lda, ldb, ldc, batch, 50, 42, 60, 0, 0, 0};
    memcpy(l.params.i, v, sizeof v);
    l.args[0] = view(2 * 50 + 4 * 8 + 7);  /* (batch-1)*strideA + (M-1)*lda + K */
    l.args[1] = view(2 * 42 + 6 * 6 + 6);  /* (batch-1)*strideB + (K-1)*ldb + N */
    l.args[2] = view(2 * 60 + 4 * 9 + 6);  /* (batch-1)*strideC + (M-1)*ldc + N */
    return l;
}

static void test_validate_gemm(void **state)
{
    (void)state;
    rt_launch l = gemm_launch();
    expect_accepted(&l, "a batched gemm");
    l.args[0].size -= 4;
    expect_rejected(&l, "A one element short");
    l = gemm_launch();
    l.args[2].size -= 4;
    expect_rejected(&l, "C one element short");
    l = gemm_launch();
    l.params.i[14] = 1; /* reduce_batch: C is one matrix */
    l.args[2] = view(4 * 9 + 6);
    expect_accepted(&l, "reduce_batch with a single C");
    l = gemm_launch();
    l.params.i[5] = 6;
    expect_rejected(&l, "lda < K");
    l = gemm_launch();
    l.params.i[3] = 1; /* transA: A is [K, M], lda >= M */
    l.params.i[5] = 5;
    l.args[0] = view(2 * 50 + 6 * 5 + 5);
    expect_accepted(&l, "transA");
    l.args[0].size -= 4;
    expect_rejected(&l, "transA A short");
    l = gemm_launch();
    l.params.i[4] = 1; /* transB: B is [N, K], ldb >= K */
    expect_rejected(&l, "transB with ldb < K");
    l.params.i[6] = 7;
    l.args[1] = view(2 * 42 + 5 * 7 + 7);
    expect_accepted(&l, "transB");
    l = gemm_launch();
    l.params.i[12] = 2;
    expect_rejected(&l, "bias_mode 2 without bias");
    l.args[3] = view(6);
    expect_accepted(&l, "bias[N]");
    l.params.i[12] = 1;
    expect_accepted(&l, "bias[M] (6 >= M = 5)");
    l.args[3] = view(4);
    expect_rejected(&l, "bias[M] short");
    l.params.i[12] = 3;
    expect_rejected(&l, "bias_mode 3");
    l = gemm_launch();
    l.params.i[8] = 0;
    expect_rejected(&l, "batch 0");
    l = gemm_launch();
    l.params.i[9] = -1;
    expect_rejected(&l, "a negative stride");
    l = gemm_launch();
    l.params.i[13] = 2;
    expect_rejected(&l, "accum 2");
    l = gemm_launch();
    l.params.i[0] = 0; /* an empty product needs no A or C */
    l.args[0] = view(0);
    l.args[2] = view(0);
    expect_accepted(&l, "M = 0 with A and C absent");
}

static void test_validate_rejects_bad_launches(void **state)
{
    (void)state;
    rt_launch l;
    memset(&l, 0, sizeof l);

    /* kernel id and nargs */
    l.kernel = RT_K_COUNT;
    expect_rejected(&l, "an unknown kernel");
    l.kernel = (rt_kernel)-1;
    expect_rejected(&l, "a negative kernel id");
    l.kernel = RT_K_FILL;
    l.nargs = RT_MAX_ARGS + 1;
    expect_rejected(&l, "too many args");

    /* act_fwd: shapes, enums, sizes, unused slots */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_FWD;
    l.nargs = 2;
    l.params.i[0] = 10;
    l.args[0] = view(10), l.args[1] = view(10);
    expect_accepted(&l, "act_fwd");
    l.params.i[0] = -1;
    expect_rejected(&l, "a negative count");
    l.params.i[0] = 10;
    l.params.i[1] = 6;
    expect_rejected(&l, "act 6");
    l.params.i[1] = -1;
    expect_rejected(&l, "act -1");
    l.params.i[1] = RT_ACT_TANH;
    l.args[1] = view(9);
    expect_rejected(&l, "y one element short");
    l.args[1] = view(10);
    l.args[1].offset = 2;
    expect_rejected(&l, "a misaligned view");
    l.args[1].offset = 0;
    l.args[1].buf = NULL;
    expect_rejected(&l, "a view without a buffer");
    l.args[1] = view(10);
    l.nargs = 3;
    l.args[2] = view(1);
    expect_rejected(&l, "a view in an unused slot");
    l.args[2] = view(0);
    expect_accepted(&l, "an empty view in an unused slot");
    l.nargs = 1;
    expect_rejected(&l, "y missing (nargs too small)");

    /* act_bwd: which of x and y is optional depends on act */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ACT_BWD;
    l.nargs = 4;
    l.params.i[0] = 8, l.params.i[1] = RT_ACT_RELU;
    l.args[1] = view(8), l.args[2] = view(8), l.args[3] = view(8);
    expect_accepted(&l, "relu bwd without x");
    l.params.i[1] = RT_ACT_GELU;
    expect_rejected(&l, "gelu bwd without x");
    l.args[0] = view(8), l.args[1] = view(0);
    expect_accepted(&l, "gelu bwd without y");
    l.params.i[2] = 2;
    expect_rejected(&l, "accum 2");

    /* size overflow */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_IM2COL;
    l.nargs = 2;
    int huge[14] = {1 << 30, 1 << 30, 1, 1, 1 << 20, 1 << 20, 1, 1, 0, 0, 1, 1, 1 << 20, 1 << 20};
    memcpy(l.params.i, huge, sizeof huge);
    l.args[0] = view(1), l.args[1] = view(1);
    expect_rejected(&l, "sizes that overflow");
    assert_non_null(strstr(rt_error_message(), "overflow"));

    /* float parameter ranges */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_DROPOUT_FWD;
    l.nargs = 3;
    l.params.i[0] = 4;
    l.params.f[0] = 0.5f;
    l.args[0] = view(4), l.args[1] = view(4), l.args[2] = view(RT_SC_COUNT);
    expect_accepted(&l, "dropout");
    l.params.f[0] = 1.5f;
    expect_rejected(&l, "dropout p 1.5");
    l.params.f[0] = NAN;
    expect_rejected(&l, "dropout p NaN");
    l.params.f[0] = 0.5f;
    l.args[2] = view(RT_SC_COUNT - 1);
    expect_rejected(&l, "a short scalars buffer");

    /* pooling: padding above half the kernel */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_AVGPOOL_FWD;
    l.nargs = 2;
    int pool[11] = {2, 5, 5, 3, 3, 1, 1, 1, 1, 5, 5};
    memcpy(l.params.i, pool, sizeof pool);
    l.args[0] = view(50), l.args[1] = view(50);
    expect_accepted(&l, "avgpool");
    l.params.i[7] = 2;
    expect_rejected(&l, "padding above half the kernel");
    l.params.i[7] = 1;
    l.params.i[5] = 0;
    expect_rejected(&l, "stride 0");

    /* batch norm: required and optional args, one value per channel */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_BN_TRAIN_FWD;
    l.nargs = 8;
    l.params.i[0] = 2, l.params.i[1] = 3, l.params.i[2] = 4;
    l.params.f[0] = 1e-5f, l.params.f[1] = 0.1f;
    for (int i = 0; i < 8; i++)
        l.args[i] = view(i == 0 || i == 3 ? 24 : 3);
    expect_accepted(&l, "bn_train_fwd");
    l.args[7] = view(0);
    expect_rejected(&l, "running_var missing");
    l.args[7] = view(3);
    l.params.i[0] = 1, l.params.i[2] = 1;
    expect_rejected(&l, "one value per channel");
    l.params.i[0] = 2;
    l.params.f[1] = 2;
    expect_rejected(&l, "momentum 2");

    memset(&l, 0, sizeof l);
    l.kernel = RT_K_BN_BWD;
    l.nargs = 8;
    l.params.i[0] = 2, l.params.i[1] = 3, l.params.i[2] = 4;
    for (int i = 0; i < 5; i++)
        l.args[i] = view(i < 2 ? 24 : 3);
    expect_accepted(&l, "bn_bwd with every output absent");
    l.args[6] = view(2);
    expect_rejected(&l, "dgamma present but short");

    /* copy2d: overlapping destination rows, broadcast source */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_COPY2D;
    l.nargs = 2;
    int c2d[7] = {4, 5, 0, 5, 0, 0, 0};
    memcpy(l.params.i, c2d, sizeof c2d);
    l.args[0] = view(5), l.args[1] = view(20);
    expect_accepted(&l, "copy2d broadcasting one source row");
    l.params.i[3] = 4;
    expect_rejected(&l, "overlapping destination rows");

    /* sgd: momentum buffer required only with momentum */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_SGD;
    l.nargs = 4;
    l.params.i[0] = 3;
    l.args[0] = view(3), l.args[1] = view(3), l.args[3] = view(RT_SC_COUNT);
    expect_accepted(&l, "sgd without momentum");
    l.params.i[1] = 1;
    expect_rejected(&l, "momentum without a buffer");
    l.params.i[1] = 0, l.params.i[2] = 1;
    expect_rejected(&l, "nesterov without momentum");

    /* adamw: beta1 must be < 1 */
    memset(&l, 0, sizeof l);
    l.kernel = RT_K_ADAMW;
    l.nargs = 5;
    l.params.i[0] = 3;
    l.params.f[0] = 0.9f, l.params.f[1] = 0.999f, l.params.f[2] = 1e-8f;
    for (int i = 0; i < 4; i++)
        l.args[i] = view(3);
    l.args[4] = view(RT_SC_COUNT);
    expect_accepted(&l, "adamw");
    l.params.f[0] = 1;
    expect_rejected(&l, "beta1 = 1");
}

static void test_kernel_names(void **state)
{
    (void)state;
    for (int k = 0; k < RT_K_COUNT; k++) {
        const char *name = rt_kernel_name((rt_kernel)k);
        assert_string_not_equal(name, "unknown kernel");
        for (int j = 0; j < k; j++)
            assert_string_not_equal(name, rt_kernel_name((rt_kernel)j));
    }
    assert_string_equal(rt_kernel_name(RT_K_COUNT), "unknown kernel");
    assert_string_equal(rt_kernel_name(RT_K_BN_BWD), "bn_bwd");
}

/* ---- main ---- */

static int group_setup(void **state)
{
    (void)state;
    return cpu_pool_create(2, &g_pool) == VKT_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    cpu_pool_destroy(g_pool);
    return 0;
}

#define T(fn) cmocka_unit_test_teardown(fn, release_all)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_im2col_matches_reference),
        T(test_col2im_is_adjoint_of_im2col),
        T(test_act_fwd_matches_reference),
        T(test_act_propagates_nan),
        T(test_act_bwd_gradcheck),
        T(test_add_copy_fill),
        T(test_copy2d),
        T(test_bias_grad),
        T(test_dropout),
        T(test_maxpool),
        T(test_maxpool_ties_and_nan),
        T(test_avgpool),
        T(test_global_avg_pool),
        T(test_bn_train_fwd),
        T(test_bn_eval_fwd),
        T(test_bn_bwd_gradcheck),
        T(test_ln_fwd),
        T(test_ln_bwd_gradcheck),
        T(test_embedding),
        T(test_softmax_ce),
        T(test_softmax_ce_extreme_logits),
        T(test_softmax_ce_ignores_bad_label),
        T(test_empty_shapes),
        T(test_mse),
        T(test_grad_norm),
        T(test_sgd_three_steps),
        T(test_adamw_three_steps),
        T(test_thread_count_independence),
        T(test_validate_gemm),
        T(test_validate_rejects_bad_launches),
        T(test_kernel_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
