/* Update-packet test helpers. */
#include "update_harness.h"

#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

static void seed_bytes(uint8_t out[32], uint8_t tag)
{
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(tag * 31 + i);
}

void uh_env_init(uh_env *e, const vkt_update_codec *codec)
{
    memset(e, 0, sizeof *e);
    uint8_t seed[32];
    seed_bytes(seed, 1);
    assert_int_equal(vkt_keypair_from_seed(seed, &e->aggregator), VKT_OK);
    seed_bytes(seed, 2);
    assert_int_equal(vkt_keypair_from_seed(seed, &e->client), VKT_OK);
    for (int i = 0; i < VKT_MODEL_HASH_BYTES; i++)
        e->model_hash[i] = (uint8_t)(0xa0 + i);
    vkt_status st = vkt_update_encoder_create(codec, UH_CLIENT, &e->client, e->aggregator.public_key, &e->enc);
    if (st != VKT_OK)
        fail_msg("encoder: %s", vkt_last_error());
    seed_bytes(seed, 3);
    vkt_update_encoder_set_insecure_test_seed(e->enc, seed);
    assert_int_equal(vkt_update_receiver_create(&e->aggregator, NULL, &e->rx), VKT_OK);
    assert_int_equal(vkt_update_receiver_set_round(e->rx, UH_ROUND, e->model_hash), VKT_OK);
    assert_int_equal(vkt_update_receiver_add_client(e->rx, UH_CLIENT, e->client.public_key, 0), VKT_OK);
}

void uh_env_free(uh_env *e)
{
    vkt_update_encoder_destroy(e->enc);
    vkt_update_receiver_destroy(e->rx);
    vkt_keypair_wipe(&e->aggregator);
    vkt_keypair_wipe(&e->client);
}

size_t uh_numel(const vkt_update_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= (size_t)t->dims[d];
    return n;
}

/* Normal values from pairs of uniforms (Box-Muller). */
static void fill_normal(float *x, size_t n, uint64_t seed, float std)
{
    float *u = malloc((2 * n + 2) * sizeof *u);
    assert_non_null(u);
    tu_fill_uniform(u, 2 * n + 2, seed, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        double r = sqrt(-2.0 * log(1.0 - (double)u[2 * i]));
        x[i] = (float)(std * r * cos(2.0 * M_PI * (double)u[2 * i + 1]));
    }
    free(u);
}

void uh_model_add(uh_model *m, const char *name, int rank, const int64_t *dims, uint64_t seed, float std)
{
    assert_true(m->count < UH_MAX_TENSORS);
    vkt_update_tensor *t = &m->t[m->count++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->rank = rank;
    for (int d = 0; d < rank; d++)
        t->dims[d] = dims[d];
    float *v = malloc(uh_numel(t) * sizeof *v);
    assert_non_null(v);
    fill_normal(v, uh_numel(t), seed, std);
    t->values = v;
}

void uh_model_perturb(const uh_model *m, uh_model *out, uint64_t seed, float std)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->count; i++) {
        const vkt_update_tensor *t = &m->t[i];
        uh_model_add(out, t->name, t->rank, t->dims, seed + (uint64_t)i, std);
        float *v = (float *)out->t[i].values;
        for (size_t j = 0; j < uh_numel(t); j++)
            v[j] += t->values[j];
    }
}

void uh_model_free(uh_model *m)
{
    for (int i = 0; i < m->count; i++) {
        free((char *)m->t[i].name);
        free((float *)m->t[i].values);
    }
    m->count = 0;
}

void uh_encode(uh_env *e, const uh_model *base, const uh_model *trained, uint8_t **packet, size_t *size)
{
    vkt_update_round round = {.round_id = UH_ROUND, .example_count = 100};
    vkt_status st = vkt_update_encode(e->enc, &round, e->model_hash, base->t, trained->t, base->count, packet, size);
    if (st != VKT_OK)
        fail_msg("encode: %s", vkt_last_error());
}
