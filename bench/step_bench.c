/* Step time of the cnn preset (batch 64) through the public API, for
 * comparing two builds side by side on a busy machine: each of N steps
 * is timed alone, to completion (a metrics read waits for the device),
 * and the minimum and median are printed with the planned activation
 * memory. The minimum hardly moves with machine load; the median does.
 *
 * Standalone, not part of the meson build. From a checkout's root, with
 * its build in build/ (repeat in the other checkout to compare):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/step_bench.c \
 *      -Lbuild -lvktrain -Wl,-rpath,$PWD/build -o /tmp/step_bench
 *   /tmp/step_bench [DEVICE [THREADS [STEPS [POLICY]]]]
 * Defaults: cpu, 1 thread, 100 steps, policy full (any --policy text of
 * vktrain: bias, last:1, ...). Data is synthetic; three warm-up steps
 * (the first compiles the plan) are not timed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <vktrain/vktrain.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, vkt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *device = argc > 1 ? argv[1] : "cpu", *policy = argc > 4 ? argv[4] : "full";
    int threads = argc > 2 ? atoi(argv[2]) : 1, steps = argc > 3 ? atoi(argv[3]) : 100;
    if (steps < 1)
        return fprintf(stderr, "steps must be >= 1\n"), 1;
    vkt_context_options co = {device, threads};
    vkt_context *ctx;
    vkt_graph *g;
    if (vkt_context_create(&co, &ctx) != VKT_OK || vkt_graph_create(1, &g) != VKT_OK)
        return fail("setup");
    /* the CLI's cnn preset */
    int img[3] = {1, 28, 28};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img), y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c1 = {.out_channels = 16, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_conv2d_params c2 = {.out_channels = 32, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_pool2d_params mp = {.kernel_h = 2, .kernel_w = 2};
    vkt_tensor h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, x, &c1, "0")), &mp);
    h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, h, &c2, "3")), &mp);
    vkt_tensor loss = vkt_softmax_cross_entropy(g, vkt_linear(g, vkt_flatten(g, h), 10, true, "7"), y, 0.0f);
    vkt_trainable_set set;
    if (vkt_trainable_parse(policy, &set) != VKT_OK)
        return fail("policy");
    vkt_trainer_options to = {.trainable = &set, .batch_size = 64,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.01f, .momentum = 0.9f}};
    vkt_trainer *tr;
    if (vkt_trainer_create(ctx, g, loss, &to, &tr) != VKT_OK)
        return fail("trainer");
    static float xs[64 * 784];
    int32_t ys[64];
    for (int i = 0; i < 64 * 784; i++)
        xs[i] = (float)((unsigned)i * 2654435761u % 256u) / 255.0f;
    for (int i = 0; i < 64; i++)
        ys[i] = i % 10;
    const void *in[2] = {xs, ys};
    double *t = malloc((size_t)steps * sizeof *t);
    vkt_metrics m;
    for (int s = -3; s < steps; s++) {
        double t0 = now();
        if (vkt_trainer_step(tr, in, 64) != VKT_OK || vkt_trainer_read_train_metrics(tr, &m) != VKT_OK)
            return fail("step");
        if (s >= 0)
            t[s] = now() - t0;
    }
    qsort(t, (size_t)steps, sizeof *t, by_value);
    vkt_memory_report mem;
    if (vkt_trainer_memory(tr, &mem) != VKT_OK)
        return fail("memory");
    printf("%s %s, %d thread(s): step min %.2f ms, median %.2f ms; activations %.2f MB\n", device, policy, threads,
           t[0] * 1e3, t[steps / 2] * 1e3, (double)mem.activations_bytes / 1e6);
    free(t);
    vkt_trainer_destroy(tr);
    vkt_graph_destroy(g);
    vkt_context_destroy(ctx);
    return 0;
}
