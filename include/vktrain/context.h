/* vktrain — the context: one execution backend and its resources. */
#ifndef VKTRAIN_CONTEXT_H
#define VKTRAIN_CONTEXT_H

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

vkt_status vkt_context_create(const vkt_context_options *options, vkt_context **out);
void vkt_context_destroy(vkt_context *ctx);

/* Backend name, e.g. "cpu". */
const char *vkt_context_device_name(const vkt_context *ctx);
int vkt_context_threads(const vkt_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
