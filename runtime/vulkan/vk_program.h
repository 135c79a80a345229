/* Vulkan programs: what vk_backend.c records and vk_profile.c replays
 * with timestamps. */
#ifndef VKT_VK_PROGRAM_H
#define VKT_VK_PROGRAM_H

#include "vk_backend.h"

/* One launch as prepared for recording: enough to record its commands
 * again into another command buffer. */
typedef struct vk_prepared {
    rt_kernel kernel;
    VkPipeline pipeline;
    VkDescriptorSet set;
    rt_params params; /* with the launch's argument-table row */
    uint32_t groups[3];
} vk_prepared;

struct rt_program {
    VkCommandBuffer cmd; /* what program_run submits: no timing */
    VkDescriptorPool pool;
    rt_buffer *argtab;
    VkFence fence;
    int count;
    vk_prepared *launches;
    /* Profiling, created on the first profile of this program only. */
    VkCommandBuffer profile_cmd;
    VkQueryPool queries; /* count + 1 timestamps */
    uint64_t *stamps;
};

/* Record the program's launches into `cmd`; with `queries`, a timestamp
 * before the first launch and after each one. */
vkt_status vk_record_commands(vk_backend *vb, const rt_program *prog, VkCommandBuffer cmd, VkQueryPool queries);
/* Submit `cmd` with the program's fence (one program in flight at a
 * time; honours the simulated device loss of rt_vulkan_inject_fault). */
vkt_status vk_submit_program(vk_backend *vb, rt_program *prog, VkCommandBuffer cmd);

/* vk_profile.c */
vkt_status vk_program_profile(rt_backend *be, rt_program *prog, uint64_t *launch_ns);
void vk_profile_release(vk_backend *vb, rt_program *prog);

#endif
