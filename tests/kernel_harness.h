/* Shared scaffolding of the CPU kernel tests (test_kernels_*.c).
 *
 * Every launch goes through rt_launch_validate before it runs, so each
 * kernel test also checks that the validator accepts a correct launch.
 * Forward kernels are compared with plain double-precision references on
 * odd sizes; kernels with an accum flag are run in both modes (accum = 0
 * over NaN-filled outputs, so a kernel that reads its output is caught);
 * backward kernels are compared with central finite differences of their
 * forward kernel; reductions must give the same bits with 1 and 3
 * threads.
 *
 * A test file registers its tests with KH_TEST and runs them with
 * kh_group_setup / kh_group_teardown, which own the shared 2-thread pool
 * that kh_run uses. */
#ifndef VKT_KERNEL_HARNESS_H
#define VKT_KERNEL_HARNESS_H

#include "test_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/backend.h"
#include "runtime/cpu/cpu_kernels.h"

/* ---- allocations (freed by kh_release_all after each test) ---- */

/* Zero-filled arrays of n elements (n = 0 gives one). */
float *kh_fzeros(size_t n);
double *kh_dzeros(size_t n);
int32_t *kh_izeros(size_t n);
/* Deterministic uniform floats in [lo, hi). */
float *kh_frand(size_t n, uint64_t seed, float lo, float hi);
/* A tracked copy of x[0..n). */
float *kh_fcopy(const float *x, size_t n);
void kh_fill_nan(float *x, size_t n);
/* cmocka teardown: frees every allocation of the test. */
int kh_release_all(void **state);

/* A test with kh_release_all as its teardown. */
#define KH_TEST(fn) cmocka_unit_test_teardown(fn, kh_release_all)

/* cmocka group setup / teardown: create / destroy the 2-thread pool. */
int kh_group_setup(void **state);
int kh_group_teardown(void **state);

/* ---- launches on host arrays ---- */

typedef struct kh_launch {
    rt_kernel kernel;
    rt_params p;
    void *ptr[RT_MAX_ARGS];
    size_t bytes[RT_MAX_ARGS];
} kh_launch;

/* A launch of kernel k with zero params and every slot absent. */
kh_launch kh_make_launch(rt_kernel k);
/* Binds `elems` 32-bit elements at `ptr` to a slot (NULL: absent). */
void kh_bind(kh_launch *l, int slot, void *ptr, size_t elems);
/* Validates the launch (failing the test if rejected), then runs it on
 * `pool`; kh_run uses the shared 2-thread pool, where chunks really run
 * concurrently. */
void kh_run_on(cpu_pool *pool, const kh_launch *l);
void kh_run(const kh_launch *l);

/* ---- comparisons ---- */

/* |got - want| <= tol * max(1, |want|) everywhere. */
void kh_expect_close(const float *got, const double *want, size_t n, double tol, const char *what);
void kh_expect_close1(double got, double want, double tol, const char *what);
/* Runs `l` with p.i[accum_param] = 0 over an output (slot out_slot, n
 * floats) full of NaN, then with accum = 1 over random contents, and
 * checks both against ref. Leaves accum at 0. */
void kh_check_both_modes(kh_launch *l, int accum_param, int out_slot, size_t n, const double *ref, double tol);

/* ---- finite differences ---- */

/* Central differences (step 1e-3) of L = sum_i r_i y_i, where y (ny
 * floats) is written by the forward launch `fwd`, with respect to each
 * x[i]; x is restored. */
void kh_numeric_grad(const kh_launch *fwd, float *x, size_t nx, const float *y, const float *r, size_t ny,
                     double *out);
/* |analytic - numeric| <= 1e-2 * max(|analytic|, |numeric|) + atol. */
void kh_expect_grad(const float *analytic, const double *numeric, size_t n, double atol, const char *what);

/* ---- determinism ---- */

/* Runs `l` on both pools from the same starting state of every bound
 * slot, and fails unless every slot ends bit-for-bit equal. */
void kh_expect_thread_independent(const kh_launch *l, cpu_pool *one, cpu_pool *three, const char *what);

/* ---- launch builders shared by several test files ---- */

/* im2col / col2im geometry: params i[0..13] are these 12 values then
 * OH, OW. */
typedef struct kh_conv_case {
    int batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
} kh_conv_case;

int kh_conv_out(int in, int k, int s, int p, int d);
void kh_conv_params(rt_params *p, const kh_conv_case *c);

/* Batch norm over x[N, C, HW], with random gamma, beta and running stats. */
typedef struct kh_bn_bufs {
    int N, C, HW;
    size_t n;
    float *x, *gamma, *beta, *y, *mean, *invstd, *rmean, *rvar;
} kh_bn_bufs;

kh_bn_bufs kh_bn_alloc(int N, int C, int HW, uint64_t seed);
/* eps 1e-5, momentum 0.1. */
kh_launch kh_bn_train_launch(kh_bn_bufs *b);
/* Any of dx, dgamma, dbeta may be NULL (absent). */
kh_launch kh_bn_bwd_launch(kh_bn_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta);

/* Layer norm over x[rows, D]. */
typedef struct kh_ln_bufs {
    int rows, D;
    size_t n;
    float *x, *gamma, *beta, *y, *mean, *rstd;
} kh_ln_bufs;

kh_ln_bufs kh_ln_alloc(int rows, int D, uint64_t seed);
/* eps 1e-5. */
kh_launch kh_ln_fwd_launch(kh_ln_bufs *b);
/* Any of dx, dgamma, dbeta may be NULL (absent). */
kh_launch kh_ln_bwd_launch(kh_ln_bufs *b, float *dy, float *dx, float *dgamma, float *dbeta);

#endif
