/* Helpers for the update-packet tests: deterministic keys, an encoder
 * and a receiver that know each other, and random tensors. */
#ifndef VKT_UPDATE_HARNESS_H
#define VKT_UPDATE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/update.h>

#define UH_MAX_TENSORS 8
#define UH_ROUND 7
#define UH_CLIENT 42

typedef struct uh_env {
    vkt_keypair aggregator, client;
    vkt_update_encoder *enc;
    vkt_update_receiver *rx;
    uint8_t model_hash[VKT_MODEL_HASH_BYTES];
} uh_env;

/* Keys from fixed seeds, an encoder with `codec` and a fixed test seed,
 * a receiver on round UH_ROUND that knows client UH_CLIENT. */
void uh_env_init(uh_env *e, const vkt_update_codec *codec);
void uh_env_free(uh_env *e);

/* A model: tensors with owned values. */
typedef struct uh_model {
    int count;
    vkt_update_tensor t[UH_MAX_TENSORS];
} uh_model;

/* Add a tensor of shape dims[0..rank) filled with N(mean 0, std) values. */
void uh_model_add(uh_model *m, const char *name, int rank, const int64_t *dims, uint64_t seed, float std);
/* A copy of m with N(0, std) added to every value. */
void uh_model_perturb(const uh_model *m, uh_model *out, uint64_t seed, float std);
void uh_model_free(uh_model *m);
size_t uh_numel(const vkt_update_tensor *t);

/* Encode base -> trained with e's encoder for round UH_ROUND. */
void uh_encode(uh_env *e, const uh_model *base, const uh_model *trained, uint8_t **packet, size_t *size);

#endif
