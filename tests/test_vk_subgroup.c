/* Subgroup reductions (shaders/reduce.glsl) against the portable ones and
 * the CPU backend, with the validation layer on.
 *
 * Two Vulkan backends on the same device: one as created (subgroup
 * variants where the device has the operations: lavapipe has, with 8
 * lanes, or 4 / 16 with LP_NATIVE_VECTOR_WIDTH=128 / 512, which
 * tests/meson.build also runs) and one with VKT_VULKAN_DISABLE=subgroup.
 * Every reduction kernel runs over shapes with odd sizes, sizes below one
 * subgroup, sizes that are not multiples of the workgroup, long rows and
 * inputs holding +-inf and NaN, under several workgroup sizes (multiples
 * of the subgroup size and not, smaller than one subgroup). Checked:
 *  - the subgroup path run twice gives the same bits;
 *  - integer results (argmax counts) are the same on both paths and the
 *    CPU; NaN and inf land in the same places on both paths;
 *  - plain sums agree between the paths to SUM_ULPS, and every output
 *    with the CPU to the tolerance of the other reduction parity tests. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/context.h>
#include <vktrain/status.h>

#include "test_util.h"
#include "vk_harness.h"

/* As tests/test_vk_norm_loss_optim.c. */
#define RED_RTOL 1e-4
#define RED_ATOL 1e-5
/* Plain sums: both paths are compensated, so nearly correctly rounded. */
#define SUM_ULPS 2
/* lavapipe stops looping after 65535 iterations of an invocation's loops
 * (nested ones counted together): cases that would loop longer at a
 * small workgroup size are skipped. */
#define MAX_THREAD_ITEMS 60000u
#define DEFAULT_LOCAL 128u

typedef enum {
    A_IN,      /* input (floats or ints), not compared */
    A_OUT,     /* float output */
    A_SUM,     /* float output that is a plain sum (or mean) */
    A_SCALARS, /* scalars buffer: uint words exact, float words as A_OUT */
} arg_kind;

typedef struct sg_arg {
    size_t count; /* 32-bit elements; 0: absent */
    arg_kind kind;
    const void *init; /* NULL: zeros */
} sg_arg;

typedef struct sg_case {
    rt_kernel k;
    rt_params p;
    int nargs;
    sg_arg args[RT_MAX_ARGS];
    size_t items;       /* most element visits of one workgroup (its invocations share them) */
    uint32_t sum_slots; /* scalars words that are plain sums (bit mask of RT_SC_*) */
    char label[112];
} sg_case;

static const rt_kernel reduction_kernels[] = {
    RT_K_BIAS_GRAD, RT_K_GAP_FWD,        RT_K_BN_TRAIN_FWD, RT_K_BN_BWD,    RT_K_LN_FWD,
    RT_K_LN_BWD,    RT_K_SOFTMAX_CE_FWD, RT_K_MSE_FWD,      RT_K_GRAD_NORM,
};
#define N_KERNELS (sizeof reduction_kernels / sizeof reduction_kernels[0])

/* 0: the kernel table's (128). The others leave a partial subgroup on
 * lavapipe (100, 37), fill exactly one (8, at 8 lanes), or fall below
 * one subgroup (5, 1). */
static const uint32_t local_sizes[] = {0, 256, 100, 37, 8, 5, 1};
#define N_LOCAL (sizeof local_sizes / sizeof local_sizes[0])

static rt_backend *sg_be, *plain_be;
static uint32_t cur_local;
static uint64_t worst_ulps;  /* between the paths' sums, in the current test */
static size_t sums_compared, sums_differing;

/* ---- allocations freed after each case ---- */

static void *allocs[64];
static int n_allocs;

static void *track(void *p)
{
    assert_non_null(p);
    assert_true(n_allocs < 64);
    allocs[n_allocs++] = p;
    return p;
}

static void release_all(void)
{
    while (n_allocs)
        free(allocs[--n_allocs]);
}

static float *frand(size_t n, unsigned seed, float lo, float hi)
{
    return track(vkh_rand(n, seed, lo, hi));
}

/* Row r (of `rows` rows of len values, r < rows) gets, by r % 6: nothing,
 * +inf, -inf, NaN inside, NaN first, +inf and -inf (a NaN sum). */
static void poison(float *x, size_t rows, size_t len)
{
    for (size_t r = 0; r < rows && len; r++) {
        float *row = x + r * len;
        switch (r % 6) {
        case 1: row[len / 3] = INFINITY; break;
        case 2: row[len - 1] = -INFINITY; break;
        case 3: row[len / 2] = NAN; break;
        case 4: row[0] = NAN; break;
        case 5:
            row[0] = INFINITY;
            row[len - 1] = -INFINITY;
            break;
        default: break;
        }
    }
}

/* ---- backends ---- */

static void fail_on_validation(rt_backend *be, const char *label)
{
    const char *first = NULL;
    if (rt_vulkan_validation_messages(be, &first) != 0)
        fail_msg("%s: Vulkan validation layer: %s", label, first);
}

/* A subgroup and a portable backend whose reduction kernels use workgroup
 * size `local` (0: the table's). */
static void backends_create(uint32_t local)
{
    unsetenv("VKT_VULKAN_DISABLE");
    assert_int_equal(rt_vulkan_backend_create(-1, true, &sg_be), VKT_OK);
    setenv("VKT_VULKAN_DISABLE", "subgroup", 1);
    assert_int_equal(rt_vulkan_backend_create(-1, true, &plain_be), VKT_OK);
    unsetenv("VKT_VULKAN_DISABLE");
    for (size_t k = 0; k < N_KERNELS; k++) {
        assert_int_equal(rt_vulkan_set_local_size(sg_be, reduction_kernels[k], local), VKT_OK);
        assert_int_equal(rt_vulkan_set_local_size(plain_be, reduction_kernels[k], local), VKT_OK);
    }
    cur_local = local ? local : DEFAULT_LOCAL;
}

static void backends_destroy(void)
{
    rt_backend_destroy(sg_be);
    rt_backend_destroy(plain_be);
    sg_be = plain_be = NULL;
}

/* Runs the case on `be`; returns every argument's final contents
 * (malloc'd, tracked). */
static uint32_t **run(rt_backend *be, const sg_case *c)
{
    rt_buffer *bufs[RT_MAX_ARGS] = {0};
    rt_launch l = {.kernel = c->k, .nargs = c->nargs, .params = c->p};
    uint32_t **out = track(calloc(RT_MAX_ARGS, sizeof *out));
    for (int a = 0; a < c->nargs; a++) {
        size_t bytes = c->args[a].count * 4;
        if (!bytes)
            continue;
        assert_int_equal(rt_buffer_create(be, bytes, &bufs[a]), VKT_OK);
        void *init = c->args[a].init ? NULL : calloc(c->args[a].count, 4);
        assert_int_equal(rt_upload(be, bufs[a], 0, c->args[a].init ? c->args[a].init : init, bytes), VKT_OK);
        free(init);
        l.args[a] = (rt_view){bufs[a], 0, bytes};
    }
    rt_program *prog = NULL;
    if (rt_program_create(be, &l, 1, &prog) != VKT_OK || rt_program_run(be, prog) != VKT_OK)
        fail_msg("%s on %s: %s", c->label, be->ops->name, vkt_last_error());
    for (int a = 0; a < c->nargs; a++) {
        if (!bufs[a])
            continue;
        out[a] = track(malloc(c->args[a].count * 4));
        assert_int_equal(rt_download(be, bufs[a], 0, out[a], c->args[a].count * 4), VKT_OK);
        rt_buffer_destroy(be, bufs[a]);
    }
    rt_program_destroy(be, prog);
    return out;
}

/* ---- comparisons ---- */

static float as_float(uint32_t w)
{
    float f;
    memcpy(&f, &w, 4);
    return f;
}

static bool close_to(float got, float want)
{
    if (got == want || (isnan(got) && isnan(want)))
        return true;
    return fabs((double)got - want) <= RED_ATOL + RED_RTOL * fabs((double)want);
}

/* NaN, +inf, -inf or finite. */
static int fp_class(float f)
{
    return isnan(f) ? 0 : isinf(f) ? (f > 0 ? 1 : 2) : 3;
}

/* Floats between a and b (finite, same class). */
static uint64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    int64_t ka = ia < 0 ? (int64_t)INT32_MIN - ia : ia, kb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return (uint64_t)(ka > kb ? ka - kb : kb - ka);
}

static bool uint_slot(size_t i)
{
    return i == RT_SC_STEP || i == RT_SC_SEED || i == RT_SC_CORRECT || i == RT_SC_SAMPLES;
}

static void compare_word(const sg_case *c, int a, size_t i, uint32_t cpu, uint32_t sg, uint32_t plain)
{
    const sg_arg *arg = &c->args[a];
    if (arg->kind == A_SCALARS && uint_slot(i)) {
        if (cpu != sg || sg != plain)
            fail_msg("%s: scalars word %zu: cpu %u subgroup %u portable %u", c->label, i, cpu, sg, plain);
        return;
    }
    float fc = as_float(cpu), fs = as_float(sg), fp = as_float(plain);
    if (!close_to(fs, fc) || !close_to(fp, fc) || fp_class(fs) != fp_class(fp))
        fail_msg("%s: arg %d [%zu]: cpu %.9g subgroup %.9g portable %.9g", c->label, a, i, fc, fs, fp);
    bool sum = arg->kind == A_SUM || (arg->kind == A_SCALARS && i < 32 && ((c->sum_slots >> i) & 1u));
    if (!sum || fp_class(fs) != 3)
        return;
    uint64_t d = ulps(fs, fp);
    worst_ulps = d > worst_ulps ? d : worst_ulps;
    sums_compared++;
    sums_differing += d != 0;
    if (d > SUM_ULPS)
        fail_msg("%s: arg %d [%zu]: subgroup %.9g and portable %.9g sums are %llu ulp apart", c->label, a, i, fs, fp,
                 (unsigned long long)d);
}

/* Runs the case on the CPU, twice on the subgroup backend and on the
 * portable one, and compares. */
static void check_case(sg_case *c)
{
    if (c->items / cur_local > MAX_THREAD_ITEMS) {
        release_all();
        return;
    }
    char local[24];
    snprintf(local, sizeof local, " local=%u", cur_local);
    strncat(c->label, local, sizeof c->label - strlen(c->label) - 1);
    uint32_t **cpu = run(vkh_cpu(), c), **sg1 = run(sg_be, c), **sg2 = run(sg_be, c), **pl = run(plain_be, c);
    for (int a = 0; a < c->nargs; a++) {
        if (!c->args[a].count || c->args[a].kind == A_IN)
            continue;
        if (memcmp(sg1[a], sg2[a], c->args[a].count * 4) != 0)
            fail_msg("%s: arg %d differs between two runs of the subgroup path", c->label, a);
        for (size_t i = 0; i < c->args[a].count; i++)
            compare_word(c, a, i, cpu[a][i], sg1[a][i], pl[a][i]);
    }
    fail_on_validation(sg_be, c->label);
    fail_on_validation(plain_be, c->label);
    release_all();
}

/* ---- cases, per kernel ---- */

static void bias_grad_cases(bool nonfinite)
{
    static const int shapes[][3] = {
        {1, 1, 1},   {3, 2, 5},   {64, 37, 1}, {1000, 3, 1}, {7, 5, 129},   {2, 4, 300},
        {33, 1, 127}, {5, 6, 3}, {4, 3, 0},   {0, 3, 4},    {1, 2, 100003},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int accum = 0; accum < 2; accum++) {
            int outer = shapes[s][0], C = shapes[s][1], inner = shapes[s][2];
            size_t n = (size_t)outer * C * inner;
            float *dy = frand(n, 100 + (unsigned)s, -1, 1);
            for (size_t i = 0; i < n; i += 3)
                dy[i] *= 1000.0f; /* mixed magnitudes: rounding matters */
            if (nonfinite)
                poison(dy, (size_t)outer * C, (size_t)inner);
            sg_case c = {.k = RT_K_BIAS_GRAD, .p = {{outer, C, inner, accum}}, .nargs = 2,
                         .args = {{n, A_IN, dy}, {(size_t)C, A_SUM, frand((size_t)C, 7, -5, 5)}},
                         .items = (size_t)outer * inner};
            snprintf(c.label, sizeof c.label, "bias_grad %dx%dx%d accum=%d%s", outer, C, inner, accum,
                     nonfinite ? " non-finite" : "");
            check_case(&c);
        }
}

static void gap_fwd_cases(bool nonfinite)
{
    static const int shapes[][2] = {{1, 1}, {3, 7}, {2, 8}, {7, 37}, {5, 129}, {4, 1000}, {6, 3136}, {2, 100003}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int planes = shapes[s][0], hw = shapes[s][1];
        size_t n = (size_t)planes * hw;
        float *x = frand(n, 200 + (unsigned)s, -1, 1);
        if (nonfinite)
            poison(x, (size_t)planes, (size_t)hw);
        sg_case c = {.k = RT_K_GAP_FWD, .p = {{planes, hw}}, .nargs = 2,
                     .args = {{n, A_IN, x}, {(size_t)planes, A_SUM, NULL}}, .items = (size_t)hw};
        snprintf(c.label, sizeof c.label, "gap_fwd %dx%d%s", planes, hw, nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

static const int bn_shapes[][3] = {{2, 1, 1}, {3, 2, 1}, {5, 3, 1}, {7, 3, 37}, {300, 4, 1}, {4, 2, 1031}, {2, 2, 50001}};
#define N_BN_SHAPES (sizeof bn_shapes / sizeof bn_shapes[0])

static sg_case bn_train_case(size_t s, bool nonfinite)
{
    int N = bn_shapes[s][0], C = bn_shapes[s][1], HW = bn_shapes[s][2];
    size_t n = (size_t)N * C * HW, ch = (size_t)C;
    float *x = frand(n, 300 + (unsigned)s, s % 2 ? 9.0f : -1.0f, s % 2 ? 11.0f : 1.0f);
    if (nonfinite)
        poison(x, (size_t)N * C, (size_t)HW);
    sg_case c = {.k = RT_K_BN_TRAIN_FWD, .p = {{N, C, HW}, {1e-5f, 0.1f}}, .nargs = 8,
                 .args = {{n, A_IN, x},
                          {ch, A_IN, frand(ch, 301, 0.5f, 1.5f)},
                          {ch, A_IN, frand(ch, 302, -0.5f, 0.5f)},
                          {n, A_OUT, NULL},
                          {ch, A_SUM, NULL}, /* the mean */
                          {ch, A_OUT, NULL},
                          {ch, A_OUT, frand(ch, 303, -0.2f, 0.2f)},
                          {ch, A_OUT, frand(ch, 304, 0.5f, 1.5f)}},
                 .items = 3 * (size_t)N * HW}; /* mean, variance, output */
    snprintf(c.label, sizeof c.label, "bn_train_fwd %dx%dx%d%s", N, C, HW, nonfinite ? " non-finite" : "");
    return c;
}

static void bn_cases(bool nonfinite)
{
    for (size_t s = 0; s < N_BN_SHAPES; s++) {
        sg_case fwd = bn_train_case(s, nonfinite);
        check_case(&fwd);
    }
    for (size_t s = 0; s < N_BN_SHAPES; s++) {
        /* backward from the CPU's saved statistics */
        sg_case fwd = bn_train_case(s, nonfinite);
        uint32_t **st = run(vkh_cpu(), &fwd);
        size_t n = fwd.args[0].count, ch = fwd.args[1].count;
        int acc = (int)(s % 4);
        float *dy = frand(n, 310 + (unsigned)s, -1, 1);
        sg_case c = {.k = RT_K_BN_BWD, .p = {{fwd.p.i[0], fwd.p.i[1], fwd.p.i[2], acc & 1, acc >> 1}}, .nargs = 8,
                     .args = {fwd.args[0],
                              {n, A_IN, dy},
                              fwd.args[1],
                              {ch, A_IN, st[4]},
                              {ch, A_IN, st[5]},
                              {n, A_OUT, frand(n, 311, -1, 1)},
                              {ch, A_OUT, frand(ch, 312, -1, 1)},
                              {ch, A_OUT, frand(ch, 313, -1, 1)}},
                     .items = fwd.items / 3 * 2}; /* sums, dx */
        snprintf(c.label, sizeof c.label, "bn_bwd %dx%dx%d accum=%d,%d%s", fwd.p.i[0], fwd.p.i[1], fwd.p.i[2],
                 acc & 1, acc >> 1, nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

static const int ln_shapes[][2] = {{1, 1}, {3, 2}, {5, 7}, {4, 37}, {2, 129}, {3, 1000}, {2, 100003}};
#define N_LN_SHAPES (sizeof ln_shapes / sizeof ln_shapes[0])

static sg_case ln_fwd_case(size_t s, bool nonfinite)
{
    int rows = ln_shapes[s][0], D = ln_shapes[s][1];
    size_t n = (size_t)rows * D, d = (size_t)D, r = (size_t)rows;
    float *x = frand(n, 400 + (unsigned)s, s % 2 ? 5.0f : -2.0f, s % 2 ? 7.0f : 2.0f);
    if (nonfinite)
        poison(x, r, d);
    sg_case c = {.k = RT_K_LN_FWD, .p = {{rows, D}, {1e-5f}}, .nargs = 6,
                 .args = {{n, A_IN, x},
                          {d, A_IN, frand(d, 401, 0.5f, 1.5f)},
                          {d, A_IN, frand(d, 402, -0.5f, 0.5f)},
                          {n, A_OUT, NULL},
                          {r, A_SUM, NULL}, /* the mean */
                          {r, A_OUT, NULL}},
                 .items = 3 * d}; /* mean, variance, output */
    snprintf(c.label, sizeof c.label, "ln_fwd %dx%d%s", rows, D, nonfinite ? " non-finite" : "");
    return c;
}

static void ln_cases(bool nonfinite)
{
    for (size_t s = 0; s < N_LN_SHAPES; s++) {
        sg_case fwd = ln_fwd_case(s, nonfinite);
        check_case(&fwd);
    }
    for (size_t s = 0; s < N_LN_SHAPES; s++) {
        sg_case fwd = ln_fwd_case(s, nonfinite);
        uint32_t **st = run(vkh_cpu(), &fwd);
        size_t n = fwd.args[0].count, d = fwd.args[1].count, r = fwd.args[4].count;
        int acc = (int)(s % 4);
        sg_case c = {.k = RT_K_LN_BWD, .p = {{fwd.p.i[0], fwd.p.i[1], acc & 1, acc >> 1}}, .nargs = 8,
                     .args = {fwd.args[0],
                              {n, A_IN, frand(n, 410 + (unsigned)s, -1, 1)},
                              fwd.args[1],
                              {r, A_IN, st[4]},
                              {r, A_IN, st[5]},
                              {n, A_OUT, frand(n, 411, -1, 1)},
                              {d, A_OUT, frand(d, 412, -1, 1)},
                              {d, A_OUT, frand(d, 413, -1, 1)}},
                     .items = fwd.items / 3 * 2}; /* sums, dx */
        snprintf(c.label, sizeof c.label, "ln_bwd %dx%d accum=%d,%d%s", fwd.p.i[0], fwd.p.i[1], acc & 1, acc >> 1,
                 nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

static uint32_t *scalars(void)
{
    uint32_t *sc = track(calloc(RT_SC_COUNT, 4));
    float loss_sum = 2.75f;
    memcpy(&sc[RT_SC_LOSS_SUM], &loss_sum, 4);
    sc[RT_SC_CORRECT] = 7;
    sc[RT_SC_SAMPLES] = 11;
    return sc;
}

/* Labels: every third row its argmax (first index on ties), so CORRECT
 * depends on the max and the first-index min; the rest random, and one
 * row ignored (label -1). Tied maxima in row 0. */
static int *ce_labels(float *x, int N, int C, unsigned seed)
{
    int *lab = track(vkh_rand_int((size_t)N, seed, C));
    if (C >= 8)
        x[1] = x[6] = 4.0f;
    for (int r = 0; r < N; r++)
        if (r % 3 == 0) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (x[(size_t)r * C + c] > x[(size_t)r * C + best])
                    best = c;
            lab[r] = best;
        }
    if (N >= 3)
        lab[N - 1] = -1;
    return lab;
}

static void softmax_ce_cases(bool nonfinite)
{
    static const int shapes[][2] = {{1, 1}, {3, 2}, {5, 7}, {37, 10}, {4, 129}, {7, 1000}, {2, 100003}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], C = shapes[s][1];
        size_t n = (size_t)N * C;
        float *x = frand(n, 500 + (unsigned)s, -3, 3);
        int *lab = ce_labels(x, N, C, 501 + (unsigned)s);
        if (nonfinite)
            poison(x, (size_t)N, (size_t)C);
        sg_case c = {.k = RT_K_SOFTMAX_CE_FWD, .p = {{N, C}, {s % 2 ? 0.1f : 0.0f}}, .nargs = 4,
                     .args = {{n, A_IN, x}, {(size_t)N, A_IN, lab}, {n, A_OUT, NULL}, {RT_SC_COUNT, A_SCALARS, scalars()}},
                     .items = 3 * n}; /* max, exp and sums, scaling */
        snprintf(c.label, sizeof c.label, "softmax_ce_fwd %dx%d%s", N, C, nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

static void mse_cases(bool nonfinite)
{
    static const int shapes[][2] = {{1, 1}, {1, 3}, {7, 13}, {64, 1}, {5, 129}, {3, 100003}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], D = shapes[s][1];
        size_t n = (size_t)N * D;
        float *pred = frand(n, 600 + (unsigned)s, -2, 2);
        if (nonfinite) /* one sum: one inf or NaN decides it */
            pred[n / 2] = s % 2 ? INFINITY : NAN;
        sg_case c = {.k = RT_K_MSE_FWD, .p = {{N, D}}, .nargs = 3,
                     .args = {{n, A_IN, pred}, {n, A_IN, frand(n, 601, -2, 2)}, {RT_SC_COUNT, A_SCALARS, scalars()}},
                     .items = n, .sum_slots = 1u << RT_SC_LOSS};
        snprintf(c.label, sizeof c.label, "mse_fwd %dx%d%s", N, D, nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

static void grad_norm_cases(bool nonfinite)
{
    static const int counts[] = {0, 1, 5, 8, 129, 1000, 128 * 100 + 77, 1000003};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        int n = counts[s];
        float *g = frand((size_t)n, 700 + (unsigned)s, -1, 1);
        if (nonfinite && n > 0)
            g[n / 2] = s % 2 ? INFINITY : NAN;
        sg_case c = {.k = RT_K_GRAD_NORM, .p = {{n}, {1.0f}}, .nargs = 2,
                     .args = {{(size_t)n, A_IN, g}, {RT_SC_COUNT, A_SCALARS, scalars()}},
                     .items = (size_t)n, .sum_slots = 1u << RT_SC_GRAD_NORM};
        snprintf(c.label, sizeof c.label, "grad_norm %d%s", n, nonfinite ? " non-finite" : "");
        check_case(&c);
    }
}

/* ---- tests ---- */

/* On by default where the device has the operations (lavapipe has);
 * VKT_VULKAN_DISABLE=subgroup turns it off, and vktrain devices says. */
static void test_detection(void **state)
{
    (void)state;
    vkt_device_info info[4];
    int count = 0;
    unsetenv("VKT_VULKAN_DISABLE");
    assert_int_equal(vkt_list_devices(info, 4, &count), VKT_OK);
    rt_backend *be;
    assert_int_equal(rt_vulkan_backend_create(-1, true, &be), VKT_OK);
    print_message("  %s: %u-lane subgroups, reductions %s\n", rt_vulkan_device_name(be), info[0].subgroup_size,
                  rt_vulkan_uses_subgroups(be) ? "use subgroups" : "portable");
    if (strstr(rt_vulkan_device_name(be), "llvmpipe"))
        assert_true(rt_vulkan_uses_subgroups(be));
    if (count == 1)
        assert_int_equal(rt_vulkan_uses_subgroups(be), info[0].subgroup_reductions);
    assert_int_equal(rt_vulkan_set_local_size(be, RT_K_COUNT, 64), VKT_ERR_INVALID_ARG);
    rt_backend_destroy(be);

    setenv("VKT_VULKAN_DISABLE", "storage16,subgroup", 1);
    assert_int_equal(rt_vulkan_backend_create(-1, true, &be), VKT_OK);
    assert_false(rt_vulkan_uses_subgroups(be));
    assert_false(rt_vulkan_uses_storage16(be));
    rt_backend_destroy(be);
    assert_int_equal(vkt_list_devices(info, 4, &count), VKT_OK);
    assert_false(info[0].subgroup_reductions);
    assert_non_null(strstr(info[0].disabled_features, "subgroup"));
    unsetenv("VKT_VULKAN_DISABLE");
}

/* Runs every kernel's cases under every workgroup size. */
static void for_each_local(void (*cases)(bool nonfinite))
{
    worst_ulps = 0;
    sums_compared = sums_differing = 0;
    for (size_t l = 0; l < N_LOCAL; l++) {
        backends_create(local_sizes[l]);
        cases(false);
        cases(true);
        backends_destroy();
    }
    if (sums_compared)
        print_message("  sums: %zu of %zu differ between the paths, by at most %llu ulp\n", sums_differing,
                      sums_compared, (unsigned long long)worst_ulps);
}

static void test_bias_grad(void **state)
{
    (void)state;
    for_each_local(bias_grad_cases);
}

static void test_gap_fwd(void **state)
{
    (void)state;
    for_each_local(gap_fwd_cases);
}

static void test_batch_norm(void **state)
{
    (void)state;
    for_each_local(bn_cases);
}

static void test_layer_norm(void **state)
{
    (void)state;
    for_each_local(ln_cases);
}

static void test_softmax_ce_fwd(void **state)
{
    (void)state;
    for_each_local(softmax_ce_cases);
}

static void test_mse_fwd(void **state)
{
    (void)state;
    for_each_local(mse_cases);
}

static void test_grad_norm(void **state)
{
    (void)state;
    for_each_local(grad_norm_cases);
}

/* A failed check leaves its case's allocations and backends behind. */
static int cleanup(void **state)
{
    (void)state;
    release_all();
    if (sg_be || plain_be)
        backends_destroy();
    unsetenv("VKT_VULKAN_DISABLE");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_detection, cleanup),
        cmocka_unit_test_teardown(test_bias_grad, cleanup),
        cmocka_unit_test_teardown(test_gap_fwd, cleanup),
        cmocka_unit_test_teardown(test_batch_norm, cleanup),
        cmocka_unit_test_teardown(test_layer_norm, cleanup),
        cmocka_unit_test_teardown(test_softmax_ce_fwd, cleanup),
        cmocka_unit_test_teardown(test_mse_fwd, cleanup),
        cmocka_unit_test_teardown(test_grad_norm, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
