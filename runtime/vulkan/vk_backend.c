/* The Vulkan backend's function table: buffers, transfers, and programs
 * recorded once into a command buffer (one descriptor set and one
 * dispatch per launch, a compute barrier between dispatches) that each
 * run submits with a single vkQueueSubmit and no wait. The host waits
 * only when it touches memory the device may still be using (uploads,
 * downloads), and each such wait is counted in the backend stats. */
#include <stdlib.h>
#include <string.h>

#include "../rt_error.h"
#include "vk_program.h"

static vk_backend *vkb(rt_backend *be)
{
    return (vk_backend *)be;
}

/* ---- buffers and transfers ---- */

static vkt_status vk_buffer_create(rt_backend *be, size_t bytes, rt_buffer **out)
{
    vkt_status st = vk_buffer_alloc(vkb(be), bytes, false, out);
    if (st == VKT_OK) {
        be->stats.buffer_bytes += bytes;
        if (be->stats.buffer_bytes > be->stats.peak_buffer_bytes)
            be->stats.peak_buffer_bytes = be->stats.buffer_bytes;
    }
    return st;
}

static void vk_buffer_destroy(rt_backend *be, rt_buffer *b)
{
    vk_backend *vb = vkb(be);
    vk_wait_idle(vb);
    be->stats.buffer_bytes -= b->size;
    vk_buffer_free(vb, b);
}

static void *vk_buffer_host_ptr(rt_backend *be, rt_buffer *b)
{
    (void)be;
    return b->mapped;
}

static vkt_status check_range(const rt_buffer *b, size_t off, size_t n)
{
    if (off > b->size || n > b->size - off)
        return rt_error(VKT_ERR_INVALID_ARG, "range [%zu, +%zu) outside a %zu-byte buffer", off, n, b->size);
    return VKT_OK;
}

/* Copy between a device buffer and the staging buffer, synchronously. */
static vkt_status staged_copy(vk_backend *vb, rt_buffer *src, size_t src_off, rt_buffer *dst, size_t dst_off,
                              size_t n)
{
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = vb->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkCommandBuffer cmd;
    vkt_status st = vk_check(vkAllocateCommandBuffers(vb->device, &ai, &cmd), "vkAllocateCommandBuffers");
    if (st != VKT_OK)
        return st;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vkBeginCommandBuffer(cmd, &bi);
    VkBufferCopy region = {src_off, dst_off, n};
    vkCmdCopyBuffer(cmd, src->buffer, dst->buffer, 1, &region);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0,
                         NULL);
    vkEndCommandBuffer(cmd);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    st = vk_check(vkQueueSubmit(vb->queue, 1, &si, VK_NULL_HANDLE), "vkQueueSubmit");
    if (st == VKT_OK) {
        vb->base.stats.host_waits++;
        st = vk_check(vkQueueWaitIdle(vb->queue), "vkQueueWaitIdle");
    }
    vkFreeCommandBuffers(vb->device, vb->command_pool, 1, &cmd);
    return st;
}

void rt_vulkan_inject_fault(rt_backend *be, int submits)
{
    vkb(be)->fault_countdown = submits;
}

static vkt_status vk_upload(rt_backend *be, rt_buffer *dst, size_t off, const void *src, size_t n)
{
    vk_backend *vb = vkb(be);
    vkt_status st = check_range(dst, off, n);
    if (st == VKT_OK)
        st = vk_wait_idle(vb); /* the device may still read this memory */
    if (st != VKT_OK || n == 0)
        return st;
    if (dst->mapped) {
        memcpy((char *)dst->mapped + off, src, n);
        return VKT_OK;
    }
    for (size_t done = 0; done < n && st == VKT_OK; done += VK_STAGING_BYTES) {
        size_t chunk = n - done < VK_STAGING_BYTES ? n - done : VK_STAGING_BYTES;
        memcpy(vb->staging->mapped, (const char *)src + done, chunk);
        st = staged_copy(vb, vb->staging, 0, dst, off + done, chunk);
    }
    return st;
}

static vkt_status vk_download(rt_backend *be, rt_buffer *src, size_t off, void *dst, size_t n)
{
    vk_backend *vb = vkb(be);
    vkt_status st = check_range(src, off, n);
    if (st == VKT_OK)
        st = vk_wait_idle(vb);
    if (st != VKT_OK || n == 0)
        return st;
    if (src->mapped) {
        memcpy(dst, (const char *)src->mapped + off, n);
        return VKT_OK;
    }
    for (size_t done = 0; done < n && st == VKT_OK; done += VK_STAGING_BYTES) {
        size_t chunk = n - done < VK_STAGING_BYTES ? n - done : VK_STAGING_BYTES;
        st = staged_copy(vb, src, off + done, vb->staging, 0, chunk);
        if (st == VKT_OK)
            memcpy((char *)dst + done, vb->staging->mapped, chunk);
    }
    return st;
}

/* ---- programs ---- */

static void vk_program_destroy(rt_backend *be, rt_program *prog)
{
    vk_backend *vb = vkb(be);
    if (!prog)
        return;
    if (prog->fence) {
        if (vb->pending == prog->fence)
            vk_wait_idle(vb);
        vkDestroyFence(vb->device, prog->fence, NULL);
    }
    vk_profile_release(vb, prog);
    if (prog->cmd)
        vkFreeCommandBuffers(vb->device, vb->command_pool, 1, &prog->cmd);
    if (prog->pool)
        vkDestroyDescriptorPool(vb->device, prog->pool, NULL);
    vk_buffer_free(vb, prog->argtab);
    free(prog->launches);
    free(prog);
}

/* Descriptor offsets must be multiples of minStorageBufferOffsetAlignment;
 * a view starting elsewhere is bound from the aligned offset below it and
 * the shader adds the remainder (in 4-byte elements) from the table. */
static void bind_view(const vk_backend *vb, const rt_view *v, VkDescriptorBufferInfo *info, uint32_t *elem_offset)
{
    if (!v->size) {
        *info = (VkDescriptorBufferInfo){vb->dummy->buffer, 0, VK_WHOLE_SIZE};
        *elem_offset = 0;
        return;
    }
    VkDeviceSize align = vb->props.limits.minStorageBufferOffsetAlignment;
    if (align < 4)
        align = 4;
    VkDeviceSize base = v->offset / align * align;
    *info = (VkDescriptorBufferInfo){v->buf->buffer, base, v->offset + v->size - base};
    *elem_offset = (uint32_t)((v->offset - base) / 4);
}

/* A reduce-mode GEMM sums batch x K products in one invocation. Some
 * drivers bound the loop iterations of an invocation (lavapipe stops
 * at 65535 and silently drops the rest), so long sums are split into
 * chained dispatches of at most REDUCE_SLICES K-slices each; the order of
 * the additions, and so the result, is unchanged. Returns the batch
 * items per dispatch. */
#define REDUCE_SLICES 256
#define GEMM_TK 32

static int reduction_chunk(const rt_params *p)
{
    int batch = p->i[8];
    if (!p->i[14] || batch <= 1)
        return batch > 0 ? batch : 1;
    long slices = (p->i[2] + GEMM_TK - 1) / GEMM_TK;
    long per = slices > 0 ? REDUCE_SLICES / slices : batch;
    return per < 1 ? 1 : (per > batch ? batch : (int)per);
}

/* The depthwise weight gradient's threads each sum images x OH*OW /
 * local items in one loop: under the same bound, a long sum is split
 * into chained dispatches over images, each of at most about
 * DWCONV_ITERS iterations (an image alone may exceed it). Returns the
 * images per dispatch. */
#define DWCONV_ITERS 32768

static int dwconv_images_per_dispatch(const rt_params *p, uint32_t local)
{
    int64_t ohw = (int64_t)p->i[12] * p->i[13], batch = p->i[0];
    int64_t per = ohw > 0 ? (int64_t)DWCONV_ITERS * local / ohw : batch;
    return per < 1 ? 1 : per > batch ? (int)(batch > 0 ? batch : 1) : (int)per;
}

/* Descriptor sets, argument table rows and dispatch sizes of every
 * launch: done once, shared by the run and the profiling command buffer. */
static vkt_status prepare(vk_backend *vb, rt_program *prog, const rt_launch *launches, int count)
{
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, (uint32_t)count * VK_BINDINGS};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = (uint32_t)count, .poolSizeCount = 1, .pPoolSizes = &size};
    vkt_status st = vk_check(vkCreateDescriptorPool(vb->device, &dpi, NULL, &prog->pool), "vkCreateDescriptorPool");
    if (st == VKT_OK)
        st = vk_buffer_alloc(vb, (size_t)count * 9 * 4, true, &prog->argtab);
    if (st != VKT_OK)
        return st;
    prog->launches = calloc((size_t)count, sizeof *prog->launches);
    if (!prog->launches)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory recording a program");
    prog->count = count;
    uint32_t *table = prog->argtab->mapped;
    for (int i = 0; i < count && st == VKT_OK; i++) {
        const rt_launch *l = &launches[i];
        vk_prepared *pr = &prog->launches[i];
        st = vk_pipeline_get(vb, l->kernel, &pr->pipeline);
        if (st != VKT_OK)
            break;
        VkDescriptorSetAllocateInfo sai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                           .descriptorPool = prog->pool, .descriptorSetCount = 1,
                                           .pSetLayouts = &vb->set_layout};
        st = vk_check(vkAllocateDescriptorSets(vb->device, &sai, &pr->set), "vkAllocateDescriptorSets");
        if (st != VKT_OK)
            break;
        VkDescriptorBufferInfo infos[VK_BINDINGS];
        VkWriteDescriptorSet writes[VK_BINDINGS];
        uint32_t present = 0;
        for (int a = 0; a < RT_MAX_ARGS; a++) {
            rt_view v = a < l->nargs ? l->args[a] : (rt_view){NULL, 0, 0};
            bind_view(vb, &v, &infos[a], &table[i * 9 + a]);
            if (v.size)
                present |= 1u << a;
        }
        table[i * 9 + 8] = present;
        infos[VK_ARG_TABLE_BINDING] = (VkDescriptorBufferInfo){prog->argtab->buffer, 0, VK_WHOLE_SIZE};
        for (uint32_t b = 0; b < VK_BINDINGS; b++)
            writes[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = pr->set,
                                               .dstBinding = b, .descriptorCount = 1,
                                               .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                               .pBufferInfo = &infos[b]};
        vkUpdateDescriptorSets(vb->device, VK_BINDINGS, writes, 0, NULL);

        pr->kernel = l->kernel;
        pr->params = l->params;
        pr->params.i[23] = i; /* the launch's row in the argument table */
        pr->groups[0] = pr->groups[1] = pr->groups[2] = 1;
        vk_kernel_get(l->kernel)->grid(&pr->params, vb->local_size[l->kernel], pr->groups);
        for (int d = 0; d < 3; d++)
            if (pr->groups[d] > vb->props.limits.maxComputeWorkGroupCount[d]) {
                st = rt_error(VKT_ERR_UNSUPPORTED, "vulkan: %s needs %u workgroups in dimension %d, the device allows %u",
                              rt_kernel_name(l->kernel), pr->groups[d], d, vb->props.limits.maxComputeWorkGroupCount[d]);
                break;
            }
    }
    return st;
}

/* The dispatches of one launch, each followed by a compute barrier. */
static void record_launch(vk_backend *vb, VkCommandBuffer cmd, const vk_prepared *pr, const VkMemoryBarrier *between)
{
    const rt_params *params = &pr->params;
    const uint32_t *groups = pr->groups;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pr->pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vb->pipeline_layout, 0, 1, &pr->set, 0, NULL);
    bool split = pr->kernel == RT_K_GEMM && params->i[14];
    int total = split && params->i[8] > 1 ? params->i[8] : 1;
    int chunk = split ? reduction_chunk(params) : 1;
    if (pr->kernel == RT_K_DWCONV_BWD_WEIGHT) {
        total = params->i[0] > 1 ? params->i[0] : 1;
        chunk = dwconv_images_per_dispatch(params, vb->local_size[pr->kernel]);
    }
    for (int b0 = 0; b0 < total; b0 += chunk) {
        rt_params part = *params;
        if (pr->kernel == RT_K_DWCONV_BWD_WEIGHT) { /* images [b0, b1), continuing the sum in dw */
            part.i[15] = b0;
            part.i[0] = b0 + chunk < params->i[0] ? b0 + chunk : params->i[0];
            part.i[14] = b0 == 0 ? params->i[14] : 1;
        } else if (chunk < total) { /* one link of a split reduction */
            int b1 = b0 + chunk < total ? b0 + chunk : total;
            part.i[15] = b0;
            part.i[8] = b1;
            part.i[13] = b0 == 0 ? params->i[13] : 1;   /* continue the sum in C */
            part.i[12] = b1 == total ? params->i[12] : 0; /* bias once, at the end */
        }
        vkCmdPushConstants(cmd, vb->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof part, &part);
        if (groups[0] && groups[1] && groups[2])
            vkCmdDispatch(cmd, groups[0], groups[1], groups[2]);
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                             between, 0, NULL, 0, NULL);
    }
}

vkt_status vk_record_commands(vk_backend *vb, const rt_program *prog, VkCommandBuffer cmd, VkQueryPool queries)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkt_status st = vk_check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    if (st != VKT_OK)
        return st;
    if (queries)
        vkCmdResetQueryPool(cmd, queries, 0, (uint32_t)prog->count + 1);
    VkMemoryBarrier between = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    /* Host writes (uploads) before the run become visible to shaders. */
    VkMemoryBarrier from_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_HOST_WRITE_BIT,
                                 .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &from_host, 0,
                         NULL, 0, NULL);
    if (queries)
        vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries, 0);
    for (int i = 0; i < prog->count; i++) {
        record_launch(vb, cmd, &prog->launches[i], &between);
        if (queries) /* written once every earlier command has finished */
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, (uint32_t)i + 1);
    }
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &to_host, 0, NULL, 0,
                         NULL);
    return vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
}

static vkt_status record(vk_backend *vb, rt_program *prog, const rt_launch *launches, int count)
{
    vkt_status st = prepare(vb, prog, launches, count);
    if (st != VKT_OK)
        return st;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = vb->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    st = vk_check(vkAllocateCommandBuffers(vb->device, &ai, &prog->cmd), "vkAllocateCommandBuffers");
    return st == VKT_OK ? vk_record_commands(vb, prog, prog->cmd, VK_NULL_HANDLE) : st;
}

static vkt_status vk_program_create(rt_backend *be, const rt_launch *launches, int count, rt_program **out)
{
    vk_backend *vb = vkb(be);
    *out = NULL;
    for (int i = 0; i < count; i++) {
        const rt_launch *l = &launches[i];
        vkt_status st = rt_launch_validate(l);
        for (int a = 0; st == VKT_OK && a < l->nargs; a++) {
            if (!l->args[a].size)
                continue;
            st = check_range(l->args[a].buf, l->args[a].offset, l->args[a].size);
            /* One binding cannot exceed the device's storage buffer range
             * (128 MiB on many phones), plus the alignment slack. */
            if (st == VKT_OK && l->args[a].size + 256 > vb->props.limits.maxStorageBufferRange)
                st = rt_error(VKT_ERR_UNSUPPORTED,
                              "vulkan: %s argument %d is %zu bytes, over the device's %u-byte storage buffer range",
                              rt_kernel_name(l->kernel), a, l->args[a].size, vb->props.limits.maxStorageBufferRange);
        }
        if (st != VKT_OK)
            return st;
    }
    rt_program *prog = calloc(1, sizeof *prog);
    if (!prog)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory recording a program");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vkt_status st = vk_check(vkCreateFence(vb->device, &fci, NULL, &prog->fence), "vkCreateFence");
    if (st == VKT_OK && count > 0)
        st = record(vb, prog, launches, count);
    if (st != VKT_OK) {
        vk_program_destroy(be, prog);
        return st;
    }
    *out = prog;
    return VKT_OK;
}

vkt_status vk_submit_program(vk_backend *vb, rt_program *prog, VkCommandBuffer cmd)
{
    vkt_status st = vk_wait_idle(vb); /* one program in flight at a time */
    if (st == VKT_OK)
        st = vk_check(vkResetFences(vb->device, 1, &prog->fence), "vkResetFences");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    if (st == VKT_OK && vb->fault_countdown > 0 && --vb->fault_countdown == 0)
        vb->lost = true; /* simulated: the submit below never happens */
    if (st == VKT_OK && vb->lost)
        st = vk_check(VK_ERROR_DEVICE_LOST, "vkQueueSubmit");
    if (st == VKT_OK) {
        VkResult r = vkQueueSubmit(vb->queue, 1, &si, prog->fence);
        vb->lost = r == VK_ERROR_DEVICE_LOST;
        st = vk_check(r, "vkQueueSubmit");
    }
    if (st == VKT_OK) {
        vb->pending = prog->fence;
        vb->base.stats.submits++;
        vb->base.stats.programs_run++;
    }
    return st;
}

static vkt_status vk_program_run(rt_backend *be, rt_program *prog)
{
    if (!prog->cmd)
        return VKT_OK;
    return vk_submit_program(vkb(be), prog, prog->cmd);
}

static vkt_status vk_set_threads(rt_backend *be, int threads)
{
    be->threads = threads; /* host threads do not matter to the device */
    return VKT_OK;
}

static void vk_destroy(rt_backend *be)
{
    vk_backend *vb = vkb(be);
    if (vb->device) {
        vk_wait_idle(vb);
        vk_buffer_free(vb, vb->staging);
        vk_buffer_free(vb, vb->dummy);
        vk_pipelines_destroy(vb);
    }
    vk_device_close(vb);
    free(vb);
}

static const rt_backend_ops vk_ops = {
    .name = "vulkan",
    .destroy = vk_destroy,
    .buffer_create = vk_buffer_create,
    .buffer_destroy = vk_buffer_destroy,
    .buffer_host_ptr = vk_buffer_host_ptr,
    .upload = vk_upload,
    .download = vk_download,
    .program_create = vk_program_create,
    .program_destroy = vk_program_destroy,
    .program_run = vk_program_run,
    .program_profile = vk_program_profile,
    .set_threads = vk_set_threads,
};

vkt_status rt_vulkan_backend_create(int device_index, bool validation, rt_backend **out)
{
    *out = NULL;
    vk_backend *vb = calloc(1, sizeof *vb);
    if (!vb)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating the Vulkan backend");
    vb->base.ops = &vk_ops;
    vb->base.threads = 1;
    vkt_status st = vk_device_open(vb, device_index, validation);
    if (st == VKT_OK)
        st = vk_pipelines_init(vb);
    if (st == VKT_OK)
        st = vk_buffer_alloc(vb, 64, false, &vb->dummy);
    if (st == VKT_OK && !vb->unified_memory)
        st = vk_buffer_alloc(vb, VK_STAGING_BYTES, true, &vb->staging);
    if (st != VKT_OK) {
        vk_destroy(&vb->base);
        return st;
    }
    *out = &vb->base;
    return VKT_OK;
}

const char *rt_vulkan_device_name(const rt_backend *be)
{
    return ((const vk_backend *)be)->props.deviceName;
}

uint32_t rt_vulkan_validation_messages(const rt_backend *be, const char **first)
{
    const vk_backend *vb = (const vk_backend *)be;
    if (first)
        *first = vb->first_validation_message;
    return vb->validation_messages;
}

bool rt_vulkan_pipeline_cache_loaded(const rt_backend *be)
{
    return ((const vk_backend *)be)->pipeline_cache_loaded;
}

bool rt_vulkan_uses_storage16(const rt_backend *be)
{
    return (((const vk_backend *)be)->features & VK_FEATURE_STORAGE16) != 0;
}

bool rt_vulkan_uses_subgroups(const rt_backend *be)
{
    return (((const vk_backend *)be)->features & VK_FEATURE_SUBGROUP) != 0;
}

vkt_status rt_vulkan_set_local_size(rt_backend *be, rt_kernel k, uint32_t local)
{
    vk_backend *vb = vkb(be);
    if ((unsigned)k >= RT_K_COUNT || vb->pipelines[k])
        return rt_error(VKT_ERR_INVALID_ARG, "vulkan: workgroup size of kernel %d cannot change now", (int)k);
    vb->local_override[k] = local;
    return VKT_OK;
}
