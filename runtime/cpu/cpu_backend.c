/* The CPU backend: host buffers, and programs that are arrays of
 * resolved kernel calls run in order on the thread pool. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backend.h"
#include "../rt_error.h"
#include "cpu_kernels.h"
#include "pool.h"

struct rt_buffer {
    void *data;
    size_t size;
};

typedef struct cpu_call {
    cpu_kernel_fn fn;
    cpu_kernel_args args;
    rt_params params; /* args.p points here */
} cpu_call;

struct rt_program {
    int count;
    cpu_call *calls;
};

typedef struct cpu_backend {
    rt_backend base;
    cpu_pool *pool;
} cpu_backend;

static void cpu_destroy(rt_backend *be)
{
    cpu_backend *cb = (cpu_backend *)be;
    cpu_pool_destroy(cb->pool);
    free(cb);
}

static vkt_status cpu_buffer_create(rt_backend *be, size_t bytes, rt_buffer **out)
{
    *out = NULL;
    rt_buffer *b = calloc(1, sizeof *b);
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < 64)
        rounded = 64;
    if (b)
        b->data = aligned_alloc(64, rounded);
    if (!b || !b->data) {
        free(b);
        return rt_error(VKT_ERR_NO_MEMORY, "out of host memory allocating a %zu-byte buffer", bytes);
    }
    memset(b->data, 0, rounded);
    b->size = bytes;
    be->stats.buffer_bytes += bytes;
    if (be->stats.buffer_bytes > be->stats.peak_buffer_bytes)
        be->stats.peak_buffer_bytes = be->stats.buffer_bytes;
    *out = b;
    return VKT_OK;
}

static void cpu_buffer_destroy(rt_backend *be, rt_buffer *b)
{
    be->stats.buffer_bytes -= b->size;
    free(b->data);
    free(b);
}

static void *cpu_buffer_host_ptr(rt_backend *be, rt_buffer *b)
{
    (void)be;
    return b->data;
}

static vkt_status check_range(const rt_buffer *b, size_t off, size_t n)
{
    if (off > b->size || n > b->size - off)
        return rt_error(VKT_ERR_INVALID_ARG, "range [%zu, +%zu) outside a %zu-byte buffer", off, n, b->size);
    return VKT_OK;
}

static vkt_status cpu_upload(rt_backend *be, rt_buffer *dst, size_t off, const void *src, size_t n)
{
    (void)be;
    vkt_status st = check_range(dst, off, n);
    if (st == VKT_OK && n)
        memcpy((char *)dst->data + off, src, n);
    return st;
}

static vkt_status cpu_download(rt_backend *be, rt_buffer *src, size_t off, void *dst, size_t n)
{
    (void)be;
    vkt_status st = check_range(src, off, n);
    if (st == VKT_OK && n)
        memcpy(dst, (const char *)src->data + off, n);
    return st;
}

static vkt_status cpu_program_create(rt_backend *be, const rt_launch *launches, int count, rt_program **out)
{
    cpu_backend *cb = (cpu_backend *)be;
    *out = NULL;
    rt_program *prog = calloc(1, sizeof *prog);
    cpu_call *calls = calloc(count > 0 ? (size_t)count : 1, sizeof *calls);
    if (!prog || !calls) {
        free(prog);
        free(calls);
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory recording a program");
    }
    for (int i = 0; i < count; i++) {
        const rt_launch *l = &launches[i];
        vkt_status st = rt_launch_validate(l);
        for (int a = 0; st == VKT_OK && a < l->nargs; a++)
            if (l->args[a].size)
                st = check_range(l->args[a].buf, l->args[a].offset, l->args[a].size);
        if (st != VKT_OK) {
            free(calls);
            free(prog);
            return st;
        }
        cpu_call *c = &calls[i];
        c->fn = cpu_kernel_table[l->kernel];
        c->params = l->params;
        c->args.pool = cb->pool;
        for (int a = 0; a < l->nargs; a++) {
            if (!l->args[a].size)
                continue;
            c->args.args[a] = (char *)l->args[a].buf->data + l->args[a].offset;
            c->args.sizes[a] = l->args[a].size;
        }
    }
    /* args.p must point into the final array. */
    for (int i = 0; i < count; i++)
        calls[i].args.p = &calls[i].params;
    prog->calls = calls;
    prog->count = count;
    *out = prog;
    return VKT_OK;
}

static void cpu_program_destroy(rt_backend *be, rt_program *prog)
{
    (void)be;
    free(prog->calls);
    free(prog);
}

static vkt_status cpu_program_run(rt_backend *be, rt_program *prog)
{
    for (int i = 0; i < prog->count; i++)
        prog->calls[i].fn(&prog->calls[i].args);
    be->stats.programs_run++;
    be->stats.launches_run += (uint64_t)prog->count;
    return VKT_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One clock read between consecutive launches: each launch's time is
 * the gap between its two neighbours, so the times add up to the run. */
static vkt_status cpu_program_profile(rt_backend *be, rt_program *prog, uint64_t *launch_ns)
{
    uint64_t t = now_ns();
    for (int i = 0; i < prog->count; i++) {
        prog->calls[i].fn(&prog->calls[i].args);
        uint64_t end = now_ns();
        launch_ns[i] = end - t;
        t = end;
    }
    be->stats.programs_run++;
    be->stats.launches_run += (uint64_t)prog->count;
    return VKT_OK;
}

static vkt_status cpu_set_threads(rt_backend *be, int threads)
{
    cpu_backend *cb = (cpu_backend *)be;
    cpu_pool *pool;
    vkt_status st = cpu_pool_create(threads, &pool);
    if (st != VKT_OK)
        return st;
    /* Programs hold the pool pointer: callers rebuild programs after this. */
    cpu_pool_destroy(cb->pool);
    cb->pool = pool;
    be->threads = threads;
    return VKT_OK;
}

static const rt_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .buffer_create = cpu_buffer_create,
    .buffer_destroy = cpu_buffer_destroy,
    .buffer_host_ptr = cpu_buffer_host_ptr,
    .upload = cpu_upload,
    .download = cpu_download,
    .program_create = cpu_program_create,
    .program_destroy = cpu_program_destroy,
    .program_run = cpu_program_run,
    .program_profile = cpu_program_profile,
    .set_threads = cpu_set_threads,
};

const char *rt_cpu_isa(void)
{
    return cpu_gemm_isa();
}

vkt_status rt_cpu_backend_create(int threads, rt_backend **out)
{
    *out = NULL;
    cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating the CPU backend");
    vkt_status st = cpu_pool_create(threads, &cb->pool);
    if (st != VKT_OK) {
        free(cb);
        return st;
    }
    cb->base.ops = &cpu_ops;
    cb->base.threads = threads;
    *out = &cb->base;
    return VKT_OK;
}
