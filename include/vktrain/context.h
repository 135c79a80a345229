/* vktrain — the context: one execution backend and its resources. */
#ifndef VKTRAIN_CONTEXT_H
#define VKTRAIN_CONTEXT_H

#include <stdbool.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkt_context vkt_context;

typedef struct vkt_context_options {
    /* "cpu", "auto" (a usable GPU if any, else cpu) or "vulkan[:N]".
     * NULL means "auto". */
    const char *device;
    /* CPU worker threads; 0 picks the number of online cores. */
    int threads;
} vkt_context_options;

/* "auto" picks a Vulkan GPU (discrete > integrated > virtual) and falls
 * back to the CPU backend when there is none; a CPU-type Vulkan device
 * (lavapipe) is used only when asked for by "vulkan[:N]". Setting the
 * environment variable VKT_VULKAN_VALIDATION=1 turns on the Khronos
 * validation layer. */
vkt_status vkt_context_create(const vkt_context_options *options, vkt_context **out);
void vkt_context_destroy(vkt_context *ctx);

/* Backend name, e.g. "cpu". */
const char *vkt_context_device_name(const vkt_context *ctx);
int vkt_context_threads(const vkt_context *ctx);

/* What a Vulkan device offers (vktrain devices). */
typedef struct vkt_device_info {
    int index;
    char name[256];
    char type[16];        /* "discrete", "integrated", "virtual", "cpu", "other" */
    char driver[256];     /* driver name and info */
    unsigned api_major, api_minor, api_patch;
    unsigned vendor_id, device_id;
    int heap_count;
    unsigned long long heap_bytes[16];
    bool heap_device_local[16];
    unsigned subgroup_size;
    bool subgroup_arithmetic; /* in compute shaders */
    bool subgroup_reductions; /* reductions use subgroup operations: supported and not turned off */
    bool storage_16bit;       /* storageBuffer16BitAccess */
    bool storage_16bit_used;  /* fp16 activations stored natively: supported and not turned off */
    char disabled_features[96]; /* features a driver quirk turns off, and why ("" if none) */
    unsigned max_workgroup_size[3];
    unsigned max_workgroup_invocations;
    unsigned max_shared_memory_bytes;
    unsigned max_storage_buffer_range;
    unsigned max_push_constants_bytes;
    unsigned max_memory_allocation_count;
} vkt_device_info;

/* Fill up to `max` entries; *count gets the number of devices. Without a
 * Vulkan loader *count is 0 and the status VKT_ERR_UNSUPPORTED. */
vkt_status vkt_list_devices(vkt_device_info *out, int max, int *count);

/* What a context runs on, for reports and benchmarks. */
typedef struct vkt_context_info {
    char backend[16];     /* "cpu" or "vulkan"                              */
    int threads;          /* CPU worker threads (vkt_context_threads)       */
    /* CPU backend: the instruction set its GEMM kernels use ("avx512",
     * "avx2" or "generic"); "" on Vulkan. */
    char cpu_isa[16];
    /* Vulkan: the device in use as vkt_list_devices describes it (its
     * index included); zeroed on the CPU. */
    bool has_device;
    vkt_device_info device;
    bool fp16_storage;    /* Vulkan: 16-bit storage in use (detected, and
                             not turned off by a quirk)                     */
    bool launch_timing;   /* vkt_trainer_profile_step can time launches     */
} vkt_context_info;

vkt_status vkt_context_get_info(const vkt_context *ctx, vkt_context_info *out);

#ifdef __cplusplus
}
#endif
#endif
