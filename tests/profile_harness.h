/* Checks of per-launch profiling shared by the CPU (test_profile.c) and
 * Vulkan (test_vk_profile.c) tests: the same program and the same small
 * network on each backend. */
#ifndef VKT_PROFILE_HARNESS_H
#define VKT_PROFILE_HARNESS_H

#include <stdbool.h>

#include <vktrain/vktrain.h>

#include "runtime/backend.h"

/* Backend level: a program of fills, a batch-reduce GEMM long enough
 * for the Vulkan backend to split into chained dispatches, and a copy.
 * Profiling gives one time per launch, each > 0, adding up to no more
 * than the wall time of the call, and the same result as a run. */
void ph_check_backend_profile(rt_backend *be);

/* How the trainer of ph_check_trainer_profile is set up. */
typedef struct ph_config {
    const char *policy; /* "full", "bias", "last:1" */
    bool fp16;          /* fp16 activation storage (pack/unpack launches) */
    bool clip;          /* gradient clipping: updates after backward, one
                           launch tied to no node; else each update runs
                           inside backward */
    bool recompute;     /* recomputed layers in backward (forced, even
                           where the planner would keep the tensors) */
} ph_config;

/* Trainer level: a conv/bn/relu/pool/depthwise/bn/gap/linear network trained
 * on `device`. A profiled step covers the plan's launches exactly,
 * groups every one of them by node or as other, stays within its wall
 * time, and updates the weights bit for bit as an ordinary step does. */
void ph_check_trainer_profile(const char *device, ph_config config);

#endif
