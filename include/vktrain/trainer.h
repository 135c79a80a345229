/* vktrain — compiling a graph for training, stepping and evaluating.
 *
 * vkt_trainer_create() compiles once: it plans the backward pass for the
 * trainable set, plans memory, and records the whole step (forward, loss,
 * backward, optimizer) as one program on the context's backend. Each
 * vkt_trainer_step() then uploads a batch and replays that program; no
 * allocation happens inside a step. */
#ifndef VKTRAIN_TRAINER_H
#define VKTRAIN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "graph.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkt_trainer vkt_trainer;

typedef enum vkt_optimizer_kind {
    VKT_OPT_SGD = 0,   /* torch.optim.SGD   */
    VKT_OPT_ADAMW = 1, /* torch.optim.AdamW */
} vkt_optimizer_kind;

typedef enum vkt_schedule_kind {
    VKT_SCHED_CONSTANT = 0,
    VKT_SCHED_STEP = 1,   /* lr * gamma^floor(step / step_size)            */
    VKT_SCHED_COSINE = 2, /* step s < warmup: lr * (s+1) / warmup; then
                             cosine from lr down to min_lr at total_steps */
} vkt_schedule_kind;

typedef struct vkt_schedule {
    vkt_schedule_kind kind;
    int64_t step_size;    /* STEP: optimizer steps per decay               */
    float gamma;          /* STEP: decay factor                            */
    int64_t warmup_steps; /* COSINE: steps of linear warm-up from 0        */
    int64_t total_steps;  /* COSINE: steps until min_lr is reached         */
    float min_lr;         /* COSINE                                        */
} vkt_schedule;

typedef struct vkt_optimizer_config {
    vkt_optimizer_kind kind;
    float lr;
    float weight_decay; /* SGD: L2 added to the gradient; AdamW: decoupled */
    float momentum;     /* SGD */
    float dampening;    /* SGD */
    bool nesterov;      /* SGD */
    float beta1, beta2, eps; /* AdamW; 0 picks 0.9, 0.999, 1e-8 */
    float clip_grad_norm;    /* > 0: clip the global L2 norm, as torch's clip_grad_norm_ */
    vkt_schedule schedule;
} vkt_optimizer_config;

/* Which parameters are trained; the others stay bit-identical, get no
 * gradient, and the backward pass stops below the lowest layer that
 * still needs one. "Layers" are the graph's nodes that own parameters,
 * in creation order. */
typedef enum vkt_trainable_policy {
    VKT_TRAIN_ALL = 0,    /* every parameter                             */
    VKT_TRAIN_NAMED = 1,  /* the parameters listed in `names`            */
    VKT_TRAIN_LAST_K = 2, /* every parameter of the last `count` layers  */
    VKT_TRAIN_BIAS = 3,   /* every "*.bias" parameter (TinyTL-style)     */
    /* The LoRA adapters of the graph (vkt_graph_add_lora) and nothing
     * else: the base weights stay frozen. */
    VKT_TRAIN_LORA = 4,
    /* Sparse update (Tiny Training Engine style): of every linear and
     * ungrouped conv weight but the last layer's, the `fraction` of
     * output channels with the largest weight L2 norm (at least one),
     * chosen at trainer creation; the last layer (the classifier),
     * biases, norms and depthwise weights in full. Only the chosen rows
     * get gradients and optimizer state. */
    VKT_TRAIN_CHANNELS = 5,
    /* The largest set that fits options.memory_budget: full, then the
     * last k layers for decreasing k, then biases only, then the last
     * layer's bias; fails when not even that fits. */
    VKT_TRAIN_AUTO = 6,
} vkt_trainable_policy;

/* An evaluation-only trainer: VKT_TRAIN_NAMED with count 0 trains
 * nothing and allocates no gradients or optimizer state. */
typedef struct vkt_trainable_set {
    vkt_trainable_policy policy;
    const char *const *names; /* NAMED: parameter names */
    int count;                /* NAMED: entries in names; LAST_K: layers */
    float fraction;           /* CHANNELS: in (0, 1]                     */
    int lora_rank;            /* LORA: rank, filled by vkt_trainable_parse
                                 for the app to pass to vkt_graph_add_lora */
    /* BIAS, LORA: also train the last head_layers layers in full, as
     * TinyTL and LoRA fine-tuning train a new task's classifier ("+last:K"
     * in the text form). 0: none. */
    int head_layers;
} vkt_trainable_set;

/* Parse a policy as the tools write it: "full", "bias", "last:K",
 * "channels:FRAC" (0 < FRAC <= 1), "lora:R" (1 <= R <= 1024) or "auto";
 * "bias" and "lora:R" may end in "+last:K" (head_layers). VKT_ERR_INVALID_ARG
 * (with vkt_last_error) for anything else. */
vkt_status vkt_trainable_parse(const char *text, vkt_trainable_set *out);

typedef struct vkt_trainer_options {
    const vkt_trainable_set *trainable; /* NULL: all parameters */
    vkt_optimizer_config optimizer;
    int batch_size;
    /* Seed of the per-step random streams (dropout). */
    uint64_t seed;
    /* > 0: fail vkt_trainer_create with VKT_ERR_NO_MEMORY when the
     * training step's planned memory (weights, gradients, optimizer
     * state, activations, inputs) exceeds this many bytes. */
    size_t memory_budget;
    /* Keep activations that forward saves for backward in fp16 between
     * the two (arithmetic stays fp32): about half the activation memory
     * for a small loss of gradient precision. Any backend. */
    bool fp16_activations;
    /* Recompute the outputs of cheap layers (activations, batch norm,
     * pooling, add, dropout) in backward instead of keeping them from
     * forward: less activation memory for a little more compute; the
     * results are bit-identical. The step is planned both ways and the
     * smaller plan is used (recomputing pays where the layers' inputs
     * are kept anyway, as in conv -> batch norm -> activation). */
    bool recompute;
    /* Keep a host copy of the weights and optimizer state as of the last
     * completed step, so that a lost device (VKT_ERR_DEVICE from a step)
     * loses no work: vkt_trainer_migrate() then continues on another
     * context from that step. Costs one state download per step. */
    bool recoverable;
    /* Batch norm layers whose weight is frozen normalise with their
     * running statistics and leave them unchanged, as Keras runs frozen
     * layers (the usual choice when fine-tuning a pretrained backbone:
     * small batches give noisy statistics). Such a layer needs nothing
     * saved for backward and lets a frozen prefix run in chunks. Off:
     * PyTorch's train() semantics, batch statistics everywhere. */
    bool freeze_bn_stats;
    /* Samples per chunk of the frozen prefix: the leading layers that
     * get no gradient and mix no samples run this many samples at a time,
     * so only the values the trainable layers read exist for the whole
     * batch (bit-identical results, more launches). 0: chosen at compile
     * (the smallest plan, halving the chunk down to 4 samples while that
     * saves at least 10% of the step's planned memory); -1: never. */
    int frozen_chunk;
    /* > 0 and below batch_size: each step runs forward and backward this
     * many samples at a time and sums the gradients (gradient
     * accumulation), so activation memory is a micro-batch's while the
     * update is the whole batch's (losses average over the whole batch;
     * results match a whole-batch step up to the order of the sums).
     * Gradients then persist for the whole step. Refused by compile for
     * graphs whose layers mix samples (batch statistics: see
     * freeze_bn_stats) and with fp16_activations. 0: off. */
    int micro_batch;
} vkt_trainer_options;

/* `loss` must be a loss tensor of `graph`. The graph must outlive the
 * trainer; its parameter values are copied to the backend now. */
vkt_status vkt_trainer_create(vkt_context *ctx, vkt_graph *graph, vkt_tensor loss,
                              const vkt_trainer_options *options, vkt_trainer **out);
/* NULL is ignored, as by every vkt_*_destroy. */
void vkt_trainer_destroy(vkt_trainer *tr);

/* One optimizer step on a batch of `count` samples (1..batch_size).
 * inputs[i] points at `count` samples of the graph's i-th input, packed,
 * in the input's dtype. A partial batch compiles (once) its own plan. */
vkt_status vkt_trainer_step(vkt_trainer *tr, const void *const *inputs, int count);

/* Forward and loss only, in evaluation mode; accumulates into the
 * evaluation metrics. */
vkt_status vkt_trainer_eval_batch(vkt_trainer *tr, const void *const *inputs, int count);

typedef struct vkt_metrics {
    double loss_mean;     /* mean loss per sample since the last read */
    double accuracy;      /* correct / samples (classification losses) */
    int64_t samples;
    double last_loss;     /* loss of the most recent batch */
    double grad_norm;     /* global gradient norm of the last step (if clipping) */
} vkt_metrics;

/* Read and reset the training metrics accumulated by steps; this is the
 * only point where a step's results are waited for. */
vkt_status vkt_trainer_read_train_metrics(vkt_trainer *tr, vkt_metrics *out);
vkt_status vkt_trainer_read_eval_metrics(vkt_trainer *tr, vkt_metrics *out);

/* The trainable set the trainer uses: the one it was given, or for
 * VKT_TRAIN_AUTO the candidate it chose (names are not returned). */
vkt_status vkt_trainer_policy(const vkt_trainer *tr, vkt_trainable_set *out);

/* Optimizer steps taken (restored by checkpoints). */
int64_t vkt_trainer_step_count(const vkt_trainer *tr);
/* Learning rate the next step will use. */
float vkt_trainer_current_lr(const vkt_trainer *tr);

/* Move the trainer to another context (e.g. the CPU after a GPU failed).
 * After a device failure the state of the last completed step is used
 * (needs options.recoverable); otherwise the current state. A context
 * may serve several trainers driven from one thread. */
vkt_status vkt_trainer_migrate(vkt_trainer *tr, vkt_context *ctx);

/* Copy the trained parameters and state back into the graph. */
vkt_status vkt_trainer_sync_weights(vkt_trainer *tr);

/* Checkpoints: weights, optimizer state and step count in one
 * safetensors file (written atomically), plus free-form string metadata
 * for the app (e.g. data position). */
typedef struct vkt_kv {
    const char *key;
    const char *value;
} vkt_kv;
vkt_status vkt_trainer_save_checkpoint(vkt_trainer *tr, const char *path, const vkt_kv *meta, int meta_count);
/* Restores everything or nothing. `lookup`, if given, is called for each
 * app metadata entry found in the file. */
typedef void (*vkt_kv_fn)(const char *key, const char *value, void *user);
vkt_status vkt_trainer_load_checkpoint(vkt_trainer *tr, const char *path, vkt_kv_fn lookup, void *user);

/* Read only the app metadata of a checkpoint (to check it fits before
 * building a trainer for it). Fails with VKT_ERR_FORMAT for a file that
 * is not a vktrain checkpoint. */
vkt_status vkt_checkpoint_read_metadata(const char *path, vkt_kv_fn fn, void *user);

typedef struct vkt_memory_report {
    size_t params_bytes;       /* weights and state buffers          */
    /* Parameter gradients kept for the whole step: only with gradient
     * clipping (which needs them all); otherwise each parameter is
     * updated as soon as its gradient is complete and the gradient
     * lives in the activation arena, its bytes reused. */
    size_t grads_bytes;
    size_t optimizer_bytes;    /* momentum / Adam moments            */
    size_t activations_bytes;  /* planned arena of the step          */
    size_t io_bytes;           /* batch input and metric buffers     */
    size_t total_bytes;
    size_t trained_params;     /* parameter elements the step updates */
} vkt_memory_report;
vkt_status vkt_trainer_memory(const vkt_trainer *tr, vkt_memory_report *out);

#ifdef __cplusplus
}
#endif
#endif
