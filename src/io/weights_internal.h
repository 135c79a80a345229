/* Shared by weights.c and the trainer's checkpoints. */
#ifndef VKT_WEIGHTS_INTERNAL_H
#define VKT_WEIGHTS_INTERNAL_H

#include "../graph/graph_internal.h"
#include "safetensors.h"

/* Find, shape-check and convert every parameter of g from f into
 * values[i] (malloc'd; values has g->param_count entries). */
vkt_status weights_read_params(const vkt_graph *g, const st_file *f, const char *path, float **values);
void weights_free_values(const vkt_graph *g, float **values);
/* One entry per parameter (counters as I64 through `counters`). */
vkt_status weights_entries(const vkt_graph *g, st_entry *entries, int64_t *counters);

#endif
