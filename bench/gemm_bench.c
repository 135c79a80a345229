/* GFLOP/s of the CPU GEMM kernel on the shapes training spends its time
 * on (a batch-64 MLP and CNN), at 1 and 2 threads.
 *
 * Standalone, not part of the meson build. From the repository root:
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -I. bench/gemm_bench.c \
 *       runtime/cpu/gemm.c runtime/cpu/pool.c runtime/rt_error.c \
 *       -lpthread -lm -o /tmp/gemm_bench
 *   /tmp/gemm_bench [isa]      (isa: avx512, avx2 or generic; default best)
 * Each figure is the best of five rounds of about 2 GFLOP; other load on
 * the machine lowers it, the 2-thread figure most. The data stays hot in
 * cache between calls, as a training step's often does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cpu/cpu_kernels.h"

const char *cpu_gemm_use_isa(const char *name); /* gemm.c, for tests */

typedef struct shape {
    const char *what;
    int M, N, K, trans_a, trans_b, batch, stride_a_zero, reduce, bias_mode;
} shape;

static const shape shapes[] = {
    {"linear fwd 784->256", 64, 256, 784, 0, 1, 1, 0, 0, 2},
    {"linear dW 784->256", 256, 784, 64, 1, 0, 1, 0, 0, 0},
    {"linear dX 784->256", 64, 784, 256, 0, 0, 1, 0, 0, 0},
    {"linear fwd 256->128", 64, 128, 256, 0, 1, 1, 0, 0, 2},
    {"linear dW 256->128", 128, 256, 64, 1, 0, 1, 0, 0, 0},
    {"linear dX 256->128", 64, 256, 128, 0, 0, 1, 0, 0, 0},
    {"linear fwd 128->10", 64, 10, 128, 0, 1, 1, 0, 0, 2},
    {"linear dW 128->10", 10, 128, 64, 1, 0, 1, 0, 0, 0},
    {"linear dX 128->10", 64, 128, 10, 0, 0, 1, 0, 0, 0},
    {"conv1 fwd 1->16 3x3 28x28", 16, 784, 9, 0, 0, 64, 1, 0, 1},
    {"conv1 dW", 16, 9, 784, 0, 1, 64, 0, 1, 0},
    {"conv2 fwd 16->32 3x3 14x14", 32, 196, 144, 0, 0, 64, 1, 0, 1},
    {"conv2 dW", 32, 144, 196, 0, 1, 64, 0, 1, 0},
    {"conv2 dX (col)", 144, 196, 32, 1, 0, 64, 1, 0, 0},
    /* conv2 as Winograd F(2x2, 3x3): 16 position GEMMs over 64*49 tiles */
    {"conv2 Winograd fwd", 32, 3136, 16, 0, 0, 16, 0, 0, 0},
    {"conv2 Winograd dV", 16, 3136, 32, 1, 0, 16, 0, 0, 0},
    {"conv2 Winograd dU", 32, 16, 3136, 0, 1, 16, 0, 0, 0},
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_floats(size_t n)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return x;
}

/* Best GFLOP/s over a few timed rounds of about 0.1 s each. */
static double measure(cpu_pool *pool, const shape *s)
{
    int lda = s->trans_a ? s->M : s->K, ldb = s->trans_b ? s->K : s->N, ldc = s->N;
    size_t a_one = (size_t)s->M * s->K, b_one = (size_t)s->K * s->N, c_one = (size_t)s->M * s->N;
    size_t a_n = s->stride_a_zero ? a_one : a_one * s->batch;
    size_t c_n = s->reduce ? c_one : c_one * s->batch;
    float *A = random_floats(a_n), *B = random_floats(b_one * s->batch);
    float *C = random_floats(c_n), *bias = random_floats(s->bias_mode == 1 ? s->M : s->N);

    rt_params p = {0};
    int32_t iv[15] = {s->M, s->N, s->K, s->trans_a, s->trans_b, lda, ldb, ldc, s->batch,
                      s->stride_a_zero ? 0 : (int32_t)a_one, (int32_t)b_one,
                      s->reduce ? 0 : (int32_t)c_one, s->bias_mode, 0, s->reduce};
    memcpy(p.i, iv, sizeof iv);
    cpu_kernel_args a = {.pool = pool, .p = &p};
    a.args[0] = A, a.sizes[0] = a_n * sizeof(float);
    a.args[1] = B, a.sizes[1] = b_one * s->batch * sizeof(float);
    a.args[2] = C, a.sizes[2] = c_n * sizeof(float);
    a.args[3] = bias, a.sizes[3] = s->bias_mode ? sizeof(float) : 0;

    double flops = 2.0 * s->M * s->N * s->K * s->batch, best = 0;
    int reps = 1;
    while (reps < (1 << 20) && flops * reps < 2e9)
        reps *= 2;
    cpu_gemm(&a); /* warm up */
    for (int round = 0; round < 5; round++) {
        double t0 = now_seconds();
        for (int r = 0; r < reps; r++)
            cpu_gemm(&a);
        double rate = flops * reps / (now_seconds() - t0) * 1e-9;
        if (rate > best)
            best = rate;
    }
    free(A), free(B), free(C), free(bias);
    return best;
}

int main(int argc, char **argv)
{
    const char *isa = cpu_gemm_use_isa(argc > 1 ? argv[1] : NULL);
    cpu_pool *pools[2];
    if (cpu_pool_create(1, &pools[0]) != VKT_OK || cpu_pool_create(2, &pools[1]) != VKT_OK) {
        fprintf(stderr, "cannot create thread pools\n");
        return 1;
    }
    printf("kernel: %s\n%-28s %5s %5s %5s %3s %3s %5s %10s %10s\n", isa, "shape", "M", "N", "K",
           "tA", "tB", "batch", "1 thread", "2 threads");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        double g1 = measure(pools[0], s), g2 = measure(pools[1], s);
        printf("%-28s %5d %5d %5d %3d %3d %5d%s %10.1f %10.1f\n", s->what, s->M, s->N, s->K,
               s->trans_a, s->trans_b, s->batch, s->reduce ? "r" : " ", g1, g2);
        fflush(stdout);
    }
    cpu_pool_destroy(pools[0]);
    cpu_pool_destroy(pools[1]);
    return 0;
}
