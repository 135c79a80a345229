/* Optimizers (torch.optim.SGD and AdamW) and learning-rate schedules:
 * configuration checks, the update launches a training plan ends with,
 * and the per-step scalars the host writes before each step. */
#ifndef VKT_OPTIMIZER_H
#define VKT_OPTIMIZER_H

#include <stdint.h>

#include <vktrain/trainer.h>

#include "../compile/plan.h"

/* Fill defaults (AdamW betas/eps) and check ranges. */
vkt_status optimizer_config_check(vkt_optimizer_config *cfg);
/* State tensors per parameter (0, 1 or 2), each the parameter's size. */
int optimizer_state_count(const vkt_optimizer_config *cfg);
/* Names of the state tensors in checkpoints (torch's names). */
const char *optimizer_state_name(const vkt_optimizer_config *cfg, int which);
/* Emit gradient clipping and one update per trainable parameter. */
void optimizer_emit(emit_ctx *e, const vkt_optimizer_config *cfg);
/* Emit the update of one parameter (nothing if it is frozen or got no
 * gradient); without clipping, right after its gradient is complete. */
void optimizer_emit_param(emit_ctx *e, const vkt_optimizer_config *cfg, int param);
/* Learning rate of optimizer step `step` (0-based: the step about to run). */
double schedule_lr(const vkt_optimizer_config *cfg, int64_t step);
/* Host-written scalars for the step about to run (step is 0-based). */
void optimizer_step_scalars(const vkt_optimizer_config *cfg, int64_t step, uint32_t seed, uint32_t *scalars);

#endif
