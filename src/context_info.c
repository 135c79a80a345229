/* vkt_context_get_info: what the context's backend runs on. */
#include <stdio.h>
#include <string.h>

#include "context.h"
#include "runtime/rt_error.h"

vkt_status vkt_context_get_info(const vkt_context *ctx, vkt_context_info *out)
{
    if (!ctx || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_context_get_info: context and out are required");
    memset(out, 0, sizeof *out);
    const rt_backend *be = ctx->backend;
    snprintf(out->backend, sizeof out->backend, "%s", be->ops->name);
    out->threads = be->threads;
    out->launch_timing = be->ops->program_profile != NULL;
    if (strcmp(be->ops->name, "cpu") == 0) {
        snprintf(out->cpu_isa, sizeof out->cpu_isa, "%s", rt_cpu_isa());
        return VKT_OK;
    }
#ifdef VKT_HAVE_VULKAN
    out->has_device = true;
    rt_vulkan_describe(be, &out->device);
    out->fp16_storage = rt_vulkan_uses_storage16(be);
    out->launch_timing = out->launch_timing && rt_vulkan_can_time(be);
#endif
    return VKT_OK;
}
