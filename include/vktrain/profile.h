/* vktrain — where the time of a training step goes.
 *
 * vkt_trainer_profile_step() is vkt_trainer_step() with a timer around
 * every kernel launch: the same update, counted as a step like any
 * other, but run to completion before it returns. The launches are then
 * grouped by the graph node that emitted them and by phase (forward,
 * backward, optimizer), so a benchmark can say which layer costs what.
 *
 * How launches are timed depends on the backend:
 *  - CPU: the host's monotonic clock, read between consecutive kernel
 *    calls (a launch's time includes its thread-pool fork and join);
 *  - Vulkan: GPU timestamps written after every launch by a second
 *    command buffer, recorded the first time a plan is profiled (a
 *    launch's time includes the barrier that orders it after the
 *    previous one). Devices whose compute queue writes no timestamps
 *    give VKT_ERR_UNSUPPORTED; vkt_context_get_info() says beforehand.
 * Ordinary steps never pay for this: vkt_trainer_step() still replays
 * one pre-recorded program with one submit and no timing.
 *
 * A profiled step waits for the device and times each launch, so time
 * whole steps with vkt_trainer_step() and use this for the shares. */
#ifndef VKTRAIN_PROFILE_H
#define VKTRAIN_PROFILE_H

#include <stdint.h>

#include "graph.h"
#include "status.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The time of one graph node's launches in a step. */
typedef struct vkt_op_time {
    vkt_tensor node;       /* the node (its output tensor id)                */
    const char *op;        /* op kind, e.g. "conv2d", "batch_norm", "relu6"   */
    const char *name;      /* layer name given when building ("" if none);
                              valid while the graph lives                    */
    uint64_t forward_ns;   /* its forward launches (and fp16 packing of the
                              values they read last)                          */
    uint64_t backward_ns;  /* its gradient launches, its recomputation in
                              backward (options.recompute), fp16 unpacking    */
    uint64_t optimizer_ns; /* the updates of its parameters (inside backward
                              when they run as soon as the gradient is done) */
    int launches;          /* kernel launches counted above                   */
} vkt_op_time;

/* Totals of a profiled step. forward + backward + optimizer = total. */
typedef struct vkt_step_profile {
    uint64_t forward_ns;   /* forward pass and loss                           */
    uint64_t backward_ns;  /* gradients                                       */
    uint64_t optimizer_ns; /* parameter updates, gradient-norm clipping       */
    uint64_t total_ns;     /* every launch                                    */
    uint64_t other_ns;     /* launches tied to no node (gradient-norm
                              clipping): in the totals, in no vkt_op_time     */
    uint64_t wall_ns;      /* host time of the call from the batch upload to
                              the end of the run (>= total_ns)                */
    int launches;          /* kernel launches of the step                     */
    int other_launches;    /* of which tied to no node                        */
} vkt_step_profile;

/* One training step on `count` samples (as vkt_trainer_step: the same
 * inputs, update and step count), timed per launch. `summary` gets the
 * totals. Up to `max_ops` entries of `ops` get the nodes that launched
 * anything, in graph order; *op_count (if not NULL) gets how many such
 * nodes there are, which may exceed max_ops (ops may be NULL when
 * max_ops is 0). A failed call counts no step; a device failure leaves
 * the trainer as a failed vkt_trainer_step does (see
 * vkt_trainer_migrate). */
vkt_status vkt_trainer_profile_step(vkt_trainer *tr, const void *const *inputs, int count, vkt_step_profile *summary,
                                    vkt_op_time *ops, int max_ops, int *op_count);

#ifdef __cplusplus
}
#endif
#endif
