/* The aggregator's state, shared by its files: the model and its
 * version window (aggregator.c), the pending weighted sum (sum.c), the
 * checks and bookkeeping of submissions (submit.c) and applying a step
 * (apply.c). */
#ifndef VKT_FED_INTERNAL_H
#define VKT_FED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/fed.h>

#define FED_MAX_STALENESS_LIMIT 1024

typedef struct fed_tensor {
    char *name;
    int rank;
    int64_t dims[VKT_MAX_RANK];
    size_t numel;
    float *values;
} fed_tensor;

/* The pending step: per tensor sum_i(n_i s_i delta_i) and sum_i(n_i)
 * over the accepted updates that carry it. A tensor whose weight is 0
 * has no update yet (its array holds leftovers). */
typedef struct fed_sum {
    int count;
    double **sums;
    double *weights;
} fed_sum;

vkt_status fed_sum_init(fed_sum *s, int count, const size_t *numel);
void fed_sum_free(fed_sum *s);
void fed_sum_clear(fed_sum *s);
/* sums[index] += coefficient * values; weights[index] += weight (> 0). */
void fed_sum_add(fed_sum *s, int index, const float *values, size_t numel, double coefficient, double weight);

/* One version the aggregator accepts updates for. */
typedef struct fed_version {
    uint64_t version;
    uint8_t hash[VKT_MODEL_HASH_BYTES];
} fed_version;

/* A client's update as submit.c sees it, whatever it came from. */
typedef struct fed_input {
    uint64_t client_id;
    uint64_t version;
    uint32_t example_count;
    int count;
    const vkt_update_tensor *tensors; /* count entries */
} fed_input;

struct vkt_fed_aggregator {
    vkt_fed_options opt;  /* defaults filled in */
    int count;
    fed_tensor *tensors;
    uint64_t version;
    /* The hashes of the versions still accepted, newest first: 1 entry
     * for FedAvg, max_staleness + 1 for FedBuff. */
    fed_version *window;
    int window_len, window_cap;
    vkt_update_receiver *rx; /* NULL without keys */

    fed_sum sum;
    int pending;              /* accepted updates in the sum */
    uint64_t *clients;        /* FedAvg: ids accepted this round */
    int client_cap;
    double client_norm_sum;
    double staleness_sum;
    vkt_fed_round_stats stats; /* the pending round's counts */
    vkt_fed_round_stats last;
};

/* Index of the tensor named `name`, or -1. */
int fed_find_tensor(const vkt_fed_aggregator *agg, const char *name);
/* The window entry of `version`, or NULL. */
const fed_version *fed_window_find(const vkt_fed_aggregator *agg, uint64_t version);
/* The hash of the model with replace[i] (when not NULL) in place of
 * tensor i's values; replace may be NULL. */
vkt_status fed_model_hash(const vkt_fed_aggregator *agg, float *const *replace, uint8_t out[VKT_MODEL_HASH_BYTES]);
/* Make agg->version, whose model has `hash`, the newest accepted version
 * (the oldest falls out of the window). */
void fed_window_push(vkt_fed_aggregator *agg, const uint8_t hash[VKT_MODEL_HASH_BYTES]);

/* Check and add one update (submit.c); packet_bytes counts as accepted
 * bytes when it is. */
vkt_status fed_add(vkt_fed_aggregator *agg, const fed_input *in, size_t packet_bytes, vkt_fed_receipt *r);
/* Count a refusal in the pending stats and fill the receipt. */
vkt_status fed_refuse(vkt_fed_aggregator *agg, vkt_fed_receipt *r, vkt_fed_refusal why, vkt_status status);

/* Apply the pending sum to the model (apply.c): all or nothing. On
 * success the version advances and agg->last describes the step. */
vkt_status fed_apply(vkt_fed_aggregator *agg);
/* Forget the pending sum and counts. */
void fed_reset_pending(vkt_fed_aggregator *agg);

#endif
