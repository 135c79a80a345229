/* The execution backend interface (a C function table, like ggml's).
 *
 * A backend owns buffers, moves bytes in and out of them, and turns a
 * list of kernel launches into a program it can run many times. The CPU
 * backend implements it with C kernels and a thread pool; the Vulkan
 * backend with one pre-recorded command buffer per program. The runtime
 * knows nothing of graphs, models or losses. */
#ifndef VKT_RT_BACKEND_H
#define VKT_RT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/status.h>

#include "kernels.h"

typedef struct rt_backend rt_backend;
typedef struct rt_buffer rt_buffer;
typedef struct rt_program rt_program;

/* A byte range of a buffer. */
typedef struct rt_view {
    rt_buffer *buf;
    size_t offset;
    size_t size;
} rt_view;

typedef struct rt_launch {
    rt_kernel kernel;
    int nargs;
    rt_view args[RT_MAX_ARGS];
    rt_params params;
} rt_launch;

typedef struct rt_backend_stats {
    uint64_t programs_run;   /* rt_program_run calls                      */
    uint64_t launches_run;   /* kernel launches executed                  */
    uint64_t submits;        /* device queue submissions                  */
    uint64_t host_waits;     /* times the host blocked on the device      */
    size_t buffer_bytes;     /* bytes in live buffers                     */
    size_t peak_buffer_bytes;
} rt_backend_stats;

typedef struct rt_backend_ops {
    const char *name;
    void (*destroy)(rt_backend *be);
    vkt_status (*buffer_create)(rt_backend *be, size_t bytes, rt_buffer **out);
    void (*buffer_destroy)(rt_backend *be, rt_buffer *buf);
    /* Host pointer of a buffer if the host can address it directly (CPU,
     * unified memory), else NULL. */
    void *(*buffer_host_ptr)(rt_backend *be, rt_buffer *buf);
    vkt_status (*upload)(rt_backend *be, rt_buffer *dst, size_t offset, const void *src, size_t bytes);
    vkt_status (*download)(rt_backend *be, rt_buffer *src, size_t offset, void *dst, size_t bytes);
    /* Validates and records the launches; `launches` may be freed after. */
    vkt_status (*program_create)(rt_backend *be, const rt_launch *launches, int count, rt_program **out);
    void (*program_destroy)(rt_backend *be, rt_program *prog);
    /* Runs a program to completion (or queues it: downloads wait). */
    vkt_status (*program_run)(rt_backend *be, rt_program *prog);
    /* Runs a program to completion once with a timer around every launch
     * and writes each launch's duration in nanoseconds to launch_ns (as
     * many entries as the program has launches). Slower to issue than
     * program_run and kept apart from it: program_run does no timing.
     * VKT_ERR_UNSUPPORTED when the device cannot time launches. */
    vkt_status (*program_profile)(rt_backend *be, rt_program *prog, uint64_t *launch_ns);
    vkt_status (*set_threads)(rt_backend *be, int threads);
} rt_backend_ops;

struct rt_backend {
    const rt_backend_ops *ops;
    rt_backend_stats stats;
    int threads;
};

struct vkt_device_info;

/* Backends. */
vkt_status rt_cpu_backend_create(int threads, rt_backend **out);
/* Instruction set the CPU backend's GEMM runs ("avx512", "avx2", "generic"). */
const char *rt_cpu_isa(void);
/* device_index < 0: the best device (discrete > integrated > virtual >
 * CPU). validation: enable the Khronos layer and count its messages. */
vkt_status rt_vulkan_backend_create(int device_index, bool validation, rt_backend **out);
const char *rt_vulkan_device_name(const rt_backend *be);
/* Validation messages seen so far (and the first one's text). */
uint32_t rt_vulkan_validation_messages(const rt_backend *be, const char **first);
/* Test hook: the `submits`-th program run from now fails as if the
 * device were lost, and so does everything after it. */
void rt_vulkan_inject_fault(rt_backend *be, int submits);
/* Whether 16-bit storage is detected, not turned off by a quirk, and so
 * used (fp16 pack/unpack shaders). */
bool rt_vulkan_uses_storage16(const rt_backend *be);
/* Whether the subgroup operations the reductions need (basic, vote,
 * arithmetic, shuffle in compute) are detected, not turned off by a
 * quirk, and so used (the reduction shaders' subgroup variants). */
bool rt_vulkan_uses_subgroups(const rt_backend *be);
/* Test hook: the workgroup size of kernel k's pipeline (still clamped to
 * the device's limits), 0 for the kernel's own. Refused once k's
 * pipeline exists. */
vkt_status rt_vulkan_set_local_size(rt_backend *be, rt_kernel k, uint32_t local);
/* Whether a valid on-disk pipeline cache was loaded at creation. */
bool rt_vulkan_pipeline_cache_loaded(const rt_backend *be);
/* Whether any Vulkan 1.1 device that is not CPU-type exists (cheap: no
 * logical device is created). */
bool rt_vulkan_has_gpu(void);
/* false for a CPU-type Vulkan device such as lavapipe. */
bool rt_vulkan_is_gpu(const rt_backend *be);
/* The open device, as rt_vulkan_list_devices describes it. */
void rt_vulkan_describe(const rt_backend *be, struct vkt_device_info *out);
/* Whether program_profile can time launches (the queue writes timestamps). */
bool rt_vulkan_can_time(const rt_backend *be);
vkt_status rt_vulkan_list_devices(struct vkt_device_info *out, int max, int *count);

/* Checks a launch against the kernel's argument rules (view bounds,
 * required arguments); shared by all backends' program_create. */
vkt_status rt_launch_validate(const rt_launch *l);

/* Thin inline wrappers so callers read naturally. */
static inline vkt_status rt_buffer_create(rt_backend *be, size_t bytes, rt_buffer **out)
{
    return be->ops->buffer_create(be, bytes, out);
}
static inline void rt_buffer_destroy(rt_backend *be, rt_buffer *buf)
{
    if (buf)
        be->ops->buffer_destroy(be, buf);
}
static inline vkt_status rt_upload(rt_backend *be, rt_buffer *dst, size_t off, const void *src, size_t n)
{
    return be->ops->upload(be, dst, off, src, n);
}
static inline vkt_status rt_download(rt_backend *be, rt_buffer *src, size_t off, void *dst, size_t n)
{
    return be->ops->download(be, src, off, dst, n);
}
static inline vkt_status rt_program_create(rt_backend *be, const rt_launch *l, int n, rt_program **out)
{
    return be->ops->program_create(be, l, n, out);
}
static inline void rt_program_destroy(rt_backend *be, rt_program *p)
{
    if (p)
        be->ops->program_destroy(be, p);
}
static inline vkt_status rt_program_run(rt_backend *be, rt_program *p)
{
    return be->ops->program_run(be, p);
}
static inline vkt_status rt_program_profile(rt_backend *be, rt_program *p, uint64_t *launch_ns)
{
    return be->ops->program_profile(be, p, launch_ns);
}
static inline void rt_backend_destroy(rt_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

#endif
