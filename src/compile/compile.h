/* The compiler: from a graph, a loss, a batch size and a trainable set
 * to a plan holding forward, loss, backward (only what the trainable set
 * needs) and the optimizer update, with memory planned. */
#ifndef VKT_COMPILE_H
#define VKT_COMPILE_H

#include <vktrain/trainer.h>

#include "plan.h"

typedef struct compile_request {
    const vkt_graph *graph;
    int loss;            /* loss node id */
    int batch;
    bool training;
    const bool *trainable;                 /* per param */
    const vkt_optimizer_config *optimizer; /* training plans; NULL: gradients only */
    bool input_grads;    /* also differentiate float graph inputs (tests, attribution);
                            their gradients stay readable after the run */
    int probe;           /* node whose forward value stays readable (-1: none) */
    bool fp16_activations; /* training plans: saved activations in fp16 */
    const int *param_rows; /* per param: rows trained (sparse update), 0 = all; NULL: all */
    bool recompute;        /* training plans: recompute cheap layers' outputs in backward */
    bool plain_memory;   /* debug: no ReLU masks, byte argmax or in-place
                            outputs, to compare a plan against */
    size_t col_chunk_bytes; /* debug: cap of an im2col chunk's columns (0: the default) */
    bool freeze_bn;      /* training plans: batch norm with a frozen weight uses running statistics */
    int prefix_chunk;    /* training plans: run the frozen prefix this many samples at a time
                            (prefix_chunks.c); 0: the whole batch */
    int micro_batch;     /* training plans: forward and backward this many samples at a time,
                            gradients accumulated (needs persistent gradients); 0: the whole batch */
} compile_request;

vkt_status compile_plan(plan *pl, const compile_request *req);

#endif
