/* The DP-FedAvg step on the client: clip the update's global L2 norm,
 * then add Gaussian noise (the Gaussian mechanism). */
#ifndef VKT_UPD_DP_H
#define VKT_UPD_DP_H

#include <stdbool.h>
#include <stddef.h>

#include "rng.h"

/* L2 norm of v, accumulated in double. */
double upd_l2_norm(const float *v, size_t n);

/* Scale v by min(1, clip / norm) where norm = upd_l2_norm(v), then add
 * N(0, (noise * clip)^2) to every element. *norm_out gets the norm before
 * clipping, *clipped whether v was scaled. */
void upd_dp_apply(float *v, size_t n, float clip, float noise, upd_rng *rng, double *norm_out, bool *clipped);

#endif
