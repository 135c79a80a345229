/* Runs a graph's forward + backward once on a backend and returns the
 * loss, every parameter gradient and every float input gradient: the
 * basis of the finite-difference checks (and of backend parity). */
#ifndef VKT_GRAD_HARNESS_H
#define VKT_GRAD_HARNESS_H

#include <stdbool.h>

#include "runtime/backend.h"
#include "src/compile/plan.h"
#include "src/graph/graph_internal.h"

typedef struct grad_result {
    double loss;
    float **param_grads; /* per param; NULL when it got no gradient */
    float **input_grads; /* per graph input; NULL for I32 inputs */
    float *output;       /* value of `probe` node (if requested) */
} grad_result;

/* Compile without the activation-memory savings (ReLU masks, byte
 * argmax, in-place outputs): compile_request.plain_memory. */
extern bool gh_plain_memory;
/* The im2col chunk cap of the plans gh_run compiles (0: the default). */
extern size_t gh_col_chunk_bytes;
/* Freeze batch norm statistics (compile_request.freeze_bn) and with them
 * every batch norm weight, which that mode requires. */
extern bool gh_freeze_bn;
/* compile_request.prefix_chunk of the plans gh_run compiles. */
extern int gh_prefix_chunk;

/* inputs[k]: batch samples of graph input k. probe: node whose forward
 * value to return (-1: none). seed: the step's dropout seed. */
int gh_run(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs, int probe,
           uint32_t seed, grad_result *out);
/* As gh_run, training only the parameters with trainable[i] set (NULL:
 * every parameter that is not a state buffer). */
int gh_run_trainable(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs,
                     const bool *trainable, grad_result *out);
/* Loss only (forward, training mode so batch norm uses batch stats). */
double gh_loss(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs, uint32_t seed);
void gh_free(const vkt_graph *g, grad_result *r);

/* Central-difference check of every parameter and float input gradient
 * of a graph against gh_run; returns the worst error ratio
 * |fd - an| / (atol + rtol |an|) (<= 1 passes). Checks at most
 * `max_per_tensor` evenly spread elements per tensor. */
double gh_check(rt_backend *be, vkt_graph *g, int loss, int batch, void **inputs, double eps, double atol,
                double rtol, int max_per_tensor, const char *label);

/* The full-batch training plan of a trainer (compiled if needed). */
struct vkt_trainer;
const plan *gh_training_plan(struct vkt_trainer *tr);
/* Launches of kernel k in a plan. */
int gh_count_kernels(const plan *pl, rt_kernel k);

#endif
