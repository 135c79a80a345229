/* Buffers and host transfers. Device-local memory is preferred; when a
 * device-local type is also host-visible (phones, integrated GPUs,
 * lavapipe) buffers are mapped and uploads skip the staging copy. */
#include <stdlib.h>
#include <string.h>

#include "../rt_error.h"
#include "vk_backend.h"

static int find_memory_type(const vk_backend *vb, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < vb->memory_props.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (vb->memory_props.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

vkt_status vk_buffer_alloc(vk_backend *vb, size_t bytes, bool host_visible, rt_buffer **out)
{
    *out = NULL;
    if (vb->allocations >= vb->props.limits.maxMemoryAllocationCount)
        return rt_error(VKT_ERR_NO_MEMORY, "vulkan: the device allows %u memory allocations, all in use",
                        vb->props.limits.maxMemoryAllocationCount);
    rt_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory");
    b->size = bytes;
    size_t rounded = bytes < 16 ? 16 : (bytes + 15) / 16 * 16;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = rounded,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    vkt_status st = vk_check(vkCreateBuffer(vb->device, &bci, NULL, &b->buffer), "vkCreateBuffer");
    if (st != VKT_OK) {
        free(b);
        return st;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vb->device, b->buffer, &req);
    const VkMemoryPropertyFlags mapped_flags = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = -1;
    bool map = false;
    if (host_visible || vb->unified_memory) {
        type = find_memory_type(vb, req.memoryTypeBits, mapped_flags | (host_visible ? 0 : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT));
        map = type >= 0;
    }
    if (type < 0)
        type = find_memory_type(vb, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0)
        type = find_memory_type(vb, req.memoryTypeBits, 0);
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                .memoryTypeIndex = (uint32_t)type};
    st = vk_check(vkAllocateMemory(vb->device, &mai, NULL, &b->memory), "vkAllocateMemory");
    if (st == VKT_OK)
        vb->allocations++;
    if (st == VKT_OK)
        st = vk_check(vkBindBufferMemory(vb->device, b->buffer, b->memory, 0), "vkBindBufferMemory");
    if (st == VKT_OK && map)
        st = vk_check(vkMapMemory(vb->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped), "vkMapMemory");
    if (st == VKT_OK && b->mapped)
        memset(b->mapped, 0, rounded);
    if (st != VKT_OK) {
        vk_buffer_free(vb, b);
        return st;
    }
    *out = b;
    return VKT_OK;
}

void vk_buffer_free(vk_backend *vb, rt_buffer *b)
{
    if (!b)
        return;
    if (b->mapped)
        vkUnmapMemory(vb->device, b->memory);
    if (b->buffer)
        vkDestroyBuffer(vb->device, b->buffer, NULL);
    if (b->memory) {
        vkFreeMemory(vb->device, b->memory, NULL);
        vb->allocations--;
    }
    free(b);
}

vkt_status vk_wait_idle(vk_backend *vb)
{
    if (vb->lost)
        return vk_check(VK_ERROR_DEVICE_LOST, "using the device");
    if (!vb->pending)
        return VKT_OK;
    VkResult r = vkGetFenceStatus(vb->device, vb->pending);
    if (r == VK_NOT_READY) {
        vb->base.stats.host_waits++;
        r = vkWaitForFences(vb->device, 1, &vb->pending, VK_TRUE, UINT64_MAX);
    }
    vb->pending = VK_NULL_HANDLE;
    if (r == VK_ERROR_DEVICE_LOST)
        vb->lost = true;
    return vk_check(r, "waiting for the device");
}
