/* Helpers for the aggregation tests: a tiny model, client keys from
 * fixed seeds, and dense packets that carry exact deltas. */
#ifndef VKT_FED_HARNESS_H
#define VKT_FED_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/vktrain.h>

#define FH_TENSORS 3
#define FH_NUMEL 10 /* 6 + 2 + 2 */

/* "a.weight" [2, 3], "a.bias" [2], "b.weight" [1, 2]; values[] holds all
 * ten values in that order. */
typedef struct fh_model {
    float values[FH_NUMEL];
    vkt_update_tensor t[FH_TENSORS];
} fh_model;

/* The model with values v0 + i * step. */
void fh_model_init(fh_model *m, float v0, float step);
/* A model-shaped delta filled with one value per tensor. */
void fh_model_fill(fh_model *m, float a_weight, float a_bias, float b_weight);

/* Fixed key pairs: tag 0 is the aggregator, 1.. are clients. */
void fh_keys(uint8_t tag, vkt_keypair *out);

/* A dense packet from client `client` (keys fh_keys(client)) with
 * sequence `sequence` carrying `delta` (count tensors) for the model of
 * `version` whose hash is `hash`. Free with vkt_update_packet_free. */
uint8_t *fh_packet(uint8_t client, uint64_t sequence, uint64_t version, const uint8_t hash[VKT_MODEL_HASH_BYTES],
                   const vkt_update_tensor *delta, int count, uint32_t examples, size_t *size);

/* An aggregator over fh_model_init(m, 0, 1) with the aggregator keys and
 * clients 1..clients registered. */
vkt_fed_aggregator *fh_aggregator(const vkt_fed_options *opt, int clients);

/* Every value of the global model, in fh_model order. */
void fh_global(const vkt_fed_aggregator *agg, float out[FH_NUMEL]);
void fh_assert_close(const float *got, const float *want, size_t n, double tol);

#endif
