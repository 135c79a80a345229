/* Resolving a trainable-set policy to per-parameter flags. */
#ifndef VKT_POLICY_H
#define VKT_POLICY_H

#include <stdbool.h>

#include <vktrain/trainer.h>

/* trainable[i] for every parameter of g (VKT_TRAIN_AUTO is resolved by
 * the trainer, which needs compiled plans to measure). */
vkt_status policy_resolve(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable);

#endif
