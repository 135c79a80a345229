/* Shared scaffolding of the CPU kernel tests: tracked allocations, host
 * launches that are validated then run on a pool, comparisons with
 * double-precision references, finite differences, the 1-vs-3-thread
 * determinism check, and launch builders used by several test files.
 * See kernel_harness.h. */
#include "kernel_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_error.h"

/* ---- allocations and the shared pool ---- */

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

int kh_release_all(void **state)
{
    (void)state;
    while (g_nallocs > 0)
        free(g_allocs[--g_nallocs]);
    return 0;
}

int kh_group_setup(void **state)
{
    (void)state;
    return cpu_pool_create(2, &g_pool) == VKT_OK ? 0 : -1;
}

int kh_group_teardown(void **state)
{
    (void)state;
    cpu_pool_destroy(g_pool);
    return 0;
}

float *kh_fzeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(float)));
}

double *kh_dzeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(double)));
}

int32_t *kh_izeros(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(int32_t)));
}

float *kh_frand(size_t n, uint64_t seed, float lo, float hi)
{
    float *x = kh_fzeros(n);
    tu_fill_uniform(x, n, seed, lo, hi);
    return x;
}

float *kh_fcopy(const float *x, size_t n)
{
    float *y = kh_fzeros(n);
    memcpy(y, x, n * sizeof *y);
    return y;
}

void kh_fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* ---- launches on host arrays ---- */

kh_launch kh_make_launch(rt_kernel k)
{
    kh_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    return l;
}

/* Binds `elems` 32-bit elements at `ptr` to a slot (NULL: absent). */
void kh_bind(kh_launch *l, int slot, void *ptr, size_t elems)
{
    l->ptr[slot] = ptr;
    l->bytes[slot] = ptr ? elems * 4 : 0;
}

/* Stand-ins for the rt_buffers of host views: one per distinct host
 * pointer, so the validator sees slots bound to one array (in place) as
 * the same view and other slots as apart. */
static char g_fake_buffers[RT_MAX_ARGS];

static rt_launch as_rt_launch(const kh_launch *l)
{
    rt_launch r;
    memset(&r, 0, sizeof r);
    r.kernel = l->kernel;
    r.nargs = RT_MAX_ARGS;
    r.params = l->p;
    for (int i = 0; i < RT_MAX_ARGS; i++) {
        int first = 0; /* the first slot bound to the same array */
        while (l->ptr[first] != l->ptr[i])
            first++;
        r.args[i] = (rt_view){l->bytes[i] ? (rt_buffer *)(void *)&g_fake_buffers[first] : NULL, 0, l->bytes[i]};
    }
    return r;
}

void kh_run_on(cpu_pool *pool, const kh_launch *l)
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

void kh_run(const kh_launch *l)
{
    kh_run_on(g_pool, l);
}

/* ---- comparisons ---- */

/* |got - want| <= tol * max(1, |want|) everywhere. */
void kh_expect_close(const float *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= tol * fmax(1.0, fabs(want[i]))))
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i], want[i]);
    }
}

void kh_expect_close1(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol * fmax(1.0, fabs(want))))
        fail_msg("%s: %.9g, expected %.9g", what, got, want);
}

/* Runs `l` with accum = 0 over an output full of NaN, then with accum = 1
 * over random contents, and checks both against ref. */
void kh_check_both_modes(kh_launch *l, int accum_param, int out_slot, size_t n, const double *ref, double tol)
{
    float *out = l->ptr[out_slot];
    kh_fill_nan(out, n);
    l->p.i[accum_param] = 0;
    kh_run(l);
    kh_expect_close(out, ref, n, tol, "accum = 0");

    float *base = kh_frand(n, 4242, -1, 1);
    double *want = kh_dzeros(n);
    for (size_t i = 0; i < n; i++)
        want[i] = (double)base[i] + ref[i];
    memcpy(out, base, n * sizeof *out);
    l->p.i[accum_param] = 1;
    kh_run(l);
    kh_expect_close(out, want, n, tol, "accum = 1");
    l->p.i[accum_param] = 0;
}

/* ---- finite differences ---- */

#define FD_EPS 1e-3

/* sum_i r_i y_i after running the forward launch. */
static double weighted_output(const kh_launch *fwd, const float *y, const float *r, size_t ny)
{
    kh_run(fwd);
    double s = 0;
    for (size_t i = 0; i < ny; i++)
        s += (double)r[i] * y[i];
    return s;
}

/* Central differences of L = sum r*y with respect to each x[i]. */
void kh_numeric_grad(const kh_launch *fwd, float *x, size_t nx, const float *y, const float *r, size_t ny,
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

void kh_expect_grad(const float *analytic, const double *numeric, size_t n, double atol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double a = analytic[i], m = numeric[i];
        if (!(fabs(a - m) <= 1e-2 * fmax(fabs(a), fabs(m)) + atol))
            fail_msg("%s: d/dx[%zu] analytic %.7g, numeric %.7g", what, i, a, m);
    }
}

/* ---- im2col / col2im geometry ---- */

int kh_conv_out(int in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

void kh_conv_params(rt_params *p, const kh_conv_case *c)
{
    int v[14] = {c->batch, c->C, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, c->DH, c->DW,
                 kh_conv_out(c->H, c->KH, c->SH, c->PH, c->DH), kh_conv_out(c->W, c->KW, c->SW, c->PW, c->DW)};
    for (int i = 0; i < 14; i++)
        p->i[i] = v[i];
}

/* ---- batch norm ---- */

kh_bn_bufs kh_bn_alloc(int N, int C, int HW, uint64_t seed)
{
    kh_bn_bufs b = {N, C, HW, (size_t)N * C * HW, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    b.x = kh_frand(b.n, seed, -2, 3); /* mean away from zero */
    b.gamma = kh_frand((size_t)C, seed + 1, 0.5f, 1.5f);
    b.beta = kh_frand((size_t)C, seed + 2, -0.5f, 0.5f);
    b.y = kh_fzeros(b.n);
    b.mean = kh_fzeros((size_t)C);
    b.invstd = kh_fzeros((size_t)C);
    b.rmean = kh_frand((size_t)C, seed + 3, -0.1f, 0.1f);
    b.rvar = kh_frand((size_t)C, seed + 4, 0.9f, 1.1f);
    return b;
}

kh_launch kh_bn_train_launch(kh_bn_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_BN_TRAIN_FWD);
    l.p.i[0] = b->N, l.p.i[1] = b->C, l.p.i[2] = b->HW;
    l.p.f[0] = 1e-5f, l.p.f[1] = 0.1f;
    void *args[8] = {b->x, b->gamma, b->beta, b->y, b->mean, b->invstd, b->rmean, b->rvar};
    size_t sizes[8] = {b->n, (size_t)b->C, (size_t)b->C, b->n, (size_t)b->C, (size_t)b->C, (size_t)b->C,
                       (size_t)b->C};
    for (int i = 0; i < 8; i++)
        kh_bind(&l, i, args[i], sizes[i]);
    return l;
}

kh_launch kh_bn_bwd_launch(kh_bn_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta)
{
    kh_launch l = kh_make_launch(RT_K_BN_BWD);
    l.p.i[0] = b->N, l.p.i[1] = b->C, l.p.i[2] = b->HW;
    kh_bind(&l, 0, b->x, b->n);
    kh_bind(&l, 1, dy, b->n);
    kh_bind(&l, 2, b->gamma, (size_t)b->C);
    kh_bind(&l, 3, b->mean, (size_t)b->C);
    kh_bind(&l, 4, b->invstd, (size_t)b->C);
    kh_bind(&l, 5, dx, b->n);
    kh_bind(&l, 6, dgamma, (size_t)b->C);
    kh_bind(&l, 7, dbeta, (size_t)b->C);
    return l;
}

/* ---- layer norm ---- */

kh_ln_bufs kh_ln_alloc(int rows, int D, uint64_t seed)
{
    kh_ln_bufs b = {rows, D, (size_t)rows * D, NULL, NULL, NULL, NULL, NULL, NULL};
    b.x = kh_frand(b.n, seed, -1, 2);
    b.gamma = kh_frand((size_t)D, seed + 1, 0.5f, 1.5f);
    b.beta = kh_frand((size_t)D, seed + 2, -0.5f, 0.5f);
    b.y = kh_fzeros(b.n);
    b.mean = kh_fzeros((size_t)rows);
    b.rstd = kh_fzeros((size_t)rows);
    return b;
}

kh_launch kh_ln_fwd_launch(kh_ln_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_LN_FWD);
    l.p.i[0] = b->rows, l.p.i[1] = b->D;
    l.p.f[0] = 1e-5f;
    kh_bind(&l, 0, b->x, b->n);
    kh_bind(&l, 1, b->gamma, (size_t)b->D);
    kh_bind(&l, 2, b->beta, (size_t)b->D);
    kh_bind(&l, 3, b->y, b->n);
    kh_bind(&l, 4, b->mean, (size_t)b->rows);
    kh_bind(&l, 5, b->rstd, (size_t)b->rows);
    return l;
}

kh_launch kh_ln_bwd_launch(kh_ln_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta)
{
    kh_launch l = kh_make_launch(RT_K_LN_BWD);
    l.p.i[0] = b->rows, l.p.i[1] = b->D;
    kh_bind(&l, 0, b->x, b->n);
    kh_bind(&l, 1, dy, b->n);
    kh_bind(&l, 2, b->gamma, (size_t)b->D);
    kh_bind(&l, 3, b->mean, (size_t)b->rows);
    kh_bind(&l, 4, b->rstd, (size_t)b->rows);
    kh_bind(&l, 5, dx, b->n);
    kh_bind(&l, 6, dgamma, (size_t)b->D);
    kh_bind(&l, 7, dbeta, (size_t)b->D);
    return l;
}

/* ---- determinism: 1 and 3 threads give the same bits ---- */

void kh_expect_thread_independent(const kh_launch *l, cpu_pool *one, cpu_pool *three, const char *what)
{
    void *start[RT_MAX_ARGS] = {0}, *first[RT_MAX_ARGS] = {0};
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i]) {
            start[i] = track(malloc(l->bytes[i]));
            memcpy(start[i], l->ptr[i], l->bytes[i]);
        }
    kh_run_on(one, l);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i]) {
            first[i] = track(malloc(l->bytes[i]));
            memcpy(first[i], l->ptr[i], l->bytes[i]);
            memcpy(l->ptr[i], start[i], l->bytes[i]);
        }
    kh_run_on(three, l);
    for (int i = 0; i < RT_MAX_ARGS; i++)
        if (l->bytes[i] && memcmp(first[i], l->ptr[i], l->bytes[i]) != 0)
            fail_msg("%s: arg %d differs between 1 and 3 threads", what, i);
}
