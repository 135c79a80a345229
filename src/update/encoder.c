/* The client side: the encoder object (keys in guarded memory, the
 * error-feedback residuals, the next sequence number, the RNG). The
 * pipeline that builds packets is in encode.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "dp.h"
#include "encoder_internal.h"
#include "tensors.h"
#include "runtime/rt_error.h"

void upd_residuals_free(upd_residual *r, int count)
{
    for (int i = 0; r && i < count; i++) {
        free(r[i].name);
        upd_wipe_free(r[i].values, (size_t)r[i].numel * sizeof(float));
    }
    free(r);
}

double upd_residuals_norm(const upd_residual *r, int count)
{
    double sum = 0.0;
    for (int i = 0; i < count; i++) {
        double n = upd_l2_norm(r[i].values, r[i].numel);
        sum += n * n;
    }
    return sqrt(sum);
}

/* ---- object ---------------------------------------------------------- */

vkt_status vkt_update_encoder_create(const vkt_update_codec *codec, uint64_t client_id,
                                     const vkt_keypair *client_keys,
                                     const uint8_t aggregator_public_key[VKT_KX_PUBLIC_KEY_BYTES],
                                     vkt_update_encoder **out)
{
    if (out)
        *out = NULL;
    if (!codec || !client_keys || !aggregator_public_key || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encoder_create: NULL argument");
    vkt_status st = upd_codec_check(codec);
    if (st == VKT_OK)
        st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    vkt_update_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encoder_create: out of memory");
    enc->keys = sodium_malloc(sizeof *enc->keys);
    if (!enc->keys) {
        free(enc);
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encoder_create: cannot allocate guarded key memory");
    }
    memcpy(enc->keys, client_keys, sizeof *enc->keys);
    memcpy(enc->aggregator_pk, aggregator_public_key, sizeof enc->aggregator_pk);
    enc->codec = *codec;
    enc->client_id = client_id;
    enc->next_sequence = 1;
    upd_rng_init(&enc->rng, NULL);
    *out = enc;
    return VKT_OK;
}

void vkt_update_encoder_destroy(vkt_update_encoder *enc)
{
    if (!enc)
        return;
    sodium_free(enc->keys); /* wipes */
    upd_residuals_free(enc->residuals, enc->residual_count);
    upd_rng_wipe(&enc->rng);
    sodium_memzero(enc, sizeof *enc);
    free(enc);
}

uint64_t vkt_update_encoder_sequence(const vkt_update_encoder *enc)
{
    return enc ? enc->next_sequence : 0;
}

vkt_status vkt_update_encoder_set_sequence(vkt_update_encoder *enc, uint64_t next_sequence)
{
    if (!enc || next_sequence == 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encoder_set_sequence: sequences start at 1");
    enc->next_sequence = next_sequence;
    return VKT_OK;
}

void vkt_update_encoder_reset_residuals(vkt_update_encoder *enc)
{
    if (!enc)
        return;
    upd_residuals_free(enc->residuals, enc->residual_count);
    enc->residuals = NULL;
    enc->residual_count = 0;
}

void vkt_update_encoder_set_insecure_test_seed(vkt_update_encoder *enc, const uint8_t seed[32])
{
    if (enc) {
        upd_rng_wipe(&enc->rng);
        upd_rng_init(&enc->rng, seed);
    }
}

vkt_status vkt_update_encoder_stats(const vkt_update_encoder *enc, vkt_update_stats *out)
{
    if (!enc || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encoder_stats: NULL argument");
    if (!enc->have_stats)
        return rt_error(VKT_ERR_STATE, "vkt_update_encoder_stats: no packet built yet");
    *out = enc->stats;
    return VKT_OK;
}

void vkt_update_packet_free(uint8_t *packet)
{
    free(packet);
}
