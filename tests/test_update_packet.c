/* Update packets end to end: every codec combination round trips with
 * the expected accuracy; every bit flip, truncation and trailing byte is
 * refused; replayed, stale and foreign packets are refused; the graph
 * convenience and the encoder state file work; a realistic update
 * compresses over 100x. */
#include "test_util.h"
#include "update_harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

/* ---- a small model -------------------------------------------------- */

static void small_model(uh_model *base, uh_model *trained)
{
    memset(base, 0, sizeof *base);
    uh_model_add(base, "fc1.weight", 2, (int64_t[]){64, 50}, 11, 0.1f);
    uh_model_add(base, "fc1.bias", 1, (int64_t[]){64}, 12, 0.1f);
    uh_model_add(base, "fc2.weight", 2, (int64_t[]){10, 64}, 13, 0.1f);
    uh_model_add(base, "scale", 0, NULL, 14, 1.0f);
    uh_model_perturb(base, trained, 100, 0.01f);
}

static const float *expected_delta(const uh_model *base, const uh_model *trained, int i)
{
    size_t n = uh_numel(&base->t[i]);
    float *d = malloc(n * sizeof *d);
    for (size_t j = 0; j < n; j++)
        d[j] = trained->t[i].values[j] - base->t[i].values[j];
    return d;
}

/* ---- round trip of every codec combination --------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Threshold: the k-th largest |d|. */
static float kth_magnitude(const float *d, size_t n, uint32_t k)
{
    float *m = malloc(n * sizeof *m);
    for (size_t j = 0; j < n; j++)
        m[j] = fabsf(d[j]);
    qsort(m, n, sizeof *m, cmp_desc);
    float t = m[k - 1];
    free(m);
    return t;
}

static void check_tensor(const vkt_update_codec *c, const float *want, const float *got, size_t n, const char *name)
{
    bool topk = c->topk_fraction > 0.0f && c->topk_fraction < 1.0f;
    uint32_t k = topk ? (uint32_t)ceil((double)c->topk_fraction * (double)n) : (uint32_t)n;
    if (k < 1)
        k = 1;
    float thr = topk ? kth_magnitude(want, n, k) : 0.0f;
    /* Walk the sent positions in index order to rebuild int8 blocks. */
    uint32_t *sent = malloc(n * sizeof *sent);
    uint32_t ns = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (fabsf(want[j]) >= thr && ns < k)
            sent[ns++] = j;
        else if (got[j] != 0.0f)
            fail_msg("%s[%u]: %g sent but not among the top %u", name, j, (double)got[j], k);
    }
    assert_int_equal(ns, k);
    for (uint32_t s = 0; s < ns; s++) {
        uint32_t j = sent[s];
        if (c->int8_block == 0) {
            if (got[j] != want[j])
                fail_msg("%s[%u]: %.9g, want %.9g (lossless path must be exact)", name, j, (double)got[j],
                         (double)want[j]);
            continue;
        }
        uint32_t b0 = s / (uint32_t)c->int8_block * (uint32_t)c->int8_block;
        float max_abs = 0.0f;
        for (uint32_t t = b0; t < ns && t < b0 + (uint32_t)c->int8_block; t++)
            max_abs = fmaxf(max_abs, fabsf(want[sent[t]]));
        float step = max_abs / 127.0f;
        if (fabsf(got[j] - want[j]) > step * 1.0001f)
            fail_msg("%s[%u]: int8 error %g over one step %g", name, j, (double)fabsf(got[j] - want[j]),
                     (double)step);
    }
    free(sent);
}

static void round_trip(const vkt_update_codec *c)
{
    uh_env e;
    uh_env_init(&e, c);
    uh_model base, trained;
    small_model(&base, &trained);
    uint8_t *pkt;
    size_t size;
    uh_encode(&e, &base, &trained, &pkt, &size);

    vkt_update *u;
    vkt_status st = vkt_update_receive(e.rx, pkt, size, &u);
    if (st != VKT_OK)
        fail_msg("receive: %s", vkt_last_error());
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    assert_int_equal(info.round_id, UH_ROUND);
    assert_int_equal(info.client_id, UH_CLIENT);
    assert_int_equal(info.sequence, 1);
    assert_int_equal(info.example_count, 100);
    assert_int_equal(info.tensor_count, 4);
    assert_int_equal(info.elements, 64 * 50 + 64 + 640 + 1);
    assert_int_equal(info.packet_bytes, size);
    assert_int_equal(info.int8_block, c->int8_block);
    assert_true(info.zstd == (c->zstd_level > 0));
    assert_true(info.dp_clip == c->dp_clip && info.dp_noise == c->dp_noise);
    assert_true(info.topk_fraction == c->topk_fraction);

    /* Expected update: the delta, clipped when DP is on (noise 0 here). */
    double norm2 = 0.0;
    const float *want[4];
    for (int i = 0; i < 4; i++) {
        want[i] = expected_delta(&base, &trained, i);
        for (size_t j = 0; j < uh_numel(&base.t[i]); j++)
            norm2 += (double)want[i][j] * want[i][j];
    }
    double factor = c->dp_clip > 0.0f && sqrt(norm2) > c->dp_clip ? c->dp_clip / sqrt(norm2) : 1.0;
    assert_int_equal(vkt_update_tensor_count(u), 4);
    for (int i = 0; i < 4; i++) {
        vkt_update_tensor t;
        assert_int_equal(vkt_update_find_tensor(u, base.t[i].name, &t), VKT_OK);
        assert_int_equal(t.rank, base.t[i].rank);
        for (int d = 0; d < t.rank; d++)
            assert_int_equal(t.dims[d], base.t[i].dims[d]);
        size_t n = uh_numel(&base.t[i]);
        float *w = (float *)want[i];
        for (size_t j = 0; factor != 1.0 && j < n; j++)
            w[j] = (float)((double)w[j] * factor);
        if (factor != 1.0 && c->int8_block == 0) {
            /* The encoder's norm sums in name order: allow the last bit. */
            for (size_t j = 0; j < n; j++)
                if (fabsf(t.values[j] - w[j]) > 1e-6f * fabsf(w[j]) && t.values[j] != 0.0f)
                    fail_msg("%s[%zu]: clipped %g, want %g", t.name, j, (double)t.values[j], (double)w[j]);
        } else {
            check_tensor(c, w, t.values, n, t.name);
        }
        free(w);
    }
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

static void test_every_codec_combination(void **state)
{
    (void)state;
    for (int mask = 0; mask < 16; mask++) {
        vkt_update_codec c = {
            .topk_fraction = (mask & 1) ? 0.05f : 0.0f,
            .int8_block = (mask & 2) ? 64 : 0,
            .zstd_level = (mask & 4) ? 3 : 0,
            .dp_clip = (mask & 8) ? 0.05f : 0.0f, /* below the update's norm: clips */
            .dp_noise = 0.0f,
            .error_feedback = true,
        };
        round_trip(&c);
    }
}

/* Encodes small_model with codec `c` and checks what arrives: tensors
 * of at most whole_up_to elements bit-exact, larger ones as exactly
 * their top-k count of values (c has no int8 stage). */
static void check_sent(const vkt_update_codec *c, size_t whole_up_to)
{
    uh_env e;
    uh_env_init(&e, c);
    uh_model base, trained;
    small_model(&base, &trained);
    uint8_t *pkt;
    size_t size;
    uh_encode(&e, &base, &trained, &pkt, &size);
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    for (int i = 0; i < base.count; i++) {
        vkt_update_tensor t;
        assert_int_equal(vkt_update_find_tensor(u, base.t[i].name, &t), VKT_OK);
        size_t n = uh_numel(&base.t[i]), nonzero = 0;
        for (size_t j = 0; j < n; j++) {
            float d = trained.t[i].values[j] - base.t[i].values[j];
            nonzero += t.values[j] != 0.0f;
            if (n <= whole_up_to)
                assert_memory_equal(&t.values[j], &d, sizeof d);
        }
        if (n > whole_up_to)
            assert_int_equal(nonzero, (size_t)ceil((double)c->topk_fraction * (double)n));
    }
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

/* Dense fp32 (every stage off) is bit-exact. */
static void test_dense_fp32_is_exact(void **state)
{
    (void)state;
    vkt_update_codec c = {0};
    check_sent(&c, SIZE_MAX);
}

/* topkmin: tensors up to the threshold arrive whole (exact without int8),
 * larger ones as their top k. */
static void test_topk_min_numel(void **state)
{
    (void)state;
    vkt_update_codec c = {0};
    assert_int_equal(vkt_update_codec_parse("topk=0.05,topkmin=64", &c), VKT_OK);
    assert_true(c.topk_min_numel == 64);
    check_sent(&c, 64);
}

/* ---- tampering --------------------------------------------------------- */

static void tiny_model(uh_model *base, uh_model *trained)
{
    memset(base, 0, sizeof *base);
    uh_model_add(base, "a.weight", 2, (int64_t[]){3, 4}, 21, 0.5f);
    uh_model_add(base, "a.bias", 1, (int64_t[]){3}, 22, 0.5f);
    uh_model_perturb(base, trained, 200, 0.1f);
}

static void expect_refused(uh_env *e, const uint8_t *pkt, size_t size, const char *what, size_t at)
{
    vkt_update *u = (vkt_update *)0x1;
    vkt_status st = vkt_update_receive(e->rx, pkt, size, &u);
    if (st == VKT_OK)
        fail_msg("%s %zu: accepted", what, at);
    assert_null(u);
    assert_true(vkt_last_error()[0] != '\0');
}

static void tamper(const vkt_update_codec *c)
{
    uh_env e;
    uh_env_init(&e, c);
    uh_model base, trained;
    tiny_model(&base, &trained);
    uint8_t *pkt;
    size_t size;
    uh_encode(&e, &base, &trained, &pkt, &size);

    uint8_t *copy = malloc(size + 1);
    for (size_t bit = 0; bit < 8 * size; bit++) {
        memcpy(copy, pkt, size);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        expect_refused(&e, copy, size, "bit flip", bit);
    }
    for (size_t len = 0; len < size; len++)
        expect_refused(&e, pkt, len, "truncation to", len);
    memcpy(copy, pkt, size);
    copy[size] = 0;
    expect_refused(&e, copy, size + 1, "trailing byte", 0);

    /* None of that moved the replay window: the original still passes. */
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    vkt_update_destroy(u);
    free(copy);
    vkt_update_packet_free(pkt);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

static void test_bit_flips_truncations_trailing(void **state)
{
    (void)state;
    vkt_update_codec dense = {0};
    tamper(&dense);
    vkt_update_codec all = {.topk_fraction = 0.3f, .error_feedback = true, .int8_block = 4, .zstd_level = 3,
                            .dp_clip = 1.0f, .dp_noise = 0.1f};
    tamper(&all);
}

/* ---- replay, stale, foreign ------------------------------------------ */

static void test_replay_and_stale(void **state)
{
    (void)state;
    vkt_update_codec c = {.topk_fraction = 0.5f, .error_feedback = true};
    uh_env e;
    uh_env_init(&e, &c);
    uh_model base, trained;
    tiny_model(&base, &trained);
    uint8_t *p1, *p2;
    size_t s1, s2;
    uh_encode(&e, &base, &trained, &p1, &s1);
    uh_encode(&e, &base, &trained, &p2, &s2);
    assert_int_equal(vkt_update_encoder_sequence(e.enc), 3);

    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, p2, s2, &u), VKT_OK);
    vkt_update_destroy(u);
    assert_int_equal(vkt_update_receive(e.rx, p2, s2, &u), VKT_ERR_STATE); /* the same again */
    assert_non_null(strstr(vkt_last_error(), "replay"));
    assert_int_equal(vkt_update_receive(e.rx, p1, s1, &u), VKT_ERR_STATE); /* an older one */
    uint64_t last;
    assert_int_equal(vkt_update_receiver_last_sequence(e.rx, UH_CLIENT, &last), VKT_OK);
    assert_int_equal(last, 2);

    /* The next round: packets of round 7 are stale. */
    assert_int_equal(vkt_update_receiver_set_round(e.rx, UH_ROUND + 1, e.model_hash), VKT_OK);
    uint8_t *p3;
    size_t s3;
    uh_encode(&e, &base, &trained, &p3, &s3);
    assert_int_equal(vkt_update_receive(e.rx, p3, s3, &u), VKT_ERR_STATE);
    assert_non_null(strstr(vkt_last_error(), "round"));

    /* Another base model. */
    uint8_t other[VKT_MODEL_HASH_BYTES];
    memcpy(other, e.model_hash, sizeof other);
    other[5] ^= 1;
    assert_int_equal(vkt_update_receiver_set_round(e.rx, UH_ROUND, other), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, p3, s3, &u), VKT_ERR_STATE);
    assert_non_null(strstr(vkt_last_error(), "model"));

    /* A receiver restored with the replay window refuses it too. */
    vkt_update_receiver *rx2;
    assert_int_equal(vkt_update_receiver_create(&e.aggregator, NULL, &rx2), VKT_OK);
    assert_int_equal(vkt_update_receiver_set_round(rx2, UH_ROUND, e.model_hash), VKT_OK);
    assert_int_equal(vkt_update_receiver_add_client(rx2, UH_CLIENT, e.client.public_key, 3), VKT_OK);
    assert_int_equal(vkt_update_receive(rx2, p3, s3, &u), VKT_ERR_STATE);
    vkt_update_receiver_destroy(rx2);

    vkt_update_packet_free(p1);
    vkt_update_packet_free(p2);
    vkt_update_packet_free(p3);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

static void test_foreign_keys_and_clients(void **state)
{
    (void)state;
    vkt_update_codec c = {0};
    uh_env e;
    uh_env_init(&e, &c);
    uh_model base, trained;
    tiny_model(&base, &trained);
    vkt_update_round round = {.round_id = UH_ROUND, .example_count = 1};
    vkt_update *u;
    uint8_t *pkt;
    size_t size;

    /* Sealed for another aggregator. */
    vkt_keypair other;
    assert_int_equal(vkt_keypair_generate(&other), VKT_OK);
    vkt_update_encoder *enc;
    assert_int_equal(vkt_update_encoder_create(&c, UH_CLIENT, &e.client, other.public_key, &enc), VKT_OK);
    assert_int_equal(vkt_update_encode(enc, &round, e.model_hash, base.t, trained.t, base.count, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_ERR_FORMAT);
    assert_non_null(strstr(vkt_last_error(), "authentication"));
    vkt_update_packet_free(pkt);
    vkt_update_encoder_destroy(enc);

    /* The registered client id with another client key. */
    assert_int_equal(vkt_update_encoder_create(&c, UH_CLIENT, &other, e.aggregator.public_key, &enc), VKT_OK);
    assert_int_equal(vkt_update_encode(enc, &round, e.model_hash, base.t, trained.t, base.count, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_ERR_FORMAT);
    assert_non_null(strstr(vkt_last_error(), "registered key"));
    vkt_update_packet_free(pkt);
    vkt_update_encoder_destroy(enc);

    /* An unknown client id: refused, unless trust on first use. */
    assert_int_equal(vkt_update_encoder_create(&c, 999, &other, e.aggregator.public_key, &enc), VKT_OK);
    assert_int_equal(vkt_update_encode(enc, &round, e.model_hash, base.t, trained.t, base.count, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_ERR_NOT_FOUND);
    vkt_update_receiver *tofu;
    vkt_update_receiver_options o = {.accept_unknown_clients = true};
    assert_int_equal(vkt_update_receiver_create(&e.aggregator, &o, &tofu), VKT_OK);
    assert_int_equal(vkt_update_receiver_set_round(tofu, UH_ROUND, e.model_hash), VKT_OK);
    assert_int_equal(vkt_update_receive(tofu, pkt, size, &u), VKT_OK);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);
    vkt_update_encoder_destroy(enc);
    /* Id 999 is now bound to `other`'s key. */
    assert_int_equal(vkt_update_encoder_create(&c, 999, &e.client, e.aggregator.public_key, &enc), VKT_OK);
    vkt_update_encoder_set_sequence(enc, 5);
    assert_int_equal(vkt_update_encode(enc, &round, e.model_hash, base.t, trained.t, base.count, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(tofu, pkt, size, &u), VKT_ERR_FORMAT);
    vkt_update_packet_free(pkt);
    vkt_update_encoder_destroy(enc);
    vkt_update_receiver_destroy(tofu);

    /* No round set yet. */
    vkt_update_receiver *idle;
    assert_int_equal(vkt_update_receiver_create(&e.aggregator, NULL, &idle), VKT_OK);
    uh_encode(&e, &base, &trained, &pkt, &size);
    assert_int_equal(vkt_update_receive(idle, pkt, size, &u), VKT_ERR_STATE);
    vkt_update_receiver_destroy(idle);
    vkt_update_packet_free(pkt);

    vkt_keypair_wipe(&other);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

/* ---- bad encoder input ----------------------------------------------- */

static void test_encoder_refuses_bad_input(void **state)
{
    (void)state;
    vkt_update_codec c = {.topk_fraction = 0.5f};
    uh_env e;
    uh_env_init(&e, &c);
    uh_model base, trained;
    tiny_model(&base, &trained);
    vkt_update_round round = {.round_id = UH_ROUND};
    uint8_t *pkt = (uint8_t *)0x1;
    size_t size;

    ((float *)trained.t[0].values)[3] = NAN;
    assert_int_equal(vkt_update_encode(e.enc, &round, e.model_hash, base.t, trained.t, 2, &pkt, &size),
                     VKT_ERR_INVALID_ARG);
    assert_null(pkt);
    ((float *)trained.t[0].values)[3] = 0.0f;

    vkt_update_tensor swapped[2] = {trained.t[1], trained.t[0]};
    assert_int_equal(vkt_update_encode(e.enc, &round, e.model_hash, base.t, swapped, 2, &pkt, &size), VKT_ERR_SHAPE);
    vkt_update_tensor dup[2] = {trained.t[0], trained.t[0]};
    vkt_update_tensor dup_base[2] = {base.t[0], base.t[0]};
    assert_int_equal(vkt_update_encode(e.enc, &round, e.model_hash, dup_base, dup, 2, &pkt, &size),
                     VKT_ERR_INVALID_ARG);
    vkt_update_tensor bad = trained.t[0];
    bad.name = "has space";
    assert_int_equal(vkt_update_encode_delta(e.enc, &round, e.model_hash, &bad, 1, &pkt, &size), VKT_ERR_INVALID_ARG);
    bad.name = "ok";
    bad.dims[0] = 0;
    assert_int_equal(vkt_update_encode_delta(e.enc, &round, e.model_hash, &bad, 1, &pkt, &size), VKT_ERR_INVALID_ARG);
    /* Nothing was sent: the sequence did not move. */
    assert_int_equal(vkt_update_encoder_sequence(e.enc), 1);

    vkt_update_codec bad_codec = {.dp_noise = 1.0f};
    vkt_update_encoder *enc = (vkt_update_encoder *)0x1;
    assert_int_equal(vkt_update_encoder_create(&bad_codec, 1, &e.client, e.aggregator.public_key, &enc),
                     VKT_ERR_INVALID_ARG);
    assert_null(enc);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

static void test_codec_parse(void **state)
{
    (void)state;
    vkt_update_codec c;
    assert_int_equal(vkt_update_codec_parse("topk=0.01,ef,int8=256,zstd=3,dp=1.5:0.8", &c), VKT_OK);
    assert_true(c.topk_fraction == 0.01f && c.error_feedback && c.int8_block == 256 && c.zstd_level == 3);
    assert_true(c.dp_clip == 1.5f && c.dp_noise == 0.8f);
    assert_int_equal(vkt_update_codec_parse("dense", &c), VKT_OK);
    assert_true(c.topk_fraction == 0.0f && !c.error_feedback && c.int8_block == 0 && c.zstd_level == 0);
    const char *bad[] = {"", "topk=1.5", "topk=0", "int8=0", "int8=x", "zstd=99", "dp=1", "dp=0:1", "dense,ef",
                         "fast", "topk=0.1,", "ef=1", "topkmin=0", "topkmin=-3", "topkmin"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (vkt_update_codec_parse(bad[i], &c) != VKT_ERR_INVALID_ARG)
            fail_msg("'%s' parsed", bad[i]);
}

/* ---- model hash ---------------------------------------------------------- */

static void test_model_hash(void **state)
{
    (void)state;
    uh_model m, n;
    tiny_model(&m, &n);
    uint8_t h1[32], h2[32];
    assert_int_equal(vkt_model_hash(m.t, 2, h1), VKT_OK);
    vkt_update_tensor rev[2] = {m.t[1], m.t[0]};
    assert_int_equal(vkt_model_hash(rev, 2, h2), VKT_OK);
    assert_memory_equal(h1, h2, 32); /* order does not matter */
    ((float *)m.t[1].values)[2] = -((float *)m.t[1].values)[2];
    assert_int_equal(vkt_model_hash(m.t, 2, h2), VKT_OK);
    assert_memory_not_equal(h1, h2, 32); /* a value does */
    ((float *)m.t[1].values)[2] = -((float *)m.t[1].values)[2];
    m.t[0].dims[0] = 4, m.t[0].dims[1] = 3;
    assert_int_equal(vkt_model_hash(m.t, 2, h2), VKT_OK);
    assert_memory_not_equal(h1, h2, 32); /* and so does a shape */

    /* A known answer, so a second implementation can check itself: one
     * tensor "w" of shape [2] holding {1, -2}. */
    float w[2] = {1.0f, -2.0f};
    vkt_update_tensor t = {.name = "w", .rank = 1, .dims = {2}, .values = w};
    assert_int_equal(vkt_model_hash(&t, 1, h2), VKT_OK);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h2[i]);
    printf("model hash of {w: [1, -2]}: %s\n", hex);
    uh_model_free(&m);
    uh_model_free(&n);
}

/* ---- graphs ---------------------------------------------------------------- */

static void test_graph_update(void **state)
{
    (void)state;
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(5, &g), VKT_OK);
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 1, (int[]){8});
    vkt_tensor h = vkt_batch_norm(g, vkt_linear(g, x, 6, true, "0"), 1e-5f, 0.1f, "1");
    vkt_linear(g, vkt_relu(g, h), 3, true, "3");
    assert_int_equal(vkt_graph_status(g), VKT_OK);

    vkt_update_base *base;
    assert_int_equal(vkt_update_base_create(g, &base), VKT_OK);
    uint8_t hb[32], hg[32];
    vkt_update_base_hash(base, hb);
    assert_int_equal(vkt_graph_model_hash(g, hg), VKT_OK);
    assert_memory_equal(hb, hg, 32);

    /* "Train": move two parameters and a running statistic. */
    float w[18], b[3];
    assert_int_equal(vkt_graph_param_get(g, "3.weight", w, 18), VKT_OK);
    assert_int_equal(vkt_graph_param_get(g, "3.bias", b, 3), VKT_OK);
    for (int i = 0; i < 18; i++)
        w[i] += 0.25f * (float)(i - 9);
    b[1] -= 1.0f;
    assert_int_equal(vkt_graph_param_set(g, "3.weight", w, 18), VKT_OK);
    assert_int_equal(vkt_graph_param_set(g, "3.bias", b, 3), VKT_OK);
    float rm[6] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(vkt_graph_param_set(g, "1.running_mean", rm, 6), VKT_OK);

    uh_env e;
    vkt_update_codec c = {0};
    uh_env_init(&e, &c);
    assert_int_equal(vkt_update_receiver_set_round(e.rx, UH_ROUND, hb), VKT_OK);
    vkt_update_round round = {.round_id = UH_ROUND, .example_count = 32};
    uint8_t *pkt;
    size_t size;
    vkt_update *u;

    /* The trainable subset named by the app. */
    const char *names[] = {"3.weight", "3.bias"};
    assert_int_equal(vkt_update_encode_graph(e.enc, &round, base, g, names, 2, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    assert_int_equal(vkt_update_tensor_count(u), 2);
    vkt_update_tensor t;
    assert_int_equal(vkt_update_find_tensor(u, "3.weight", &t), VKT_OK);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.dims[0], 3);
    for (int i = 0; i < 18; i++)
        assert_float_equal(t.values[i], 0.25f * (float)(i - 9), 1e-6);
    assert_int_equal(vkt_update_find_tensor(u, "3.bias", &t), VKT_OK);
    assert_float_equal(t.values[1], -1.0f, 1e-6);
    assert_int_equal(vkt_update_find_tensor(u, "0.weight", &t), VKT_ERR_NOT_FOUND);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);

    /* Every parameter that is not a state buffer. */
    assert_int_equal(vkt_update_encode_graph(e.enc, &round, base, g, NULL, 0, &pkt, &size), VKT_OK);
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    assert_int_equal(vkt_update_tensor_count(u), 6); /* 0.w 0.b 1.w 1.b 3.w 3.b */
    assert_int_equal(vkt_update_find_tensor(u, "1.running_mean", &t), VKT_ERR_NOT_FOUND);
    assert_int_equal(vkt_update_find_tensor(u, "0.weight", &t), VKT_OK);
    for (int i = 0; i < 48; i++)
        assert_true(t.values[i] == 0.0f);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);

    const char *missing[] = {"nope"};
    assert_int_equal(vkt_update_encode_graph(e.enc, &round, base, g, missing, 1, &pkt, &size), VKT_ERR_NOT_FOUND);

    uh_env_free(&e);
    vkt_update_base_destroy(base);
    vkt_graph_destroy(g);
}

/* ---- encoder state --------------------------------------------------------- */

static void test_encoder_state_file(void **state)
{
    (void)state;
    vkt_update_codec c = {.topk_fraction = 0.25f, .error_feedback = true, .int8_block = 8};
    uh_env e;
    uh_env_init(&e, &c);
    uh_model base, trained;
    tiny_model(&base, &trained);
    uint8_t *pkt;
    size_t size;
    uh_encode(&e, &base, &trained, &pkt, &size);
    vkt_update_packet_free(pkt);
    vkt_update_stats st1;
    assert_int_equal(vkt_update_encoder_stats(e.enc, &st1), VKT_OK);
    assert_true(st1.residual_norm > 0.0);

    char *path = tu_temp_path("update_state.safetensors");
    assert_int_equal(vkt_update_encoder_save_state(e.enc, path), VKT_OK);

    /* A fresh encoder of the same client picks up residuals and sequence. */
    vkt_update_encoder *enc2;
    assert_int_equal(vkt_update_encoder_create(&c, UH_CLIENT, &e.client, e.aggregator.public_key, &enc2), VKT_OK);
    assert_int_equal(vkt_update_encoder_load_state(enc2, path), VKT_OK);
    assert_int_equal(vkt_update_encoder_sequence(enc2), 2);
    /* A zero update then sends (part of) the residual alone. */
    uh_model zero;
    uh_model_perturb(&base, &zero, 300, 0.0f);
    vkt_update_round round = {.round_id = UH_ROUND, .example_count = 1};
    assert_int_equal(vkt_update_encode(enc2, &round, e.model_hash, base.t, zero.t, 2, &pkt, &size), VKT_OK);
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    assert_int_equal(info.sequence, 2);
    vkt_update_tensor t;
    assert_int_equal(vkt_update_get_tensor(u, 0, &t), VKT_OK);
    double sum = 0.0;
    for (size_t j = 0; j < uh_numel(&t); j++)
        sum += fabs(t.values[j]);
    assert_true(sum > 0.0);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);

    /* Another client's encoder refuses the file and keeps its state. */
    vkt_update_encoder *enc3;
    assert_int_equal(vkt_update_encoder_create(&c, UH_CLIENT + 1, &e.client, e.aggregator.public_key, &enc3), VKT_OK);
    assert_int_equal(vkt_update_encoder_load_state(enc3, path), VKT_ERR_STATE);
    assert_int_equal(vkt_update_encoder_sequence(enc3), 1);

    vkt_update_encoder_destroy(enc2);
    vkt_update_encoder_destroy(enc3);
    remove(path);
    free(path);
    uh_model_free(&zero);
    uh_model_free(&base);
    uh_model_free(&trained);
    uh_env_free(&e);
}

/* ---- compression ----------------------------------------------------------- */

/* About 100k parameters, like a 784-128-10 MLP; the update of local
 * training is dense with a heavy tail, approximated here by Gaussian
 * values with a few large ones. */
static void mlp_model(uh_model *base, uh_model *trained)
{
    memset(base, 0, sizeof *base);
    uh_model_add(base, "0.weight", 2, (int64_t[]){128, 784}, 31, 0.03f);
    uh_model_add(base, "0.bias", 1, (int64_t[]){128}, 32, 0.03f);
    uh_model_add(base, "2.weight", 2, (int64_t[]){10, 128}, 33, 0.08f);
    uh_model_add(base, "2.bias", 1, (int64_t[]){10}, 34, 0.08f);
    uh_model_perturb(base, trained, 400, 0.002f);
}

static size_t packet_size_for(const char *codec_text, const uh_model *base, const uh_model *trained, size_t *dense)
{
    vkt_update_codec c;
    assert_int_equal(vkt_update_codec_parse(codec_text, &c), VKT_OK);
    uh_env e;
    uh_env_init(&e, &c);
    uint8_t *pkt;
    size_t size;
    uh_encode(&e, base, trained, &pkt, &size);
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    *dense = (size_t)info.elements * sizeof(float);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);
    uh_env_free(&e);
    return size;
}

static void test_compression_ratio(void **state)
{
    (void)state;
    uh_model base, trained;
    mlp_model(&base, &trained);
    const char *codecs[] = {
        "dense", "zstd=3", "int8=256", "int8=256,zstd=3", "topk=0.1,ef,int8=256,zstd=3",
        "topk=0.01,ef", "topk=0.01,ef,int8=256", "topk=0.01,ef,int8=256,zstd=3", "topk=0.01,ef,int8=256,zstd=19",
        "topk=0.005,ef,int8=256,zstd=3",
    };
    double ratio_1pct = 0.0;
    for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++) {
        size_t dense;
        size_t size = packet_size_for(codecs[i], &base, &trained, &dense);
        double ratio = (double)dense / (double)size;
        printf("update of %zu fp32 bytes, codec %-32s packet %7zu bytes, %7.1fx smaller\n", dense, codecs[i], size,
               ratio);
        if (strcmp(codecs[i], "topk=0.01,ef,int8=256,zstd=3") == 0)
            ratio_1pct = ratio;
        if (strcmp(codecs[i], "dense") == 0)
            assert_true(size < dense + 512); /* framing overhead only */
    }
    assert_true(ratio_1pct >= 100.0);
    uh_model_free(&base);
    uh_model_free(&trained);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_codec_combination),
        cmocka_unit_test(test_dense_fp32_is_exact),
        cmocka_unit_test(test_topk_min_numel),
        cmocka_unit_test(test_bit_flips_truncations_trailing),
        cmocka_unit_test(test_replay_and_stale),
        cmocka_unit_test(test_foreign_keys_and_clients),
        cmocka_unit_test(test_encoder_refuses_bad_input),
        cmocka_unit_test(test_codec_parse),
        cmocka_unit_test(test_model_hash),
        cmocka_unit_test(test_graph_update),
        cmocka_unit_test(test_encoder_state_file),
        cmocka_unit_test(test_compression_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
