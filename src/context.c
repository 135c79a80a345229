/* Context: picks and owns the execution backend. */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt_error.h"

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 64 ? 64 : (int)n);
}

#ifdef VKT_HAVE_VULKAN
static bool validation_requested(void)
{
    const char *v = getenv("VKT_VULKAN_VALIDATION");
    return v && *v && strcmp(v, "0") != 0;
}
#endif

/* Parse "vulkan" or "vulkan:N"; returns the index (-1: best) or -2. */
static int vulkan_index(const char *device)
{
    if (strcmp(device, "vulkan") == 0)
        return -1;
    if (strncmp(device, "vulkan:", 7) != 0)
        return -2;
    char *end;
    long n = strtol(device + 7, &end, 10);
    return (end == device + 7 || *end || n < 0 || n > 64) ? -2 : (int)n;
}

static vkt_status open_cpu(vkt_context *ctx, int threads)
{
    vkt_status st = rt_cpu_backend_create(threads, &ctx->backend);
    if (st == VKT_OK)
        snprintf(ctx->device_name, sizeof ctx->device_name, "cpu (%d threads)", threads);
    return st;
}

static vkt_status open_backend(vkt_context *ctx, const char *device, int threads)
{
    if (strcmp(device, "cpu") == 0)
        return open_cpu(ctx, threads);
    bool is_auto = strcmp(device, "auto") == 0;
    int index = is_auto ? -1 : vulkan_index(device);
    if (index == -2)
        return rt_error(VKT_ERR_INVALID_ARG, "unknown device '%s' (expected auto, cpu, vulkan or vulkan:N)", device);
#ifdef VKT_HAVE_VULKAN
    /* auto: look before opening, so a machine with only a CPU-type Vulkan
     * device does not pay for initialising it. */
    vkt_status st = is_auto && !rt_vulkan_has_gpu()
                        ? VKT_ERR_UNSUPPORTED
                        : rt_vulkan_backend_create(index, validation_requested(), &ctx->backend);
    if (st == VKT_OK && is_auto && !rt_vulkan_is_gpu(ctx->backend)) {
        /* A CPU-type Vulkan device is slower than the native CPU backend. */
        rt_backend_destroy(ctx->backend);
        ctx->backend = NULL;
        st = VKT_ERR_UNSUPPORTED;
    }
    if (st == VKT_OK) {
        snprintf(ctx->device_name, sizeof ctx->device_name, "vulkan: %s", rt_vulkan_device_name(ctx->backend));
        return VKT_OK;
    }
    if (!is_auto)
        return st;
#else
    if (!is_auto)
        return rt_error(VKT_ERR_UNSUPPORTED, "device '%s': this build has no Vulkan backend", device);
#endif
    rt_error_clear();
    return open_cpu(ctx, threads);
}

vkt_status vkt_list_devices(vkt_device_info *out, int max, int *count)
{
    if (!count || max < 0 || (max > 0 && !out))
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_list_devices: bad arguments");
    *count = 0;
#ifdef VKT_HAVE_VULKAN
    return rt_vulkan_list_devices(out, max, count);
#else
    return rt_error(VKT_ERR_UNSUPPORTED, "this build has no Vulkan backend");
#endif
}

vkt_status vkt_context_create(const vkt_context_options *options, vkt_context **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_context_create: out is NULL");
    *out = NULL;
    const char *device = options && options->device ? options->device : "auto";
    int threads = options ? options->threads : 0;
    if (threads < 0 || threads > 256)
        return rt_error(VKT_ERR_INVALID_ARG, "thread count %d out of range 0..256", threads);
    if (threads == 0)
        threads = online_cores();

    vkt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a context");
    vkt_status st = open_backend(ctx, device, threads);
    if (st != VKT_OK) {
        free(ctx);
        return st;
    }
    *out = ctx;
    return VKT_OK;
}


void vkt_context_destroy(vkt_context *ctx)
{
    if (!ctx)
        return;
    rt_backend_destroy(ctx->backend);
    free(ctx);
}

const char *vkt_context_device_name(const vkt_context *ctx)
{
    return ctx ? ctx->device_name : "";
}

int vkt_context_threads(const vkt_context *ctx)
{
    return ctx ? ctx->backend->threads : 0;
}
