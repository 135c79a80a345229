/* Trainer internals shared by trainer.c and checkpoint.c. */
#ifndef VKT_TRAINER_INTERNAL_H
#define VKT_TRAINER_INTERNAL_H

#include <vktrain/trainer.h>

#include "../compile/compile.h"
#include "../context.h"
#include "policy.h"

#define TRAINER_MAX_PLANS 4

typedef struct cached_plan {
    bool used;
    bool training;
    int batch;
    plan pl;
} cached_plan;

struct vkt_trainer {
    vkt_context *ctx;
    rt_backend *be;
    vkt_graph *graph;
    int loss;
    vkt_optimizer_config opt;
    int batch;
    uint64_t seed;

    bool *trainable;        /* per param */
    size_t *param_offset;   /* per param, bytes into params */
    size_t *grad_offset;    /* per param, SIZE_MAX when frozen */
    size_t *opt_offset;     /* per param, SIZE_MAX without state */
    size_t input_offset[NODE_MAX_INPUTS];
    size_t input_sample_bytes[NODE_MAX_INPUTS];
    int32_t input_limit[NODE_MAX_INPUTS]; /* I32 inputs: values must be < this (0: no check) */
    row_selection rows;     /* trained rows of partial params (channels policy) */
    vkt_trainable_set policy; /* as resolved (AUTO: the candidate chosen); no names */
    size_t params_bytes, grads_bytes, opt_bytes, inputs_bytes;
    int opt_states;

    rt_buffer *params, *grads, *opt_state, *inputs, *train_scalars, *eval_scalars, *indices;
    cached_plan plans[TRAINER_MAX_PLANS];

    int64_t step;          /* optimizer steps taken */
    bool recoverable;
    bool fp16_activations;
    bool recompute;
    bool freeze_bn;        /* options.freeze_bn_stats */
    bool *counter_frozen;  /* per param: a BN counter that frozen statistics stop */
    int frozen_chunk;      /* options.frozen_chunk */
    int micro_batch;       /* options.micro_batch (0: off) */
    bool plain_memory;     /* debug (tests): plans without activation savings */
    bool force_recompute;  /* debug (tests): use the recomputing plan even if larger */
    bool device_failed;    /* a step hit VKT_ERR_DEVICE: migrate first */
    void *snap_params, *snap_opt; /* state after step snap_step */
    int64_t snap_step, snap_counter_steps;
    bool snap_valid;
    int64_t counter_steps; /* training steps not yet added to BN counters */
};

/* Elements of a trainable parameter's gradient and of each of its
 * optimizer states: its trained rows only when it is partial. */
size_t trainer_state_numel(const vkt_trainer *tr, int param);

/* Whether gradients live in the trainer's buffer for the whole step
 * (clipping needs them all) rather than in each plan's arena. */
bool trainer_grads_persistent(const vkt_trainer *tr);
/* Whether a training plan for `batch` samples runs in micro-batches. */
bool trainer_micro_batched(const vkt_trainer *tr, int batch);

/* VKT_TRAIN_AUTO (auto_policy.c). */
vkt_status trainer_create_auto(vkt_context *ctx, vkt_graph *graph, vkt_tensor loss,
                               const vkt_trainer_options *options, vkt_trainer **out);

/* Checks shared by step and evaluation (trainer, device state, batch
 * size), then the plan for the batch, compiled on first use. */
vkt_status trainer_begin_run(vkt_trainer *tr, int count, bool training, plan **pl);
/* One optimizer step (vkt_trainer_step); with launch_ns, run to
 * completion with each launch of the plan timed into launch_ns. */
vkt_status trainer_run_step(vkt_trainer *tr, const void *const *inputs, int count, uint64_t *launch_ns);

/* Copy parameters (not counters) from the device into the graph. */
vkt_status trainer_download_params(vkt_trainer *tr);
/* Copy every parameter from the graph to the device. */
vkt_status trainer_upload_params(vkt_trainer *tr);

#endif
