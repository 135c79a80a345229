/* The client-side encoder object, shared by its files: encoder.c (the
 * pipeline), encoder_state.c (saving residuals), graph_update.c (the
 * graph convenience). */
#ifndef VKT_UPD_ENCODER_INTERNAL_H
#define VKT_UPD_ENCODER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <vktrain/update.h>

#include "rng.h"

/* Error feedback: what was not sent of one tensor, carried to the next
 * round. */
typedef struct upd_residual {
    char *name;
    uint32_t numel;
    float *values;
} upd_residual;

struct vkt_update_encoder {
    vkt_update_codec codec;
    uint64_t client_id;
    uint64_t next_sequence;
    vkt_keypair *keys; /* sodium_malloc'ed: guarded, locked, wiped on free */
    uint8_t aggregator_pk[VKT_KX_PUBLIC_KEY_BYTES];
    upd_residual *residuals;
    int residual_count;
    upd_rng rng;
    bool have_stats;
    vkt_update_stats stats;
};

/* Check codec settings (VKT_ERR_INVALID_ARG naming the bad field). */
vkt_status upd_codec_check(const vkt_update_codec *c);

/* The pipeline: update = values[i] - base[i] (or values[i] when base is
 * NULL), then DP, error feedback, compression, encryption. */
vkt_status upd_encode(vkt_update_encoder *enc, const vkt_update_round *round, const uint8_t *model_hash,
                      const vkt_update_tensor *base, const vkt_update_tensor *values, int count, uint8_t **packet,
                      size_t *size);

/* Free residual entries (wiping their values). */
void upd_residuals_free(upd_residual *r, int count);
double upd_residuals_norm(const upd_residual *r, int count);

#endif
