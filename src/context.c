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

    bool want_cpu = strcmp(device, "cpu") == 0 || strcmp(device, "auto") == 0;
    if (!want_cpu) {
        if (strncmp(device, "vulkan", 6) == 0)
            return rt_error(VKT_ERR_UNSUPPORTED, "device '%s': this build has no Vulkan backend yet", device);
        return rt_error(VKT_ERR_INVALID_ARG, "unknown device '%s' (expected auto, cpu or vulkan[:N])", device);
    }
    vkt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a context");
    vkt_status st = rt_cpu_backend_create(threads, &ctx->backend);
    if (st != VKT_OK) {
        free(ctx);
        return st;
    }
    snprintf(ctx->device_name, sizeof ctx->device_name, "cpu");
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
