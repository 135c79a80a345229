/* Element-wise and per-row CPU kernels: activations (forward, NaN,
 * finite-difference backward), add / copy / copy2d / fill, the bias
 * gradient, dropout and embedding. */
#include "kernel_harness.h"

#include <math.h>
#include <string.h>

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
    float *x = kh_fzeros(n), *y = kh_fzeros(n);
    double *ref = kh_dzeros(n);
    for (size_t i = 0; i < n; i++) /* dense over [-12, 12], plus extremes */
        x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    const float extremes[] = {-1e30f, -100, -87.5f, -30, -1e-6f, 0, 1e-6f, 30, 88.5f, 100, 1e30f};
    memcpy(x, extremes, sizeof extremes);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        for (size_t i = 0; i < n; i++)
            ref[i] = ref_act(act, x[i]);
        kh_launch l = kh_make_launch(RT_K_ACT_FWD);
        l.p.i[0] = (int)n, l.p.i[1] = act;
        kh_bind(&l, 0, x, n);
        kh_bind(&l, 1, y, n);
        kh_fill_nan(y, n);
        kh_run(&l);
        if (act == RT_ACT_SILU || act == RT_ACT_GELU) { /* x * tiny at -1e30 overflows the reference */
            y[0] = 0;
            ref[0] = 0;
        }
        kh_expect_close(y, ref, n, 1e-6, act_names[act]);
    }
}

static void test_act_propagates_nan(void **state)
{
    (void)state;
    float x[3] = {NAN, 1, -1}, y[3];
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        kh_launch l = kh_make_launch(RT_K_ACT_FWD);
        l.p.i[0] = 3, l.p.i[1] = act;
        kh_bind(&l, 0, x, 3);
        kh_bind(&l, 1, y, 3);
        kh_run(&l);
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
    float *x = kh_frand(n, 7, -8, 8), *y = kh_fzeros(n), *dy = kh_frand(n, 8, -1, 1), *dx = kh_fzeros(n);
    for (size_t i = 0; i < n; i++) /* keep clear of the kinks at 0 and 6 */
        if (fabsf(x[i]) < 0.05f || fabsf(x[i] - 6) < 0.05f)
            x[i] += 0.2f;
    double *num = kh_dzeros(n);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++) {
        kh_launch fwd = kh_make_launch(RT_K_ACT_FWD);
        fwd.p.i[0] = (int)n, fwd.p.i[1] = act;
        kh_bind(&fwd, 0, x, n);
        kh_bind(&fwd, 1, y, n);
        kh_numeric_grad(&fwd, x, n, y, dy, n, num);
        kh_run(&fwd);

        bool reads_x = act == RT_ACT_GELU || act == RT_ACT_SILU;
        kh_launch bwd = kh_make_launch(RT_K_ACT_BWD);
        bwd.p.i[0] = (int)n, bwd.p.i[1] = act;
        kh_bind(&bwd, 0, reads_x ? x : NULL, n); /* the other input is absent */
        kh_bind(&bwd, 1, reads_x ? NULL : y, n);
        kh_bind(&bwd, 2, dy, n);
        kh_bind(&bwd, 3, dx, n);
        kh_fill_nan(dx, n);
        kh_run(&bwd);
        kh_expect_grad(dx, num, n, 2e-3, act_names[act]);

        double *exact = kh_dzeros(n);
        for (size_t i = 0; i < n; i++)
            exact[i] = dx[i];
        kh_check_both_modes(&bwd, 2, 3, n, exact, 1e-6);
    }
}

/* ---- ReLU / ReLU6 derivative masks and in-place activations ---- */

/* Random values over both kinks, with the kinks themselves, their
 * neighbours, signed zeros, NaN, infinities and denormals mixed in. */
static float *kink_inputs(size_t n, uint64_t seed)
{
    static const float special[] = {0.0f, -0.0f, 6.0f, 5.9999995f, 6.0000005f, 1e-45f, -1e-45f, 1e-40f,
                                    NAN,  INFINITY, -INFINITY, 1.0f, -1.0f, 7.0f, 3.0f};
    const size_t ns = sizeof special / sizeof special[0];
    float *x = kh_frand(n, seed, -8, 14);
    for (size_t i = 0; i < n; i += 3)
        x[i] = special[(i / 3) % ns];
    return x;
}

static bool ref_mask_bit(int act, float x)
{
    return act == RT_ACT_RELU ? x > 0 : x > 0 && x < 6;
}

/* write_mask: y as without it, the mask by the documented rule (bits past
 * count 0); backward from the mask gives the bits backward from y gives,
 * both accum modes; 1 and 3 threads agree. Sizes around a word and over
 * several parallel chunks. */
static void test_act_mask(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 31, 32, 33, 95, 70001};
    cpu_pool *one = NULL, *three = NULL;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);
    for (int act = RT_ACT_RELU; act <= RT_ACT_RELU6; act++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k], words = (n + 31) / 32;
            float *x = kink_inputs(n, 90 + k), *y = kh_fzeros(n), *ym = kh_fzeros(n);
            uint32_t *mask = (uint32_t *)kh_izeros(words);
            kh_launch plain = kh_make_launch(RT_K_ACT_FWD);
            plain.p.i[0] = (int)n, plain.p.i[1] = act;
            kh_bind(&plain, 0, x, n);
            kh_bind(&plain, 1, y, n);
            kh_run(&plain);
            kh_launch fwd = plain;
            fwd.p.i[2] = 1;
            kh_bind(&fwd, 1, ym, n);
            kh_bind(&fwd, 2, mask, words);
            memset(mask, 0xa5, words * 4); /* every bit must be written */
            kh_run(&fwd);
            assert_memory_equal(ym, y, n * sizeof *y);
            for (size_t i = 0; i < words * 32; i++) {
                bool bit = (mask[i / 32] >> (i % 32)) & 1u;
                if (bit != (i < n && ref_mask_bit(act, x[i])))
                    fail_msg("%s n=%zu: mask bit %zu of x = %g is %d", act_names[act], n, i,
                             i < n ? (double)x[i] : 0.0, (int)bit);
            }
            kh_expect_thread_independent(&fwd, one, three, "act_fwd write_mask");

            float *dy = kh_frand(n, 95 + k, -1, 1), *dx = kh_fzeros(n), *want = kh_fzeros(n);
            kh_launch from_y = kh_make_launch(RT_K_ACT_BWD);
            from_y.p.i[0] = (int)n, from_y.p.i[1] = act;
            kh_bind(&from_y, 1, y, n);
            kh_bind(&from_y, 2, dy, n);
            kh_bind(&from_y, 3, want, n);
            kh_launch from_mask = kh_make_launch(RT_K_ACT_BWD);
            from_mask.p = from_y.p;
            from_mask.p.i[3] = 1;
            kh_bind(&from_mask, 2, dy, n);
            kh_bind(&from_mask, 3, dx, n);
            kh_bind(&from_mask, 4, mask, words);
            for (int accum = 0; accum <= 1; accum++) {
                from_y.p.i[2] = from_mask.p.i[2] = accum;
                tu_fill_uniform(want, n, 97, -1, 1);
                memcpy(dx, want, n * sizeof *dx);
                kh_run(&from_y);
                kh_run(&from_mask);
                assert_memory_equal(dx, want, n * sizeof *dx);
            }
            kh_expect_thread_independent(&from_mask, one, three, "act_bwd from_mask");
        }
    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

/* x and y the same array: the same bits as out of place, every
 * activation, with and without a mask. */
static void test_act_in_place(void **state)
{
    (void)state;
    const size_t n = 70001;
    float *x = kink_inputs(n, 99), *want = kh_fzeros(n), *v = kh_fzeros(n);
    uint32_t *mask = (uint32_t *)kh_izeros((n + 31) / 32), *want_mask = (uint32_t *)kh_izeros((n + 31) / 32);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++)
        for (int with_mask = 0; with_mask <= (act <= RT_ACT_RELU6); with_mask++) {
            kh_launch l = kh_make_launch(RT_K_ACT_FWD);
            l.p.i[0] = (int)n, l.p.i[1] = act, l.p.i[2] = with_mask;
            kh_bind(&l, 0, x, n);
            kh_bind(&l, 1, want, n);
            kh_bind(&l, 2, with_mask ? want_mask : NULL, (n + 31) / 32);
            kh_run(&l);
            memcpy(v, x, n * sizeof *v);
            kh_bind(&l, 0, v, n);
            kh_bind(&l, 1, v, n);
            kh_bind(&l, 2, with_mask ? mask : NULL, (n + 31) / 32);
            kh_run(&l);
            if (memcmp(v, want, n * sizeof *v) != 0)
                fail_msg("%s in place differs%s", act_names[act], with_mask ? " (mask)" : "");
            if (with_mask)
                assert_memory_equal(mask, want_mask, (n + 31) / 32 * 4);
        }
}

/* ---- add, copy, copy2d, fill ---- */

/* y the same array as a, as b, or as both: the out-of-place bits. */
static void test_add_in_place(void **state)
{
    (void)state;
    const size_t n = 70001;
    float *a = kh_frand(n, 11, -1, 1), *b = kh_frand(n, 12, -1, 1), *want = kh_fzeros(n), *v = kh_fzeros(n);
    for (int which = 0; which < 3; which++) {
        kh_launch l = kh_make_launch(RT_K_ADD);
        l.p.i[0] = (int)n;
        kh_bind(&l, 0, a, n);
        kh_bind(&l, 1, which == 2 ? a : b, n);
        kh_bind(&l, 2, want, n);
        kh_run(&l);
        memcpy(v, which == 1 ? b : a, n * sizeof *v);
        kh_bind(&l, which == 1 ? 1 : 0, v, n);
        if (which == 2)
            kh_bind(&l, 1, v, n);
        kh_bind(&l, 2, v, n);
        kh_run(&l);
        if (memcmp(v, want, n * sizeof *v) != 0)
            fail_msg("add in place over %s differs", which == 0 ? "a" : which == 1 ? "b" : "a = b");
    }
}

static void test_add_copy_fill(void **state)
{
    (void)state;
    const size_t n = 70001; /* more than one parallel chunk */
    float *a = kh_frand(n, 1, -1, 1), *b = kh_frand(n, 2, -1, 1), *y = kh_fzeros(n);
    double *ref = kh_dzeros(n);

    kh_launch add = kh_make_launch(RT_K_ADD);
    add.p.i[0] = (int)n;
    kh_bind(&add, 0, a, n);
    kh_bind(&add, 1, b, n);
    kh_bind(&add, 2, y, n);
    kh_run(&add);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)a[i] + b[i];
    kh_expect_close(y, ref, n, 1e-7, "add");

    kh_launch copy = kh_make_launch(RT_K_COPY);
    copy.p.i[0] = (int)n;
    kh_bind(&copy, 0, a, n);
    kh_bind(&copy, 1, y, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = a[i];
    kh_check_both_modes(&copy, 1, 1, n, ref, 1e-7);
    copy.p.i[2] = 1; /* scaled */
    copy.p.f[0] = -0.75f;
    for (size_t i = 0; i < n; i++)
        ref[i] = -0.75 * a[i];
    kh_check_both_modes(&copy, 1, 1, n, ref, 1e-7);

    kh_launch fill = kh_make_launch(RT_K_FILL);
    fill.p.i[0] = (int)n - 1;
    fill.p.f[0] = 2.5f;
    kh_bind(&fill, 0, y, n - 1);
    y[n - 1] = 7;
    kh_run(&fill);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(y[i] == 2.5f);
    assert_true(y[n - 1] == 7); /* count respected */
}

static void test_copy2d(void **state)
{
    (void)state;
    const int rows = 13, cols = 7, ss = 11, ds = 9, so = 3, doff = 5;
    size_t nsrc = (size_t)so + (rows - 1) * ss + cols, ndst = (size_t)doff + (rows - 1) * ds + cols + 4;
    float *src = kh_frand(nsrc, 3, -1, 1), *dst = kh_fzeros(ndst), *base = kh_frand(ndst, 4, -1, 1);
    kh_launch l = kh_make_launch(RT_K_COPY2D);
    int v[7] = {rows, cols, ss, ds, so, doff, 0};
    memcpy(l.p.i, v, sizeof v);
    kh_bind(&l, 0, src, nsrc);
    kh_bind(&l, 1, dst, ndst);
    for (int accum = 0; accum <= 1; accum++) {
        memcpy(dst, base, ndst * sizeof *dst);
        l.p.i[6] = accum;
        kh_run(&l);
        for (size_t i = 0; i < ndst; i++) {
            size_t rel = i - (size_t)doff;
            bool inside = i >= (size_t)doff && rel / ds < (size_t)rows && rel % ds < (size_t)cols;
            double want = base[i];
            if (inside) {
                double s = src[so + (rel / ds) * ss + rel % ds];
                want = accum ? want + s : s;
            }
            kh_expect_close1(dst[i], want, 1e-7, "copy2d");
        }
    }
}

/* ---- bias gradient ---- */

static void check_bias_grad(int outer, int C, int inner)
{
    size_t n = (size_t)outer * C * inner;
    float *dy = kh_frand(n, (uint64_t)(outer * 7 + inner), -1, 1), *db = kh_fzeros((size_t)C);
    double *ref = kh_dzeros((size_t)C);
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < inner; j++)
                ref[c] += dy[((size_t)o * C + c) * inner + j];
    kh_launch l = kh_make_launch(RT_K_BIAS_GRAD);
    l.p.i[0] = outer, l.p.i[1] = C, l.p.i[2] = inner;
    kh_bind(&l, 0, dy, n);
    kh_bind(&l, 1, db, (size_t)C);
    kh_check_both_modes(&l, 3, 1, (size_t)C, ref, 1e-6);
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
    float *x = kh_frand(n, 5, 0.5f, 1.5f), *y = kh_fzeros(n), *dy = kh_frand(n, 6, 0.5f, 1.5f), *dx = kh_fzeros(n);
    uint32_t sc[RT_SC_COUNT] = {0};
    sc[RT_SC_SEED] = 1234;

    kh_launch fwd = kh_make_launch(RT_K_DROPOUT_FWD);
    fwd.p.i[0] = (int)n, fwd.p.i[1] = 17;
    fwd.p.f[0] = p;
    kh_bind(&fwd, 0, x, n);
    kh_bind(&fwd, 1, y, n);
    kh_bind(&fwd, 2, sc, RT_SC_COUNT);
    kh_run(&fwd);

    size_t dropped = 0;
    double *ref = kh_dzeros(n);
    for (size_t i = 0; i < n; i++) {
        bool keep = rt_hash_uniform(1234, 17, (uint32_t)i) >= p;
        dropped += !keep;
        assert_true(y[i] == (keep ? x[i] * (1.0f / (1.0f - p)) : 0.0f));
        ref[i] = keep ? (double)(dy[i] * (1.0f / (1.0f - p))) : 0.0;
    }
    double frac = (double)dropped / (double)n;
    if (fabs(frac - p) > 0.01)
        fail_msg("dropped fraction %.4f, expected about %.2f", frac, (double)p);

    kh_launch bwd = kh_make_launch(RT_K_DROPOUT_BWD);
    bwd.p.i[0] = (int)n, bwd.p.i[1] = 17;
    bwd.p.f[0] = p;
    kh_bind(&bwd, 0, dy, n);
    kh_bind(&bwd, 1, dx, n);
    kh_bind(&bwd, 2, sc, RT_SC_COUNT);
    kh_check_both_modes(&bwd, 2, 1, n, ref, 1e-7);
    bwd.p.i[2] = 0;
    kh_run(&bwd);
    for (size_t i = 0; i < n; i++) /* same mask forward and backward */
        assert_true((y[i] == 0) == (dx[i] == 0));

    /* A different seed or salt draws a different mask. */
    float *y2 = kh_fzeros(n);
    kh_bind(&fwd, 1, y2, n);
    fwd.p.i[1] = 18;
    kh_run(&fwd);
    assert_true(memcmp(y, y2, n * sizeof *y) != 0);

    /* A part of the batch starting at `first` draws that part of the
     * whole mask: the last 1000 elements as a launch of their own. */
    fwd.p.i[1] = 17;
    fwd.p.i[0] = 1000, fwd.p.i[3] = (int)n - 1000;
    kh_bind(&fwd, 0, x + n - 1000, 1000);
    kh_bind(&fwd, 1, y2, 1000);
    kh_run(&fwd);
    assert_memory_equal(y2, y + n - 1000, 1000 * sizeof *y);
    fwd.p.i[0] = (int)n, fwd.p.i[3] = 0;
    kh_bind(&fwd, 0, x, n);
    kh_bind(&fwd, 1, y2, n);

    /* p = 0 is the identity, p = 1 drops everything. */
    fwd.p.f[0] = 0;
    kh_run(&fwd);
    assert_memory_equal(y2, x, n * sizeof *x);
    fwd.p.f[0] = 1;
    kh_run(&fwd);
    for (size_t i = 0; i < n; i++)
        assert_true(y2[i] == 0);
}

/* ---- embedding ---- */

static void test_embedding(void **state)
{
    (void)state;
    const int rows = 9, num = 6, dim = 5;
    int32_t idx[9] = {2, 0, 5, 2, -1, 6, 3, 2, 0}; /* repeats and two out of range */
    size_t nw = (size_t)num * dim, ny = (size_t)rows * dim;
    float *W = kh_frand(nw, 130, -1, 1), *y = kh_fzeros(ny), *r = kh_frand(ny, 131, -1, 1), *dW = kh_fzeros(nw);
    double *ref = kh_dzeros(ny), *num_grad = kh_dzeros(nw), *ref_dw = kh_dzeros(nw);

    kh_launch fwd = kh_make_launch(RT_K_EMBED_FWD);
    fwd.p.i[0] = rows, fwd.p.i[1] = num, fwd.p.i[2] = dim;
    kh_bind(&fwd, 0, idx, rows);
    kh_bind(&fwd, 1, W, nw);
    kh_bind(&fwd, 2, y, ny);
    kh_fill_nan(y, ny);
    kh_run(&fwd);
    for (int i = 0; i < rows; i++)
        for (int d = 0; d < dim; d++)
            ref[i * dim + d] = idx[i] >= 0 && idx[i] < num ? W[idx[i] * dim + d] : 0.0;
    kh_expect_close(y, ref, ny, 0, "embedding y");

    kh_numeric_grad(&fwd, W, nw, y, r, ny, num_grad);
    kh_launch bwd = kh_make_launch(RT_K_EMBED_BWD);
    bwd.p.i[0] = rows, bwd.p.i[1] = num, bwd.p.i[2] = dim;
    kh_bind(&bwd, 0, idx, rows);
    kh_bind(&bwd, 1, r, ny);
    kh_bind(&bwd, 2, dW, nw);
    kh_run(&bwd);
    kh_expect_grad(dW, num_grad, nw, 2e-3, "embedding dW");
    for (int i = 0; i < rows; i++) /* row 1 and 4 of W are named by no index: 0 */
        if (idx[i] >= 0 && idx[i] < num)
            for (int d = 0; d < dim; d++)
                ref_dw[idx[i] * dim + d] += r[i * dim + d];
    kh_check_both_modes(&bwd, 3, 2, nw, ref_dw, 1e-6);
}

/* Gather then scatter of selected rows over several items: exact moves,
 * unselected rows untouched, out-of-range indices harmless. */
static void test_gather_scatter_rows(void **state)
{
    (void)state;
    const int items = 3, rows = 7, k = 4, width = 5000; /* rows longer than one task */
    int32_t idx[4] = {6, 0, 3, 9}; /* 9 is out of range */
    size_t full = (size_t)items * rows * width, compact = (size_t)items * k * width;
    float *src = kh_frand(full, 7, -1, 1), *packed = kh_fzeros(compact);
    kh_launch g = kh_make_launch(RT_K_GATHER_ROWS);
    int v[4] = {items, rows, k, width};
    memcpy(g.p.i, v, sizeof v);
    kh_bind(&g, 0, src, full);
    kh_bind(&g, 1, idx, (size_t)k);
    kh_bind(&g, 2, packed, compact);
    kh_run(&g);
    for (int b = 0; b < items; b++)
        for (int r = 0; r < k; r++)
            for (int j = 0; j < width; j += 97) {
                float want = idx[r] < rows ? src[((size_t)b * rows + (size_t)idx[r]) * width + (size_t)j] : 0.0f;
                assert_true(packed[((size_t)b * k + (size_t)r) * width + (size_t)j] == want);
            }
    for (size_t i = 0; i < compact; i++)
        packed[i] = -packed[i] - 3.0f;
    float *dst = kh_fcopy(src, full);
    kh_launch sc = kh_make_launch(RT_K_SCATTER_ROWS);
    memcpy(sc.p.i, v, sizeof v);
    kh_bind(&sc, 0, packed, compact);
    kh_bind(&sc, 1, idx, (size_t)k);
    kh_bind(&sc, 2, dst, full);
    kh_run(&sc);
    for (int b = 0; b < items; b++)
        for (int row = 0; row < rows; row++) {
            int r = -1;
            for (int t = 0; t < k; t++)
                r = idx[t] == row ? t : r;
            for (int j = 0; j < width; j += 89) {
                size_t at = ((size_t)b * rows + (size_t)row) * width + (size_t)j;
                float want = r >= 0 ? packed[((size_t)b * k + (size_t)r) * width + (size_t)j] : src[at];
                assert_true(dst[at] == want);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_act_fwd_matches_reference),
        KH_TEST(test_act_propagates_nan),
        KH_TEST(test_act_bwd_gradcheck),
        KH_TEST(test_act_mask),
        KH_TEST(test_act_in_place),
        KH_TEST(test_add_copy_fill),
        KH_TEST(test_add_in_place),
        KH_TEST(test_copy2d),
        KH_TEST(test_bias_grad),
        KH_TEST(test_dropout),
        KH_TEST(test_embedding),
        KH_TEST(test_gather_scatter_rows),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
