/* Per-launch timing on Vulkan: a second command buffer per program, the
 * same dispatches with a timestamp before the first launch and after
 * every launch, recorded on the first profile of that program. The run
 * command buffer is untouched, so ordinary steps pay nothing for this. */
#include <stdlib.h>

#include "../rt_error.h"
#include "vk_program.h"

void vk_profile_release(vk_backend *vb, rt_program *prog)
{
    if (prog->profile_cmd)
        vkFreeCommandBuffers(vb->device, vb->command_pool, 1, &prog->profile_cmd);
    if (prog->queries)
        vkDestroyQueryPool(vb->device, prog->queries, NULL);
    free(prog->stamps);
    prog->profile_cmd = VK_NULL_HANDLE;
    prog->queries = VK_NULL_HANDLE;
    prog->stamps = NULL;
}

static vkt_status prepare_profile(vk_backend *vb, rt_program *prog)
{
    uint32_t n = (uint32_t)prog->count + 1;
    prog->stamps = malloc(n * sizeof *prog->stamps);
    if (!prog->stamps)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory for launch timestamps");
    VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = n};
    vkt_status st = vk_check(vkCreateQueryPool(vb->device, &qi, NULL, &prog->queries), "vkCreateQueryPool");
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = vb->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    if (st == VKT_OK)
        st = vk_check(vkAllocateCommandBuffers(vb->device, &ai, &prog->profile_cmd), "vkAllocateCommandBuffers");
    if (st == VKT_OK)
        st = vk_record_commands(vb, prog, prog->profile_cmd, prog->queries);
    if (st != VKT_OK)
        vk_profile_release(vb, prog); /* the next profile tries again */
    return st;
}

/* Ticks between two timestamps of `bits` valid bits (they may wrap). */
static uint64_t ticks_between(uint64_t a, uint64_t b, uint32_t bits)
{
    uint64_t mask = bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
    return (b - a) & mask;
}

bool rt_vulkan_can_time(const rt_backend *be)
{
    return ((const vk_backend *)be)->timestamp_bits > 0;
}

vkt_status vk_program_profile(rt_backend *be, rt_program *prog, uint64_t *launch_ns)
{
    vk_backend *vb = (vk_backend *)be;
    if (!prog->cmd)
        return VKT_OK;
    if (vb->timestamp_bits == 0)
        return rt_error(VKT_ERR_UNSUPPORTED,
                        "vulkan: %s cannot time launches: its compute queue family writes no timestamps "
                        "(timestampValidBits 0, timestampComputeAndGraphics %s)",
                        vb->props.deviceName, vb->props.limits.timestampComputeAndGraphics ? "true" : "false");
    vkt_status st = prog->profile_cmd ? VKT_OK : prepare_profile(vb, prog);
    if (st == VKT_OK)
        st = vk_submit_program(vb, prog, prog->profile_cmd);
    if (st == VKT_OK)
        st = vk_wait_idle(vb);
    uint32_t n = (uint32_t)prog->count + 1;
    if (st == VKT_OK)
        st = vk_check(vkGetQueryPoolResults(vb->device, prog->queries, 0, n, n * sizeof *prog->stamps, prog->stamps,
                                            sizeof *prog->stamps, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                      "vkGetQueryPoolResults");
    if (st != VKT_OK)
        return st;
    double period = vb->props.limits.timestampPeriod; /* ns per tick */
    for (int i = 0; i < prog->count; i++)
        launch_ns[i] = (uint64_t)((double)ticks_between(prog->stamps[i], prog->stamps[i + 1], vb->timestamp_bits) *
                                      period + 0.5);
    return VKT_OK;
}
