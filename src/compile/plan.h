/* A plan: the kernel launches of one compiled program (a training step or
 * an evaluation pass at one batch size) over planned memory slots.
 *
 * Ops emit launches against slots (logical tensors); after emission the
 * memory planner gives every arena slot an offset by liveness, so slots
 * whose lifetimes do not overlap share bytes. Persistent slots (weights,
 * gradients, optimizer state, inputs, scalars) live in the trainer's own
 * buffers and are shared by all of its plans. */
#ifndef VKT_PLAN_H
#define VKT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "../graph/graph_internal.h"
#include "runtime/backend.h"

typedef enum slot_kind {
    SLOT_ARENA,   /* planned by liveness inside the plan's arena   */
    SLOT_PARAM,   /* a parameter or state buffer (trainer buffer)  */
    SLOT_GRAD,    /* a parameter gradient (trainer buffer)          */
    SLOT_GRADS_ALL, /* every gradient at once (norm clipping)       */
    SLOT_OPT,     /* optimizer state (trainer buffer)               */
    SLOT_INPUT,   /* a graph input (trainer buffer)                 */
    SLOT_SCALARS, /* the scalars buffer                              */
    SLOT_INDEX,   /* a partial parameter's trained rows (int32)     */
    SLOT_VIEW,    /* bytes [offset, offset + bytes) of slot `index`:
                     resolved when a launch is emitted, so launches
                     never name a view (prefix_chunks.c)            */
} slot_kind;

typedef struct slot {
    slot_kind kind;
    size_t bytes;
    int index;      /* param / input index for persistent kinds; for
                       arena slots the parameter whose gradient it
                       holds (early updates), else -1              */
    size_t offset;  /* arena offset once planned; a view's offset     */
    int first_use, last_use; /* launch indices (arena slots)         */
    int shares;     /* arena slot whose memory this one reuses from its
                       first use on (in place, in_place.c); -1: none  */
} slot;

/* A launch argument: a byte range of a slot (bytes 0: to the slot's end). */
typedef struct plan_arg {
    int slot; /* -1: absent */
    size_t offset;
    size_t bytes;
} plan_arg;

/* Which part of the step a launch belongs to (per-op profiling). */
typedef enum plan_phase {
    PLAN_FORWARD = 0,
    PLAN_BACKWARD = 1,
    PLAN_OPTIMIZER = 2, /* parameter updates, gradient-norm clipping */
} plan_phase;

typedef struct plan_launch {
    rt_kernel kernel;
    int nargs;
    plan_arg args[RT_MAX_ARGS];
    rt_params params;
    int node;         /* graph node that emitted it (-1: none, e.g. clipping) */
    plan_phase phase;
} plan_launch;

/* Where persistent slots live; filled by the trainer. */
typedef struct plan_bindings {
    rt_buffer *params, *grads, *opt, *inputs, *scalars;
    const size_t *param_offset;  /* per param, bytes                  */
    const size_t *grad_offset;   /* per param, bytes; SIZE_MAX: none  */
    const size_t *opt_offset;    /* per param, bytes; SIZE_MAX: none  */
    const size_t *input_offset;  /* per graph input, bytes            */
    size_t grads_total_bytes;
    rt_buffer *indices;          /* trained rows of partial params    */
    const size_t *index_offset;  /* per param, bytes (partial params) */
} plan_bindings;

struct plan;
typedef struct plan {
    const vkt_graph *graph;
    int batch;
    bool training;
    const bool *trainable; /* per param */
    /* Per param: rows (output channels) trained, 0 = all; NULL: all.
     * A partial parameter's gradient and optimizer state hold only its
     * trained rows, compact. */
    const int *param_rows;
    /* Gradients live in the arena: each parameter's update runs right
     * after its layer's backward, and its gradient's bytes are reused
     * (training plans without global-norm clipping). */
    bool arena_grads;
    /* Recomputation: nodes whose value is not kept from forward to
     * backward but emitted again (rematerialize) the first time backward
     * reads it. NULL: none. */
    bool *recompute;
    bool *rematerialized;
    bool in_backward;
    void (*rematerialize)(struct plan *pl, int node_id);

    slot *slots;
    int slot_count, slot_cap;
    plan_launch *launches;
    int launch_count, launch_cap;

    int *value_slot;    /* per node: forward value (-1 none)            */
    int *grad_slot;     /* per node: gradient of its value (-1 none)    */
    int *alias_of;      /* per node: node whose memory it shares (-1)   */
    bool *grad_written; /* per node: gradient has its first contribution */
    bool *needs_grad;   /* per node: gradient of its value is required  */
    bool *runs_backward;/* per node: its backward is emitted            */
    int *saved_slot;    /* per node * SAVED_PER_NODE: tensors kept for backward */
    int *param_grad_slot;     /* per param */
    bool *param_grad_written; /* per param */
    int scalars_slot;
    bool plain_memory;  /* no byte argmax, masks or in-place (compile_request) */
    size_t col_chunk_bytes; /* im2col chunk cap (0: the default; compile_request) */
    /* Batch norm layers with a frozen weight normalise with their running
     * statistics in training plans too (compile_request.freeze_bn). */
    bool freeze_bn;
    /* Losses average over this many samples (the whole batch while the
     * plan emits one micro-batch of it); 0: the plan's batch. */
    int mean_over;
    /* The batch sample the plan's current chunk or micro-batch starts at
     * (per-element random streams index the whole batch). */
    int first_sample;
    /* Per node: its value lived only inside a chunk of the frozen
     * prefix and is gone (reading it later is an internal error). */
    bool *chunk_local;
    vkt_status error;
    /* Label that ec_emit gives new launches; set by the compiler around
     * each op's emitters and by the optimizer per parameter. */
    int label_node;
    plan_phase label_phase;

    size_t arena_bytes;
    rt_buffer *arena;
    rt_program *program;
} plan;

#define SAVED_PER_NODE 4

/* --- used by op definitions while emitting --- */
typedef plan emit_ctx;

int ec_value(emit_ctx *e, int node_id);
/* Slot of a node's gradient; *accum says whether a contribution was
 * already written (then the caller must add, not overwrite). Marks the
 * gradient written. */
int ec_grad(emit_ctx *e, int node_id, int *accum);
bool ec_needs_grad(const emit_ctx *e, int node_id);
int ec_param(emit_ctx *e, int param_index);
bool ec_param_trainable(const emit_ctx *e, int param_index);
/* The gradient has ec_param_rows rows when the parameter is partial. */
int ec_param_grad(emit_ctx *e, int param_index, int *accum);
/* Rows of a parameter trained (a sparse channel update), 0 = all. */
int ec_param_rows(const emit_ctx *e, int param_index);
/* The trained rows' indices (int32, ascending) of a partial parameter. */
int ec_param_index(emit_ctx *e, int param_index);
/* Elements of a parameter's gradient (and of each optimizer state). */
size_t ec_param_grad_numel(const emit_ctx *e, int param_index);
/* Optimizer state `which` (0 or 1) of a parameter. */
int ec_opt_state(emit_ctx *e, int param_index, int which);
int ec_grads_all(emit_ctx *e);
int ec_temp(emit_ctx *e, size_t bytes);
/* A tensor made in forward and read in backward, identified by tag. */
int ec_saved(emit_ctx *e, int node_id, int tag, size_t bytes);
int ec_scalars(emit_ctx *e);
bool ec_training(const emit_ctx *e);
/* Whether training plans freeze batch norm statistics of layers with a
 * frozen weight (see plan.freeze_bn). */
bool ec_freeze_bn(const emit_ctx *e);
/* The sample count a loss's mean runs over (kernels' mean_over). */
int ec_mean_over(const emit_ctx *e);
/* The whole-batch index of the plan's first sample now (ec_batch
 * samples from it): 0 unless a chunk or micro-batch is being emitted. */
int ec_first_sample(const emit_ctx *e);
/* Whether saved tensors may take their compact forms (byte argmax). */
bool ec_compact_saved(const emit_ctx *e);
bool ec_runs_backward(const emit_ctx *e, int node_id);
int ec_batch(const emit_ctx *e);
/* Give node `alias` the same value slot as node `target` (reshape,
 * identity dropout); gradients are shared as well. */
void ec_alias(emit_ctx *e, int alias, int target);
void ec_emit(emit_ctx *e, rt_kernel k, const rt_params *p, int nargs, const int *slots);
/* As ec_emit, with sub-ranges of slots. */
void ec_emit_args(emit_ctx *e, rt_kernel k, const rt_params *p, int nargs, const plan_arg *args);
void ec_fail(emit_ctx *e, vkt_status st);

/* Helper for building params. */
static inline rt_params rt_params_zero(void)
{
    rt_params p = {{0}, {0}};
    return p;
}

/* The parameter whose gradient slot `s` is (persistent or arena), or -1. */
static inline int slot_param_grad(const slot *s)
{
    return s->kind == SLOT_GRAD || (s->kind == SLOT_ARENA && s->index >= 0) ? s->index : -1;
}

/* --- used by the compiler --- */
vkt_status plan_init(plan *pl, const vkt_graph *g, int batch, bool training, const bool *trainable);
void plan_free(plan *pl, rt_backend *be);
/* Keep activations that live from forward into backward as fp16
 * between the two (half_storage.c); forward_end is the index of the
 * first backward launch. */
vkt_status plan_store_half(plan *pl, int forward_end);
/* ReLU and ReLU6 backward read a one-bit derivative mask that forward
 * writes, instead of the output, when no other backward launch reads
 * that output (relu_mask.c). */
vkt_status plan_relu_masks(plan *pl);
/* Elementwise outputs (activations, add) take the memory of an arena
 * input whose last use is that launch (in_place.c). Run it once
 * lifetimes are final. */
void plan_in_place(plan *pl);
/* A view of bytes [offset, offset + bytes) of slot `base`. */
int plan_add_view_slot(plan *pl, int base, size_t offset, size_t bytes);
/* Frozen prefix in chunks (prefix_chunks.c): the leading nodes that need
 * no gradient and couple no samples run `chunk` samples at a time, so
 * only the values the rest of the step reads exist for the whole batch.
 * Returns the id of the first node not emitted (0: no such prefix, and
 * nothing was emitted). */
int plan_emit_chunked_prefix(plan *pl, int loss, int probe, int chunk);
/* A new arena slot (lifetime from the launches that use it), or -1
 * with pl->error set. */
int plan_add_arena_slot(plan *pl, size_t bytes);
/* Recompute every slot's first and last use from the launch list. */
void plan_recompute_lifetimes(plan *pl);
/* Give arena slots offsets by liveness (a slot that shares another's
 * memory takes its offset); sets arena_bytes. */
void plan_memory(plan *pl);
/* Resolve slots to views and create the backend program. */
vkt_status plan_build_program(plan *pl, rt_backend *be, const plan_bindings *b);

#endif
