/* Op test cases shared by tests/test_gradcheck.c (finite differences)
 * and tests/test_vk_ops.c (CPU-vs-Vulkan parity). Each family builds
 * its graphs and hands every case to `check`, which owns it (and must
 * call gcase_free). */
#ifndef VKT_OP_CASES_H
#define VKT_OP_CASES_H

#include <stdint.h>

#include "src/graph/graph_internal.h"

typedef struct gcase {
    vkt_graph *g;
    int loss;
    int batch;
    void *inputs[NODE_MAX_INPUTS];
    int32_t label_bound[NODE_MAX_INPUTS];
} gcase;

/* eps: the finite-difference step suited to the case. */
typedef void (*gcase_fn)(gcase *c, double eps, const char *label);

void gcase_begin(gcase *c, int batch);
void gcase_free(gcase *c);

void op_cases_linear(gcase_fn check);
void op_cases_conv2d(gcase_fn check);
void op_cases_lora(gcase_fn check);
void op_cases_pools(gcase_fn check);
void op_cases_norms(gcase_fn check);
/* Batch norm with frozen statistics: run with gh_freeze_bn set. */
void op_cases_frozen_bn(gcase_fn check);
void op_cases_activations(gcase_fn check);
void op_cases_structural(gcase_fn check);
void op_cases_dropout(gcase_fn check);
void op_cases_embedding(gcase_fn check);
void op_cases_losses(gcase_fn check);
void op_cases_attention(gcase_fn check);
void op_cases_small_networks(gcase_fn check);

#endif
