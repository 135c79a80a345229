/* Aggregation test helpers. */
#include "fed_harness.h"

#include "test_util.h"

#include <math.h>
#include <string.h>

static void set_views(fh_model *m)
{
    static const char *const names[FH_TENSORS] = {"a.weight", "a.bias", "b.weight"};
    static const int ranks[FH_TENSORS] = {2, 1, 2};
    static const int64_t dims[FH_TENSORS][2] = {{2, 3}, {2, 0}, {1, 2}};
    static const int offsets[FH_TENSORS] = {0, 6, 8};
    for (int i = 0; i < FH_TENSORS; i++) {
        memset(&m->t[i], 0, sizeof m->t[i]);
        m->t[i].name = names[i];
        m->t[i].rank = ranks[i];
        for (int d = 0; d < ranks[i]; d++)
            m->t[i].dims[d] = dims[i][d];
        m->t[i].values = m->values + offsets[i];
    }
}

void fh_model_init(fh_model *m, float v0, float step)
{
    for (int i = 0; i < FH_NUMEL; i++)
        m->values[i] = v0 + (float)i * step;
    set_views(m);
}

void fh_model_fill(fh_model *m, float a_weight, float a_bias, float b_weight)
{
    for (int i = 0; i < FH_NUMEL; i++)
        m->values[i] = i < 6 ? a_weight : i < 8 ? a_bias : b_weight;
    set_views(m);
}

void fh_keys(uint8_t tag, vkt_keypair *out)
{
    uint8_t seed[VKT_KX_SEED_BYTES];
    for (int i = 0; i < VKT_KX_SEED_BYTES; i++)
        seed[i] = (uint8_t)(tag * 17 + i + 1);
    assert_int_equal(vkt_keypair_from_seed(seed, out), VKT_OK);
}

uint8_t *fh_packet(uint8_t client, uint64_t sequence, uint64_t version, const uint8_t hash[VKT_MODEL_HASH_BYTES],
                   const vkt_update_tensor *delta, int count, uint32_t examples, size_t *size)
{
    vkt_keypair agg_keys, keys;
    fh_keys(0, &agg_keys);
    fh_keys(client, &keys);
    vkt_update_codec codec;
    assert_int_equal(vkt_update_codec_parse("dense", &codec), VKT_OK);
    vkt_update_encoder *enc;
    assert_int_equal(vkt_update_encoder_create(&codec, client, &keys, agg_keys.public_key, &enc), VKT_OK);
    assert_int_equal(vkt_update_encoder_set_sequence(enc, sequence), VKT_OK);
    const vkt_update_round round = {.round_id = version, .example_count = examples};
    uint8_t *packet = NULL;
    vkt_status st = vkt_update_encode_delta(enc, &round, hash, delta, count, &packet, size);
    if (st != VKT_OK)
        fail_msg("encode: %s", vkt_last_error());
    vkt_update_encoder_destroy(enc);
    return packet;
}

vkt_fed_aggregator *fh_aggregator(const vkt_fed_options *opt, int clients)
{
    fh_model m;
    fh_model_init(&m, 0.0f, 1.0f);
    vkt_keypair agg_keys;
    fh_keys(0, &agg_keys);
    vkt_fed_aggregator *agg = NULL;
    vkt_status st = vkt_fed_aggregator_create(m.t, FH_TENSORS, &agg_keys, opt, &agg);
    if (st != VKT_OK)
        fail_msg("aggregator: %s", vkt_last_error());
    for (int c = 1; c <= clients; c++) {
        vkt_keypair keys;
        fh_keys((uint8_t)c, &keys);
        assert_int_equal(vkt_fed_aggregator_add_client(agg, (uint64_t)c, keys.public_key, 0), VKT_OK);
    }
    return agg;
}

void fh_global(const vkt_fed_aggregator *agg, float out[FH_NUMEL])
{
    static const char *const names[FH_TENSORS] = {"a.weight", "a.bias", "b.weight"};
    static const int offsets[FH_TENSORS] = {0, 6, 8}, sizes[FH_TENSORS] = {6, 2, 2};
    assert_int_equal(vkt_fed_aggregator_tensor_count(agg), FH_TENSORS);
    for (int i = 0; i < FH_TENSORS; i++) {
        vkt_update_tensor t;
        assert_int_equal(vkt_fed_aggregator_get_tensor(agg, i, &t), VKT_OK);
        assert_string_equal(t.name, names[i]);
        memcpy(out + offsets[i], t.values, (size_t)sizes[i] * sizeof *out);
    }
}

void fh_assert_close(const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol))
            fail_msg("element %zu: got %.9g, want %.9g", i, (double)got[i], (double)want[i]);
}
