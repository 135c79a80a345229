/* CPU-vs-Vulkan parity of the normalisation, loss and optimizer kernels:
 * BN_TRAIN_FWD, BN_EVAL_FWD, BN_BWD, LN_FWD, LN_BWD, SOFTMAX_CE_FWD/BWD,
 * MSE_FWD/BWD, GRAD_NORM, SGD and ADAMW, with the validation layer on.
 *
 * The CPU sums in double, the shaders in float (compensated per-thread
 * partial sums joined by a fixed-order tree), so reductions are compared
 * to a relative tolerance; elementwise kernels nearly bit-exactly. The
 * uint words of the scalars buffer (CORRECT, SAMPLES, STEP) are checked
 * exactly on top of vkh_compare, which reads every word as a float. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/status.h>

#include "test_util.h"
#include "vk_harness.h"

/* Reductions (statistics, norms, losses, parameter gradients). */
#define RED_RTOL 1e-4
#define RED_ATOL 1e-5
/* Elementwise updates. */
#define EW_RTOL 1e-5
#define EW_ATOL 1e-6

static double worst_seen; /* largest error / tolerance of the current test */

static void check(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, double rtol, double atol,
                  const char *label)
{
    double worst = vkh_compare(k, p, nargs, args, rtol, atol, label);
    if (!(worst <= 1))
        fail_msg("%s: CPU and Vulkan differ (worst error / tolerance %g)", label, worst);
    if (worst > worst_seen)
        worst_seen = worst;
}

static void begin_test(void)
{
    worst_seen = 0;
}

static void end_test(const char *name)
{
    print_message("  %s: worst error / tolerance %.3g\n", name, worst_seen);
    vkh_assert_no_validation_messages();
}

/* Runs one launch on `be`; out[a] (when not NULL) receives argument a's
 * final contents. */
static void run_backend(rt_backend *be, rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args,
                        void *const *out)
{
    rt_buffer *bufs[RT_MAX_ARGS] = {0};
    rt_launch l = {.kernel = k, .nargs = nargs, .params = *p};
    for (int a = 0; a < nargs; a++) {
        if (!args[a].count)
            continue;
        size_t bytes = args[a].count * 4;
        if (rt_buffer_create(be, bytes, &bufs[a]) != VKT_OK)
            fail_msg("buffer: %s", vkt_last_error());
        if (args[a].init)
            rt_upload(be, bufs[a], 0, args[a].init, bytes);
        else {
            void *zero = calloc(args[a].count, 4);
            rt_upload(be, bufs[a], 0, zero, bytes);
            free(zero);
        }
        l.args[a] = (rt_view){bufs[a], 0, bytes};
    }
    rt_program *prog = NULL;
    if (rt_program_create(be, &l, 1, &prog) != VKT_OK)
        fail_msg("%s: program: %s", be->ops->name, vkt_last_error());
    if (rt_program_run(be, prog) != VKT_OK)
        fail_msg("%s: run: %s", be->ops->name, vkt_last_error());
    for (int a = 0; a < nargs; a++)
        if (args[a].count && out[a])
            rt_download(be, bufs[a], 0, out[a], args[a].count * 4);
    rt_program_destroy(be, prog);
    for (int a = 0; a < nargs; a++)
        rt_buffer_destroy(be, bufs[a]);
}

/* Scalars buffer with the host-written words set and the accumulated
 * ones holding earlier totals, so "+=" is distinguishable from "=". */
static void scalars_init(uint32_t sc[RT_SC_COUNT], float lr, uint32_t step, float bc1, float bc2, float clip)
{
    memset(sc, 0, RT_SC_COUNT * sizeof *sc);
    float f[5] = {lr, bc1, bc2, clip, 2.75f};
    memcpy(&sc[RT_SC_LR], &f[0], 4);
    sc[RT_SC_STEP] = step;
    sc[RT_SC_SEED] = 12345;
    memcpy(&sc[RT_SC_BIAS_CORR1], &f[1], 4);
    memcpy(&sc[RT_SC_BIAS_CORR2], &f[2], 4);
    memcpy(&sc[RT_SC_CLIP_SCALE], &f[3], 4);
    memcpy(&sc[RT_SC_LOSS_SUM], &f[4], 4);
    sc[RT_SC_CORRECT] = 7;
    sc[RT_SC_SAMPLES] = 11;
}

static float sc_f(const uint32_t *sc, int slot)
{
    float f;
    memcpy(&f, &sc[slot], 4);
    return f;
}

/* Runs the launch on both backends and compares the scalars buffer
 * (argument sc_arg): uint words exactly, float words to rtol/atol.
 * Returns the Vulkan scalars in vk_sc. */
static void check_scalars(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, int sc_arg, double rtol,
                          double atol, const char *label, uint32_t vk_sc[RT_SC_COUNT])
{
    uint32_t cpu_sc[RT_SC_COUNT];
    void *out[RT_MAX_ARGS] = {0};
    out[sc_arg] = cpu_sc;
    run_backend(vkh_cpu(), k, p, nargs, args, out);
    out[sc_arg] = vk_sc;
    run_backend(vkh_vulkan(), k, p, nargs, args, out);
    static const int uint_slots[] = {RT_SC_STEP, RT_SC_SEED, RT_SC_CORRECT, RT_SC_SAMPLES};
    for (size_t i = 0; i < sizeof uint_slots / sizeof uint_slots[0]; i++) {
        int s = uint_slots[i];
        if (cpu_sc[s] != vk_sc[s])
            fail_msg("%s: scalars word %d: cpu %u vulkan %u", label, s, cpu_sc[s], vk_sc[s]);
    }
    static const int float_slots[] = {RT_SC_LR, RT_SC_BIAS_CORR1, RT_SC_BIAS_CORR2, RT_SC_CLIP_SCALE,
                                      RT_SC_GRAD_NORM, RT_SC_LOSS, RT_SC_LOSS_SUM};
    for (size_t i = 0; i < sizeof float_slots / sizeof float_slots[0]; i++) {
        int s = float_slots[i];
        double want = sc_f(cpu_sc, s), got = sc_f(vk_sc, s);
        if (!(fabs(got - want) <= atol + rtol * fabs(want)))
            fail_msg("%s: scalars word %d: cpu %.9g vulkan %.9g", label, s, want, got);
    }
    vkh_assert_no_validation_messages();
}

/* ---- batch norm ---- */

typedef struct bn_case {
    int N, C, HW;
    float lo, hi; /* range of x */
} bn_case;

static const bn_case bn_cases[] = {
    {300, 4, 1, -1, 1},      /* HW = 1 (BatchNorm1d), 300 values per channel */
    {2, 1, 1, -1, 1},        /* the fewest values batch statistics allow */
    {3, 5, 200, -2, 3},      /* HW > 128 */
    {7, 3, 37, -1, 1},       /* N*HW = 259: not a multiple of 128 */
    {4, 6, 129, 9, 11},      /* mean large next to the spread */
    {16, 4, 1024, -1, 1},    /* 16384 values per channel */
    {1, 70000, 2, -1, 1},    /* more than 65535 channels: folded grid */
};
#define N_BN (sizeof bn_cases / sizeof bn_cases[0])

static size_t bn_elems(const bn_case *c)
{
    return (size_t)c->N * c->C * c->HW;
}

static void test_bn_train_fwd(void **state)
{
    (void)state;
    begin_test();
    for (size_t t = 0; t < N_BN; t++) {
        const bn_case *c = &bn_cases[t];
        size_t n = bn_elems(c), C = (size_t)c->C;
        rt_params p = {{c->N, c->C, c->HW}, {1e-5f, 0.1f}};
        float *x = vkh_rand(n, 10 + (unsigned)t, c->lo, c->hi);
        float *gamma = vkh_rand(C, 20 + (unsigned)t, 0.5f, 1.5f);
        float *beta = vkh_rand(C, 30 + (unsigned)t, -0.5f, 0.5f);
        float *y = vkh_rand(n, 40 + (unsigned)t, -1, 1); /* stale: all must be written */
        float *rmean = vkh_rand(C, 50 + (unsigned)t, -0.2f, 0.2f);
        float *rvar = vkh_rand(C, 60 + (unsigned)t, 0.5f, 1.5f);
        vkh_arg args[8] = {{n, false, x},     {C, false, gamma}, {C, false, beta},  {n, false, y},
                           {C, false, NULL}, {C, false, NULL},  {C, false, rmean}, {C, false, rvar}};
        char label[80];
        snprintf(label, sizeof label, "bn_train_fwd N=%d C=%d HW=%d", c->N, c->C, c->HW);
        check(RT_K_BN_TRAIN_FWD, &p, 8, args, RED_RTOL, RED_ATOL, label);
        free(x);
        free(gamma);
        free(beta);
        free(y);
        free(rmean);
        free(rvar);
    }
    end_test("bn_train_fwd");
}

static void test_bn_eval_fwd(void **state)
{
    (void)state;
    begin_test();
    for (size_t t = 0; t < N_BN; t++) {
        const bn_case *c = &bn_cases[t];
        size_t n = bn_elems(c), C = (size_t)c->C;
        rt_params p = {{c->N, c->C, c->HW}, {1e-3f}};
        float *x = vkh_rand(n, 70 + (unsigned)t, c->lo, c->hi);
        float *gamma = vkh_rand(C, 71 + (unsigned)t, -1.5f, 1.5f);
        float *beta = vkh_rand(C, 72 + (unsigned)t, -0.5f, 0.5f);
        float *rmean = vkh_rand(C, 73 + (unsigned)t, c->lo, c->hi);
        float *rvar = vkh_rand(C, 74 + (unsigned)t, 0.0f, 2.0f);
        vkh_arg args[6] = {{n, false, x},     {C, false, gamma}, {C, false, beta},
                           {C, false, rmean}, {C, false, rvar},  {n, false, NULL}};
        char label[80];
        snprintf(label, sizeof label, "bn_eval_fwd N=%d C=%d HW=%d", c->N, c->C, c->HW);
        check(RT_K_BN_EVAL_FWD, &p, 6, args, EW_RTOL, EW_ATOL, label);
        p.i[3] = 1; /* from batch statistics: rvar read as an inverse std */
        snprintf(label, sizeof label, "bn_eval_fwd batch stats N=%d C=%d HW=%d", c->N, c->C, c->HW);
        check(RT_K_BN_EVAL_FWD, &p, 6, args, EW_RTOL, EW_ATOL, label);
        free(x);
        free(gamma);
        free(beta);
        free(rmean);
        free(rvar);
    }
    end_test("bn_eval_fwd");
}

/* The batch statistics BN_TRAIN_FWD saves, in double on the host. */
static void bn_stats(const bn_case *c, const float *x, float eps, float *mean, float *invstd)
{
    size_t cnt = (size_t)c->N * c->HW;
    for (int ch = 0; ch < c->C; ch++) {
        double s = 0, q = 0;
        for (int n = 0; n < c->N; n++)
            for (int j = 0; j < c->HW; j++)
                s += x[((size_t)n * c->C + ch) * c->HW + j];
        double m = s / (double)cnt;
        for (int n = 0; n < c->N; n++)
            for (int j = 0; j < c->HW; j++) {
                double d = x[((size_t)n * c->C + ch) * c->HW + j] - m;
                q += d * d;
            }
        mean[ch] = (float)m;
        invstd[ch] = (float)(1.0 / sqrt(q / (double)cnt + eps));
    }
}

/* Every combination of present outputs (dx, dgamma, dbeta) and accum
 * flags, on every shape but the folded one (checked once, all present). */
static void test_bn_bwd(void **state)
{
    (void)state;
    begin_test();
    for (size_t t = 0; t < N_BN; t++) {
        const bn_case *c = &bn_cases[t];
        size_t n = bn_elems(c), C = (size_t)c->C;
        float *x = vkh_rand(n, 80 + (unsigned)t, c->lo, c->hi);
        float *dy = vkh_rand(n, 81 + (unsigned)t, -1, 1);
        float *gamma = vkh_rand(C, 82 + (unsigned)t, 0.5f, 1.5f);
        float *mean = malloc(C * sizeof *mean), *invstd = malloc(C * sizeof *invstd);
        bn_stats(c, x, 1e-5f, mean, invstd);
        float *dx = vkh_rand(n, 83 + (unsigned)t, -1, 1);
        float *dg = vkh_rand(C, 84 + (unsigned)t, -1, 1);
        float *db = vkh_rand(C, 85 + (unsigned)t, -1, 1);
        bool folded = C > 65535;
        for (int mask = folded ? 7 : 0; mask < 8; mask++)
            for (int acc = folded ? 3 : 0; acc < 4; acc++) {
                rt_params p = {{c->N, c->C, c->HW, acc & 1, acc >> 1}, {0}};
                vkh_arg args[8] = {{n, false, x},
                                   {n, false, dy},
                                   {C, false, gamma},
                                   {C, false, mean},
                                   {C, false, invstd},
                                   {mask & 1 ? n : 0, false, dx},
                                   {mask & 2 ? C : 0, false, dg},
                                   {mask & 4 ? C : 0, false, db}};
                char label[96];
                snprintf(label, sizeof label, "bn_bwd N=%d C=%d HW=%d outputs=%d accum=%d,%d", c->N, c->C, c->HW,
                         mask, acc & 1, acc >> 1);
                check(RT_K_BN_BWD, &p, 8, args, RED_RTOL, RED_ATOL, label);
            }
        free(x);
        free(dy);
        free(gamma);
        free(mean);
        free(invstd);
        free(dx);
        free(dg);
        free(db);
    }
    end_test("bn_bwd");
}

/* ---- layer norm ---- */

static void ln_fwd_case(int rows, int D, unsigned seed, float lo, float hi)
{
    size_t n = (size_t)rows * D;
    rt_params p = {{rows, D}, {1e-5f}};
    float *x = vkh_rand(n, seed, lo, hi);
    float *gamma = vkh_rand((size_t)D, seed + 1, 0.5f, 1.5f);
    float *beta = vkh_rand((size_t)D, seed + 2, -0.5f, 0.5f);
    float *y = vkh_rand(n, seed + 3, -1, 1);
    vkh_arg args[6] = {{n, false, x},    {(size_t)D, false, gamma},   {(size_t)D, false, beta},
                       {n, false, y},    {(size_t)rows, false, NULL}, {(size_t)rows, false, NULL}};
    char label[64];
    snprintf(label, sizeof label, "ln_fwd rows=%d D=%d", rows, D);
    check(RT_K_LN_FWD, &p, 6, args, RED_RTOL, RED_ATOL, label);
    free(x);
    free(gamma);
    free(beta);
    free(y);
}

static const int ln_dims[] = {1, 2, 3, 7, 31, 64, 100, 127, 128, 129, 200, 255, 256, 257, 300};
#define N_LN_DIMS (sizeof ln_dims / sizeof ln_dims[0])

static void test_ln_fwd(void **state)
{
    (void)state;
    begin_test();
    for (size_t t = 0; t < N_LN_DIMS; t++) {
        ln_fwd_case(5, ln_dims[t], 100 + (unsigned)t, -2, 2);
        ln_fwd_case(1, ln_dims[t], 200 + (unsigned)t, 5, 7);
    }
    ln_fwd_case(0, 16, 300, -1, 1);     /* no rows */
    ln_fwd_case(3, 4096, 301, -1, 1);   /* long rows */
    ln_fwd_case(70000, 3, 302, -1, 1);  /* more than 65535 rows: folded grid */
    end_test("ln_fwd");
}

/* The row statistics LN_FWD saves, in double on the host. */
static void ln_stats(int rows, int D, const float *x, float eps, float *mean, float *rstd)
{
    for (int r = 0; r < rows; r++) {
        double s = 0, q = 0;
        for (int i = 0; i < D; i++)
            s += x[(size_t)r * D + i];
        double m = s / D;
        for (int i = 0; i < D; i++)
            q += (x[(size_t)r * D + i] - m) * (x[(size_t)r * D + i] - m);
        mean[r] = (float)m;
        rstd[r] = (float)(1.0 / sqrt(q / D + eps));
    }
}

/* mask: bit 0 dx, 1 dgamma, 2 dbeta present; acc: bit 0 accum_dx, 1 accum_dparams. */
static void ln_bwd_case(int rows, int D, int mask, int acc, unsigned seed)
{
    size_t n = (size_t)rows * D, d = (size_t)D, r = (size_t)rows;
    float *x = vkh_rand(n, seed, -2, 2);
    float *dy = vkh_rand(n, seed + 1, -1, 1);
    float *gamma = vkh_rand(d, seed + 2, 0.5f, 1.5f);
    float *mean = malloc((r ? r : 1) * sizeof *mean), *rstd = malloc((r ? r : 1) * sizeof *rstd);
    ln_stats(rows, D, x, 1e-5f, mean, rstd);
    float *dx = vkh_rand(n, seed + 3, -1, 1);
    float *dg = vkh_rand(d, seed + 4, -1, 1);
    float *db = vkh_rand(d, seed + 5, -1, 1);
    rt_params p = {{rows, D, acc & 1, acc >> 1}, {0}};
    vkh_arg args[8] = {{n, false, x},
                       {n, false, dy},
                       {d, false, gamma},
                       {r, false, mean},
                       {r, false, rstd},
                       {mask & 1 ? n : 0, false, dx},
                       {mask & 2 ? d : 0, false, dg},
                       {mask & 4 ? d : 0, false, db}};
    char label[96];
    snprintf(label, sizeof label, "ln_bwd rows=%d D=%d outputs=%d accum=%d,%d", rows, D, mask, acc & 1, acc >> 1);
    check(RT_K_LN_BWD, &p, 8, args, RED_RTOL, RED_ATOL, label);
    free(x);
    free(dy);
    free(gamma);
    free(mean);
    free(rstd);
    free(dx);
    free(dg);
    free(db);
}

static void test_ln_bwd_outputs(void **state)
{
    (void)state;
    begin_test();
    static const int shapes[][2] = {{5, 37}, {130, 300}};
    for (size_t s = 0; s < 2; s++)
        for (int mask = 0; mask < 8; mask++)
            for (int acc = 0; acc < 4; acc++)
                ln_bwd_case(shapes[s][0], shapes[s][1], mask, acc, 400 + (unsigned)(s * 32 + mask * 4 + acc));
    end_test("ln_bwd outputs/accum");
}

static void test_ln_bwd_sizes(void **state)
{
    (void)state;
    begin_test();
    for (size_t t = 0; t < N_LN_DIMS; t++) {
        ln_bwd_case(7, ln_dims[t], 7, (int)(t % 4), 500 + 10 * (unsigned)t);
        ln_bwd_case(1, ln_dims[t], 7, 0, 700 + 10 * (unsigned)t);
    }
    ln_bwd_case(0, 200, 6, 0, 900);      /* no rows: dgamma = dbeta = 0 */
    ln_bwd_case(0, 200, 6, 3, 910);      /* no rows, accumulating: unchanged */
    ln_bwd_case(2000, 64, 7, 3, 920);    /* long column sums */
    ln_bwd_case(3, 4096, 7, 0, 930);     /* long rows, 32 column groups */
    end_test("ln_bwd sizes");
}

/* ---- softmax cross entropy ---- */

/* Logits and labels with: rows whose maximum is tied (labels on the
 * second and on the first of the tied indices), a label -1 and a label C
 * (ignored rows), and every third row labelled with its argmax so the
 * correct count is not trivially small. */
static void ce_inputs(int N, int C, unsigned seed, float scale, float **logits, int **labels)
{
    float *x = vkh_rand((size_t)N * C, seed, -scale, scale);
    int *lab = vkh_rand_int((size_t)N, seed + 1, C);
    for (int r = 0; r < N; r++)
        if (r % 3 == 2) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (x[(size_t)r * C + c] > x[(size_t)r * C + best])
                    best = c;
            lab[r] = best;
        }
    if (C >= 8 && N >= 1) {
        x[2] = x[5] = scale + 1;
        lab[0] = 5; /* tie: argmax is 2, not correct */
    }
    if (C >= 8 && N >= 2) {
        x[C + 3] = x[C + 7] = scale + 1;
        lab[1] = 3; /* tie: argmax is 3, correct */
    }
    if (C >= 256 && N >= 3) { /* tied indices 128 apart: the same shader thread sees both */
        x[2 * (size_t)C + 5] = x[2 * (size_t)C + 133] = scale + 1;
        lab[2] = 133; /* argmax is 5, not correct */
    }
    if (N >= 4) {
        lab[N - 1] = -1;
        lab[N - 2] = C;
    }
    *logits = x;
    *labels = lab;
}

static void test_softmax_ce_fwd(void **state)
{
    (void)state;
    begin_test();
    static const int Ns[] = {1, 37, 300};
    static const int Cs[] = {10, 1000};
    static const float smooth[] = {0.0f, 0.1f};
    unsigned seed = 1000;
    for (size_t ni = 0; ni < 3; ni++)
        for (size_t ci = 0; ci < 2; ci++)
            for (size_t si = 0; si < 2; si++) {
                int N = Ns[ni], C = Cs[ci];
                size_t n = (size_t)N * C;
                float scale = ni == 1 ? 20.0f : 3.0f; /* wide logits: probabilities near 0 and 1 */
                float *x;
                int *lab;
                ce_inputs(N, C, seed, scale, &x, &lab);
                float *probs = vkh_rand(n, seed + 2, 0, 1);
                uint32_t sc[RT_SC_COUNT], vk_sc[RT_SC_COUNT];
                scalars_init(sc, 0.1f, 3, 0.5f, 0.5f, 1.0f);
                rt_params p = {{N, C}, {smooth[si]}};
                vkh_arg args[4] = {{n, false, x}, {(size_t)N, true, lab}, {n, false, probs}, {RT_SC_COUNT, false, sc}};
                char label[80];
                snprintf(label, sizeof label, "softmax_ce_fwd N=%d C=%d s=%g", N, C, smooth[si]);
                check(RT_K_SOFTMAX_CE_FWD, &p, 4, args, RED_RTOL, RED_ATOL, label);
                check_scalars(RT_K_SOFTMAX_CE_FWD, &p, 4, args, 3, RED_RTOL, RED_ATOL, label, vk_sc);
                assert_int_equal(vk_sc[RT_SC_SAMPLES], 11u + (unsigned)N);
                if (N >= 2 && C >= 8) /* the correct tie row at least */
                    assert_true(vk_sc[RT_SC_CORRECT] > 7u);
                free(x);
                free(lab);
                free(probs);
                seed += 10;
            }
    end_test("softmax_ce_fwd");
}

static void test_softmax_ce_bwd(void **state)
{
    (void)state;
    begin_test();
    static const int shapes[][2] = {{1, 10}, {37, 10}, {300, 1000}, {5, 3}};
    unsigned seed = 2000;
    for (size_t s = 0; s < 4; s++)
        for (int acc = 0; acc < 2; acc++)
            for (int si = 0; si < 2; si++) {
                int N = shapes[s][0], C = shapes[s][1];
                size_t n = (size_t)N * C;
                float *x;
                int *lab;
                ce_inputs(N, C, seed, 3.0f, &x, &lab);
                float *probs = vkh_rand(n, seed + 2, 0, 1);
                float *d = vkh_rand(n, seed + 3, -1, 1);
                rt_params p = {{N, C, acc}, {si ? 0.1f : 0.0f}};
                vkh_arg args[3] = {{n, false, probs}, {(size_t)N, true, lab}, {n, false, d}};
                char label[80];
                snprintf(label, sizeof label, "softmax_ce_bwd N=%d C=%d accum=%d s=%d", N, C, acc, si);
                check(RT_K_SOFTMAX_CE_BWD, &p, 3, args, EW_RTOL, EW_ATOL, label);
                free(x);
                free(lab);
                free(probs);
                free(d);
                seed += 10;
            }
    end_test("softmax_ce_bwd");
}

/* ---- mean squared error ---- */

static void test_mse(void **state)
{
    (void)state;
    begin_test();
    static const int shapes[][2] = {{1, 1}, {7, 13}, {64, 1}, {300, 1000}};
    unsigned seed = 3000;
    for (size_t s = 0; s < 4; s++) {
        int N = shapes[s][0], D = shapes[s][1];
        size_t n = (size_t)N * D;
        float *pred = vkh_rand(n, seed, -2, 2), *target = vkh_rand(n, seed + 1, -2, 2);
        uint32_t sc[RT_SC_COUNT], vk_sc[RT_SC_COUNT];
        scalars_init(sc, 0.1f, 3, 0.5f, 0.5f, 1.0f);
        rt_params p = {{N, D}, {0}};
        vkh_arg fargs[3] = {{n, false, pred}, {n, false, target}, {RT_SC_COUNT, false, sc}};
        char label[80];
        snprintf(label, sizeof label, "mse_fwd N=%d D=%d", N, D);
        check(RT_K_MSE_FWD, &p, 3, fargs, RED_RTOL, RED_ATOL, label);
        check_scalars(RT_K_MSE_FWD, &p, 3, fargs, 2, RED_RTOL, RED_ATOL, label, vk_sc);
        assert_int_equal(vk_sc[RT_SC_CORRECT], 7u); /* MSE counts no correct samples */
        float *d = vkh_rand(n, seed + 2, -1, 1);
        for (int acc = 0; acc < 2; acc++) {
            rt_params pb = {{N, D, acc}, {0}};
            vkh_arg bargs[3] = {{n, false, pred}, {n, false, target}, {n, false, d}};
            snprintf(label, sizeof label, "mse_bwd N=%d D=%d accum=%d", N, D, acc);
            check(RT_K_MSE_BWD, &pb, 3, bargs, EW_RTOL, EW_ATOL, label);
        }
        free(pred);
        free(target);
        free(d);
        seed += 10;
    }
    end_test("mse");
}

/* ---- gradient norm ---- */

static void test_grad_norm(void **state)
{
    (void)state;
    begin_test();
    static const size_t counts[] = {0, 1, 1000, 128 * 100 + 77, 1000003};
    for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++)
        for (int active = 0; active < 2; active++) {
            size_t n = counts[t];
            if (active && n == 0) /* a zero norm is never clipped */
                continue;
            float *g = vkh_rand(n, 4000 + (unsigned)t, -1, 1);
            double norm = 0;
            for (size_t i = 0; i < n; i++)
                norm += (double)g[i] * g[i];
            norm = sqrt(norm);
            float max_norm = active ? (float)(0.5 * norm) : (float)(2 * norm + 1);
            uint32_t sc[RT_SC_COUNT], vk_sc[RT_SC_COUNT];
            scalars_init(sc, 0.1f, 3, 0.5f, 0.5f, 0.25f);
            rt_params p = {{(int)n}, {max_norm}};
            vkh_arg args[2] = {{n, false, g}, {RT_SC_COUNT, false, sc}};
            char label[80];
            snprintf(label, sizeof label, "grad_norm count=%zu clip %s", n, active ? "active" : "inactive");
            check(RT_K_GRAD_NORM, &p, 2, args, RED_RTOL, RED_ATOL, label);
            check_scalars(RT_K_GRAD_NORM, &p, 2, args, 1, RED_RTOL, 0, label, vk_sc);
            float clip = sc_f(vk_sc, RT_SC_CLIP_SCALE);
            if (active)
                assert_true(clip < 0.51f && clip > 0.49f);
            else
                assert_true(clip == 1.0f);
            free(g);
        }
    end_test("grad_norm");
}

/* ---- optimizers ---- */

/* SGD over steps 1, 2, 3 for every option combination; the state each
 * step starts from is the CPU's result of the step before. */
static void test_sgd(void **state)
{
    (void)state;
    begin_test();
    const size_t n = 1027;
    for (int opt = 0; opt < 32; opt++) {
        int momentum = opt & 1, nesterov = (opt >> 1) & 1, use_clip = (opt >> 2) & 1;
        float wd = (opt >> 3) & 1 ? 0.01f : 0.0f, damp = (opt >> 4) & 1 ? 0.1f : 0.0f;
        if (nesterov && !momentum)
            continue;
        if (nesterov && damp != 0) /* torch requires zero dampening with Nesterov */
            continue;
        float *param = vkh_rand(n, 5000 + (unsigned)opt, -1, 1);
        float *buf = vkh_rand(n, 5100 + (unsigned)opt, -1, 1); /* stale: step 1 overwrites it */
        for (uint32_t step = 1; step <= 3; step++) {
            float *grad = vkh_rand(n, 5200 + (unsigned)opt * 8 + step, -1, 1);
            uint32_t sc[RT_SC_COUNT];
            scalars_init(sc, 0.05f * (float)step, step, 0.5f, 0.5f, 0.3f);
            rt_params p = {{(int)n, momentum, nesterov, use_clip}, {0.9f, damp, wd}};
            /* without momentum the buffer is absent or present-but-unused */
            size_t nbuf = momentum || step == 2 ? n : 0;
            vkh_arg args[4] = {{n, false, param}, {n, false, grad}, {nbuf, false, buf}, {RT_SC_COUNT, false, sc}};
            char label[96];
            snprintf(label, sizeof label, "sgd mom=%d nest=%d clip=%d wd=%g damp=%g step=%u", momentum, nesterov,
                     use_clip, wd, damp, step);
            check(RT_K_SGD, &p, 4, args, EW_RTOL, EW_ATOL, label);
            void *out[4] = {param, NULL, nbuf ? buf : NULL, NULL};
            run_backend(vkh_cpu(), RT_K_SGD, &p, 4, args, out);
            free(grad);
        }
        free(param);
        free(buf);
    }
    end_test("sgd");
}

/* AdamW over steps 1, 2, 3 (bias corrections from the step), with and
 * without clipping and weight decay, chained through the CPU's state. */
static void test_adamw(void **state)
{
    (void)state;
    begin_test();
    const size_t n = 4099;
    const float b1 = 0.9f, b2 = 0.999f;
    for (int opt = 0; opt < 4; opt++) {
        int use_clip = opt & 1;
        float wd = opt & 2 ? 0.01f : 0.0f;
        float *param = vkh_rand(n, 6000 + (unsigned)opt, -1, 1);
        float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
        for (uint32_t step = 1; step <= 3; step++) {
            float *grad = vkh_rand(n, 6100 + (unsigned)opt * 8 + step, -1, 1);
            grad[0] = 0; /* m = v = 0 at step 1: eps keeps the update finite */
            uint32_t sc[RT_SC_COUNT];
            scalars_init(sc, 1e-3f, step, (float)(1 - pow(b1, step)), (float)(1 - pow(b2, step)), 0.3f);
            rt_params p = {{(int)n, use_clip}, {b1, b2, 1e-8f, wd}};
            vkh_arg args[5] = {{n, false, param}, {n, false, grad}, {n, false, m}, {n, false, v},
                               {RT_SC_COUNT, false, sc}};
            char label[80];
            snprintf(label, sizeof label, "adamw clip=%d wd=%g step=%u", use_clip, wd, step);
            check(RT_K_ADAMW, &p, 5, args, EW_RTOL, EW_ATOL, label);
            void *out[5] = {param, NULL, m, v, NULL};
            run_backend(vkh_cpu(), RT_K_ADAMW, &p, 5, args, out);
            free(grad);
        }
        free(param);
        free(m);
        free(v);
    }
    end_test("adamw");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_train_fwd),   cmocka_unit_test(test_bn_eval_fwd),
        cmocka_unit_test(test_bn_bwd),         cmocka_unit_test(test_ln_fwd),
        cmocka_unit_test(test_ln_bwd_outputs), cmocka_unit_test(test_ln_bwd_sizes),
        cmocka_unit_test(test_softmax_ce_fwd), cmocka_unit_test(test_softmax_ce_bwd),
        cmocka_unit_test(test_mse),            cmocka_unit_test(test_grad_norm),
        cmocka_unit_test(test_sgd),            cmocka_unit_test(test_adamw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
