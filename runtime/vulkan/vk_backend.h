/* Vulkan backend internals. Loaded through volk: no link-time dependency
 * on libvulkan, so the library still starts (and falls back to the CPU)
 * on a system without a Vulkan loader. */
#ifndef VKT_VK_BACKEND_H
#define VKT_VK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <volk.h>

#include "../backend.h"

/* Bindings 0..7 are a launch's arguments, 8 the argument table. */
#define VK_ARG_TABLE_BINDING 8
#define VK_BINDINGS 9
#define VK_STAGING_BYTES ((size_t)8 << 20)

/* One compiled shader; NULL code: not written yet. */
typedef struct vk_spirv {
    const uint32_t *code;
    size_t bytes;
} vk_spirv;

typedef struct vk_kernel_info {
    vk_spirv portable; /* runs on every Vulkan 1.1 device */
    /* Built for devices using every feature in variant_needs (VK_FEATURE_*);
     * NULL code: the kernel has no variant. */
    vk_spirv variant;
    uint32_t variant_needs;
    uint32_t local_size;
    /* Workgroups to dispatch for a launch's params (x, y, z). */
    void (*grid)(const rt_params *p, uint32_t local_size, uint32_t groups[3]);
} vk_kernel_info;

/* Per-kernel shaders and dispatch geometry (vk_kernels.c). */
const vk_kernel_info *vk_kernel_get(rt_kernel k);
/* The shader to run on a device using `features`: the variant when
 * they cover what it needs, else the portable one. */
const vk_spirv *vk_kernel_spirv(const vk_kernel_info *info, uint32_t features);

struct rt_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    size_t size;
    void *mapped; /* host-visible memory stays mapped */
};

typedef struct vk_backend {
    rt_backend base;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger; /* of this instance */
    VkPhysicalDevice physical;
    int device_index;        /* in vkEnumeratePhysicalDevices order */
    uint32_t timestamp_bits; /* timestampValidBits of the queue family (0: no timestamps) */
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory_props;
    bool unified_memory; /* a device-local type is also host-visible */
    uint32_t features;   /* VK_FEATURE_* in use (detected, minus quirks) */
    const char *quirk;   /* why a feature was turned off, or NULL */

    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    VkPipelineCache pipeline_cache;
    VkPipeline pipelines[RT_K_COUNT];
    uint32_t local_size[RT_K_COUNT]; /* as clamped to the device's limits */
    uint32_t local_override[RT_K_COUNT]; /* test hook: workgroup size to use instead (0: none) */
    int pipelines_created;
    bool pipeline_cache_loaded; /* a valid cache file was found */
    VkCommandPool command_pool;

    rt_buffer *staging; /* for devices without host-visible device memory */
    rt_buffer *dummy;   /* bound for absent arguments */
    VkFence pending;    /* fence of the last submitted work, or NULL */
    uint32_t allocations; /* live VkDeviceMemory objects (one per buffer: arenas, not tensors) */

    int fault_countdown; /* test hook: submits left before a simulated loss */
    bool lost;           /* VK_ERROR_DEVICE_LOST seen (or simulated) */

    uint32_t validation_messages;
    char first_validation_message[512];
} vk_backend;

/* Optional device features the backend uses where present. */
enum {
    VK_FEATURE_STORAGE16 = 1u << 0, /* storageBuffer16BitAccess: fp16 pack/unpack */
    VK_FEATURE_SUBGROUP = 1u << 1,  /* subgroup basic/vote/arithmetic/shuffle in compute: reductions */
};

/* vk_quirks.c: features to turn off for this device and driver (known
 * bad drivers, or VKT_VULKAN_DISABLE=storage16,subgroup from the
 * environment); *why names the reason. */
uint32_t vk_quirks_disabled(const VkPhysicalDeviceProperties *props, VkDriverId driver, const char **why);
/* Names of the features in mask, space-separated, into out. */
void vk_feature_names(uint32_t mask, char *out, size_t n);

/* vk_device.c */
vkt_status vk_device_open(vk_backend *vb, int device_index, bool validation);
void vk_device_close(vk_backend *vb);
vkt_status vk_check(VkResult r, const char *what);

/* vk_memory.c */
vkt_status vk_buffer_alloc(vk_backend *vb, size_t bytes, bool host_visible, rt_buffer **out);
void vk_buffer_free(vk_backend *vb, rt_buffer *b);
/* Wait for submitted work (counted as a host wait when it blocks). */
vkt_status vk_wait_idle(vk_backend *vb);

/* vk_pipeline.c */
vkt_status vk_pipelines_init(vk_backend *vb);
vkt_status vk_pipeline_get(vk_backend *vb, rt_kernel k, VkPipeline *out);
void vk_pipelines_destroy(vk_backend *vb);

#endif
