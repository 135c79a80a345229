#include "vk_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/status.h>

#include "test_util.h"

/* Every argument starts 3 elements into its buffer: an offset no device
 * accepts as a descriptor offset. */
#define ARG_SKEW 3

static rt_backend *vk_be, *cpu_be;
static bool vk_tried;

static void destroy_backends(void)
{
    rt_backend_destroy(vk_be);
    rt_backend_destroy(cpu_be);
    vk_be = cpu_be = NULL;
}

rt_backend *vkh_vulkan(void)
{
    if (!vk_tried) {
        vk_tried = true;
        atexit(destroy_backends);
        if (rt_vulkan_backend_create(-1, true, &vk_be) != VKT_OK)
            fprintf(stderr, "no Vulkan device: %s\n", vkt_last_error());
    }
    return vk_be;
}

rt_backend *vkh_cpu(void)
{
    if (!cpu_be)
        rt_cpu_backend_create(2, &cpu_be);
    return cpu_be;
}

void vkh_assert_no_validation_messages(void)
{
    const char *first = NULL;
    if (vk_be && rt_vulkan_validation_messages(vk_be, &first) != 0)
        fail_msg("Vulkan validation layer: %s", first);
}

float *vkh_rand(size_t n, unsigned seed, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    tu_fill_uniform(x, n, seed, lo, hi);
    return x;
}

int *vkh_rand_int(size_t n, unsigned seed, int bound)
{
    int *x = malloc((n ? n : 1) * sizeof *x);
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (int)((s >> 8) % (unsigned)bound);
    }
    return x;
}

/* Run the launch on one backend; returns the final argument contents. */
/* The argument whose buffer argument a uses. */
static int owner(const int *shares, int a)
{
    return shares && shares[a] ? shares[a] - 1 : a;
}

static float **run_on(rt_backend *be, rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args,
                      const int *shares)
{
    rt_buffer *bufs[RT_MAX_ARGS] = {0};
    rt_launch l = {.kernel = k, .nargs = nargs, .params = *p};
    float **out = calloc(RT_MAX_ARGS, sizeof *out);
    for (int a = 0; a < nargs; a++) {
        if (owner(shares, a) != a) {
            l.args[a] = l.args[owner(shares, a)];
            continue;
        }
        if (!args[a].count)
            continue;
        size_t bytes = (args[a].count + ARG_SKEW) * 4;
        if (rt_buffer_create(be, bytes, &bufs[a]) != VKT_OK)
            fail_msg("buffer: %s", vkt_last_error());
        if (args[a].init)
            rt_upload(be, bufs[a], ARG_SKEW * 4, args[a].init, args[a].count * 4);
        l.args[a] = (rt_view){bufs[a], ARG_SKEW * 4, args[a].count * 4};
    }
    rt_program *prog = NULL;
    if (rt_program_create(be, &l, 1, &prog) != VKT_OK)
        fail_msg("%s: program: %s", be->ops->name, vkt_last_error());
    if (rt_program_run(be, prog) != VKT_OK)
        fail_msg("%s: run: %s", be->ops->name, vkt_last_error());
    for (int a = 0; a < nargs; a++) {
        int own = owner(shares, a);
        if (!args[own].count)
            continue;
        out[a] = malloc(args[own].count * 4);
        rt_download(be, bufs[own], ARG_SKEW * 4, out[a], args[own].count * 4);
    }
    rt_program_destroy(be, prog);
    for (int a = 0; a < nargs; a++)
        rt_buffer_destroy(be, bufs[a]);
    return out;
}

double vkh_compare(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, double rtol, double atol,
                   const char *label)
{
    return vkh_compare_shared(k, p, nargs, args, NULL, rtol, atol, label);
}

double vkh_compare_shared(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, const int *shares,
                          double rtol, double atol, const char *label)
{
    rt_backend *vk = vkh_vulkan();
    if (!vk)
        fail_msg("%s: no Vulkan device", label);
    float **want = run_on(vkh_cpu(), k, p, nargs, args, shares);
    float **got = run_on(vk, k, p, nargs, args, shares);
    double worst = 0;
    int reported = 0;
    for (int a = 0; a < nargs; a++) {
        for (size_t i = 0; i < args[owner(shares, a)].count; i++) {
            double ratio;
            if (args[a].is_int)
                ratio = memcmp(&want[a][i], &got[a][i], 4) == 0 ? 0 : INFINITY;
            else if (got[a][i] == want[a][i])
                ratio = 0;
            else
                ratio = fabs((double)got[a][i] - want[a][i]) / (atol + rtol * fabs((double)want[a][i]));
            if (isnan(want[a][i]) && isnan(got[a][i]))
                ratio = 0;
            if (!(ratio <= 1) && reported++ < 6)
                fprintf(stderr, "  %s: arg %d [%zu]: cpu %.8g vulkan %.8g\n", label, a, i, want[a][i], got[a][i]);
            if (!(ratio <= worst))
                worst = isnan(ratio) ? INFINITY : ratio;
        }
        free(want[a]);
        free(got[a]);
    }
    free(want);
    free(got);
    vkh_assert_no_validation_messages();
    return worst;
}
