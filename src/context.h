#ifndef VKT_CONTEXT_INTERNAL_H
#define VKT_CONTEXT_INTERNAL_H

#include <vktrain/context.h>

#include "runtime/backend.h"

struct vkt_context {
    rt_backend *backend;
    char device_name[300];
};

#endif
