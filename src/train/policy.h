/* Resolving a trainable-set policy to per-parameter flags. */
#ifndef VKT_POLICY_H
#define VKT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/trainer.h>

/* trainable[i] for every parameter of g (VKT_TRAIN_AUTO is resolved by
 * the trainer, which needs compiled plans to measure). */
vkt_status policy_resolve(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable);

/* Rows (output channels) of each weight that a sparse update trains. */
typedef struct row_selection {
    int *rows_k;          /* per param: rows trained, 0 = every row        */
    int32_t *index;       /* selected rows of each partial param, ascending */
    size_t *index_offset; /* per param: bytes into index                   */
    size_t index_bytes;
} row_selection;

/* For VKT_TRAIN_CHANNELS, pick the `fraction` of rows with the largest
 * L2 norm (at least one; ties to the lower row) of every trainable
 * linear and ungrouped conv weight; other policies select nothing. */
vkt_status policy_select_rows(const vkt_graph *g, const vkt_trainable_set *set, const bool *trainable,
                              row_selection *out);
void row_selection_free(row_selection *s);

#endif
