/* FedAvg aggregation: the weighted mean against values computed by
 * hand, partial updates, bad packets among good ones (each refused for
 * its own reason, the round completing with the rest), the minimum
 * number of clients, the written model loading back into a graph, and
 * key files. */
#include "fed_harness.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const uint8_t zero_hash[VKT_MODEL_HASH_BYTES];

static void hash_of(const vkt_fed_aggregator *agg, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    vkt_fed_aggregator_model_hash(agg, out);
}

/* Three clients with 1, 2 and 3 examples:
 *   a.weight  (1*6 + 2*3 + 3*-2) / 6 = 1
 *   a.bias    (1*-3 + 2*0 + 3*2) / 6 = 0.5
 *   b.weight  (1*1.5 + 2*-1.5 + 3*2.5) / 6 = 1 */
static const float client_delta[3][3] = {{6.0f, -3.0f, 1.5f}, {3.0f, 0.0f, -1.5f}, {-2.0f, 2.0f, 2.5f}};
static const float fedavg_expected[FH_NUMEL] = {1, 2, 3, 4, 5, 6, 6.5f, 7.5f, 9, 10};

static uint8_t *client_packet(const vkt_fed_aggregator *agg, int c, uint64_t seq, size_t *size)
{
    fh_model d;
    fh_model_fill(&d, client_delta[c - 1][0], client_delta[c - 1][1], client_delta[c - 1][2]);
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    hash_of(agg, hash);
    return fh_packet((uint8_t)c, seq, vkt_fed_aggregator_version(agg), hash, d.t, FH_TENSORS, (uint32_t)c, size);
}

static void expect_accepted(vkt_fed_aggregator *agg, uint8_t *packet, size_t size)
{
    vkt_fed_receipt r;
    vkt_status st = vkt_fed_submit_packet(agg, packet, size, &r);
    if (st != VKT_OK)
        fail_msg("refused (%s): %s", vkt_fed_refusal_name(r.refusal), vkt_last_error());
    assert_int_equal(r.refusal, VKT_FED_ACCEPTED);
    vkt_update_packet_free(packet);
}

static void expect_refused(vkt_fed_aggregator *agg, const uint8_t *packet, size_t size, vkt_fed_refusal why,
                           vkt_status status)
{
    vkt_fed_receipt r;
    vkt_status st = vkt_fed_submit_packet(agg, packet, size, &r);
    if (st != status || r.refusal != why)
        fail_msg("expected %s (%s), got %s (%s): %s", vkt_fed_refusal_name(why), vkt_status_name(status),
                 vkt_fed_refusal_name(r.refusal), vkt_status_name(st), vkt_last_error());
    assert_true(strlen(vkt_last_error()) > 0);
}

static void test_fedavg_weighted_mean(void **state)
{
    (void)state;
    vkt_fed_options opt = {.mode = VKT_FED_FEDAVG, .first_version = 5};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 3);
    uint8_t before[VKT_MODEL_HASH_BYTES], after[VKT_MODEL_HASH_BYTES];
    hash_of(agg, before);
    size_t total = 0;
    for (int c = 1; c <= 3; c++) {
        size_t size;
        uint8_t *p = client_packet(agg, c, 1, &size);
        total += size;
        expect_accepted(agg, p, size);
    }
    vkt_fed_round_stats pending;
    vkt_fed_pending_stats(agg, &pending);
    assert_int_equal(pending.accepted, 3);
    assert_int_equal(pending.version, 5);

    vkt_fed_round_stats stats;
    assert_int_equal(vkt_fed_round_finish(agg, &stats), VKT_OK);
    float got[FH_NUMEL];
    fh_global(agg, got);
    fh_assert_close(got, fedavg_expected, FH_NUMEL, 1e-6);
    assert_int_equal(vkt_fed_aggregator_version(agg), 6);
    assert_int_equal(stats.version, 6);
    assert_int_equal(stats.accepted, 3);
    assert_int_equal(stats.refused, 0);
    assert_int_equal(stats.examples, 6);
    assert_int_equal(stats.bytes_received, total);
    assert_int_equal(stats.bytes_accepted, total);
    assert_true(fabs(stats.update_norm - sqrt(6.0 + 2 * 0.25 + 2.0)) < 1e-6);
    hash_of(agg, after);
    assert_memory_not_equal(before, after, sizeof before);

    /* The next round starts empty: finishing it now is refused. */
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_ERR_STATE);
    vkt_fed_aggregator_destroy(agg);
}

/* A client that trained only a.bias moves a.bias and nothing else. */
static void test_partial_update(void **state)
{
    (void)state;
    vkt_fed_aggregator *agg = fh_aggregator(NULL, 0);
    fh_model full, bias;
    fh_model_fill(&full, 4.0f, 4.0f, 4.0f);
    fh_model_fill(&bias, 0.0f, 1.0f, 0.0f);
    vkt_fed_delta_info c1 = {.client_id = 1, .version = 0, .example_count = 1};
    vkt_fed_delta_info c2 = {.client_id = 2, .version = 0, .example_count = 3};
    assert_int_equal(vkt_fed_submit_delta(agg, &c1, full.t, FH_TENSORS, NULL), VKT_OK);
    assert_int_equal(vkt_fed_submit_delta(agg, &c2, &bias.t[1], 1, NULL), VKT_OK);
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_OK);
    float got[FH_NUMEL];
    fh_global(agg, got);
    /* a.weight, b.weight: client 1 alone (+4); a.bias: (1*4 + 3*1) / 4 */
    const float want[FH_NUMEL] = {4, 5, 6, 7, 8, 9, 6 + 1.75f, 7 + 1.75f, 12, 13};
    fh_assert_close(got, want, FH_NUMEL, 1e-6);
    vkt_fed_aggregator_destroy(agg);
}

static void test_bad_packets_skip(void **state)
{
    (void)state;
    vkt_fed_options opt = {.mode = VKT_FED_FEDAVG, .max_update_norm = 100.0};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 3);
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    hash_of(agg, hash);
    size_t good1_size, size;
    uint8_t *good1 = client_packet(agg, 1, 1, &good1_size);
    uint8_t *keep1 = malloc(good1_size);
    memcpy(keep1, good1, good1_size);
    expect_accepted(agg, good1, good1_size);

    fh_model d, odd;
    fh_model_fill(&d, 1.0f, 1.0f, 1.0f);
    uint8_t *p = client_packet(agg, 2, 1, &size);
    p[size - 5] ^= 0x40; /* in the ciphertext: authentication fails */
    expect_refused(agg, p, size, VKT_FED_REFUSED_MALFORMED, VKT_ERR_FORMAT);
    p[size - 5] ^= 0x40;
    expect_refused(agg, p, size - 1, VKT_FED_REFUSED_MALFORMED, VKT_ERR_FORMAT);
    p[4] = 2; /* format version 2 */
    expect_refused(agg, p, size, VKT_FED_REFUSED_UNSUPPORTED, VKT_ERR_UNSUPPORTED);
    vkt_update_packet_free(p);

    p = fh_packet(2, 1, 1, hash, d.t, FH_TENSORS, 1, &size); /* a version not begun */
    expect_refused(agg, p, size, VKT_FED_REFUSED_ROUND, VKT_ERR_STATE);
    vkt_update_packet_free(p);
    p = fh_packet(2, 1, 0, zero_hash, d.t, FH_TENSORS, 1, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_FOREIGN_MODEL, VKT_ERR_STATE);
    vkt_update_packet_free(p);
    expect_refused(agg, keep1, good1_size, VKT_FED_REFUSED_REPLAY, VKT_ERR_STATE);
    free(keep1);
    p = client_packet(agg, 1, 2, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_DUPLICATE, VKT_ERR_STATE);
    vkt_update_packet_free(p);
    p = fh_packet(4, 1, 0, hash, d.t, FH_TENSORS, 1, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_UNKNOWN_CLIENT, VKT_ERR_NOT_FOUND);
    vkt_update_packet_free(p);

    odd = d;
    odd.t[0].dims[0] = 3, odd.t[0].dims[1] = 2; /* a.weight transposed */
    p = fh_packet(2, 3, 0, hash, odd.t, FH_TENSORS, 1, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_MISMATCH, VKT_ERR_SHAPE);
    vkt_update_packet_free(p);
    p = fh_packet(2, 4, 0, hash, d.t, FH_TENSORS, 0, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_EMPTY, VKT_ERR_STATE);
    vkt_update_packet_free(p);
    fh_model huge;
    fh_model_fill(&huge, 1000.0f, 0.0f, 0.0f);
    p = fh_packet(2, 5, 0, hash, huge.t, FH_TENSORS, 1, &size);
    expect_refused(agg, p, size, VKT_FED_REFUSED_NORM, VKT_ERR_STATE);
    vkt_update_packet_free(p);

    float garbage[75];
    tu_fill_uniform(garbage, 75, 9, -1e6f, 1e6f);
    expect_refused(agg, (const uint8_t *)garbage, sizeof garbage, VKT_FED_REFUSED_MALFORMED, VKT_ERR_FORMAT);
    expect_refused(agg, (const uint8_t *)garbage, 0, VKT_FED_REFUSED_MALFORMED, VKT_ERR_FORMAT);

    p = client_packet(agg, 2, 6, &size);
    expect_accepted(agg, p, size);
    p = client_packet(agg, 3, 1, &size);
    expect_accepted(agg, p, size);

    vkt_fed_round_stats stats;
    assert_int_equal(vkt_fed_round_finish(agg, &stats), VKT_OK);
    float got[FH_NUMEL];
    fh_global(agg, got);
    fh_assert_close(got, fedavg_expected, FH_NUMEL, 1e-6);
    assert_int_equal(stats.accepted, 3);
    assert_int_equal(stats.refused, 13);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_MALFORMED], 4);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_UNSUPPORTED], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_ROUND], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_FOREIGN_MODEL], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_REPLAY], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_DUPLICATE], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_UNKNOWN_CLIENT], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_MISMATCH], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_EMPTY], 1);
    assert_int_equal(stats.refused_by[VKT_FED_REFUSED_NORM], 1);
    assert_true(stats.bytes_received > stats.bytes_accepted);
    vkt_fed_aggregator_destroy(agg);
}

static void test_bad_deltas(void **state)
{
    (void)state;
    vkt_fed_aggregator *agg = fh_aggregator(NULL, 0);
    fh_model d;
    fh_model_fill(&d, 1.0f, 1.0f, 1.0f);
    vkt_fed_delta_info info = {.client_id = 1, .example_count = 1};
    vkt_fed_receipt r;
    d.values[3] = NAN;
    assert_int_equal(vkt_fed_submit_delta(agg, &info, d.t, FH_TENSORS, &r), VKT_ERR_INVALID_ARG);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_NONFINITE);
    d.values[3] = 1.0f;
    vkt_update_tensor twice[2] = {d.t[1], d.t[1]};
    assert_int_equal(vkt_fed_submit_delta(agg, &info, twice, 2, &r), VKT_ERR_SHAPE);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_MISMATCH);
    vkt_update_tensor stranger = d.t[1];
    stranger.name = "c.bias";
    assert_int_equal(vkt_fed_submit_delta(agg, &info, &stranger, 1, &r), VKT_ERR_SHAPE);
    assert_int_equal(vkt_fed_submit_packet(agg, (const uint8_t *)"x", 1, &r), VKT_ERR_FORMAT);
    vkt_fed_round_stats pending;
    vkt_fed_pending_stats(agg, &pending);
    assert_int_equal(pending.accepted, 0);
    assert_int_equal(pending.refused, 4);
    assert_int_equal(pending.bytes_received, 1);
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_ERR_STATE);
    vkt_fed_aggregator_destroy(agg);

    /* Without keys, packets cannot be opened. */
    fh_model m;
    fh_model_init(&m, 0.0f, 1.0f);
    assert_int_equal(vkt_fed_aggregator_create(m.t, FH_TENSORS, NULL, NULL, &agg), VKT_OK);
    assert_int_equal(vkt_fed_submit_packet(agg, (const uint8_t *)"x", 1, &r), VKT_ERR_STATE);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_NO_KEYS);
    vkt_keypair kp;
    fh_keys(1, &kp);
    assert_int_equal(vkt_fed_aggregator_add_client(agg, 1, kp.public_key, 0), VKT_ERR_STATE);
    vkt_fed_aggregator_destroy(agg);
}

static void test_min_clients(void **state)
{
    (void)state;
    vkt_fed_options opt = {.min_clients = 3};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 3);
    size_t size;
    for (int c = 1; c <= 2; c++) {
        uint8_t *p = client_packet(agg, c, 1, &size);
        expect_accepted(agg, p, size);
    }
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_ERR_STATE);
    float got[FH_NUMEL];
    fh_global(agg, got);
    fh_model init;
    fh_model_init(&init, 0.0f, 1.0f);
    fh_assert_close(got, init.values, FH_NUMEL, 0.0);
    assert_int_equal(vkt_fed_aggregator_version(agg), 0);
    uint8_t *p = client_packet(agg, 3, 1, &size);
    expect_accepted(agg, p, size);
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_OK);
    fh_global(agg, got);
    fh_assert_close(got, fedavg_expected, FH_NUMEL, 1e-6);

    /* Discarding a round keeps the model. */
    fh_model d;
    fh_model_fill(&d, 1.0f, 1.0f, 1.0f);
    vkt_fed_delta_info info = {.client_id = 1, .version = 1, .example_count = 1};
    assert_int_equal(vkt_fed_submit_delta(agg, &info, d.t, FH_TENSORS, NULL), VKT_OK);
    vkt_fed_round_discard(agg);
    vkt_fed_round_stats pending;
    vkt_fed_pending_stats(agg, &pending);
    assert_int_equal(pending.accepted, 0);
    fh_global(agg, got);
    fh_assert_close(got, fedavg_expected, FH_NUMEL, 0.0);
    vkt_fed_aggregator_destroy(agg);
}

static vkt_graph *small_graph(uint64_t seed, int hidden)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(seed, &g), VKT_OK);
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 1, (int[]){3});
    vkt_tensor t = vkt_input(g, "t", VKT_F32, 1, (int[]){1});
    vkt_tensor h = vkt_linear(g, x, hidden, true, "a");
    vkt_mse_loss(g, vkt_linear(g, h, 1, false, "b"), t);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

static void graph_values(const vkt_graph *g, float out[FH_NUMEL])
{
    assert_int_equal(vkt_graph_param_get(g, "a.weight", out, 6), VKT_OK);
    assert_int_equal(vkt_graph_param_get(g, "a.bias", out + 6, 2), VKT_OK);
    assert_int_equal(vkt_graph_param_get(g, "b.weight", out + 8, 2), VKT_OK);
}

static void test_save_loads_into_graph(void **state)
{
    (void)state;
    vkt_graph *g = small_graph(1, 2);
    vkt_fed_aggregator *agg;
    assert_int_equal(vkt_fed_aggregator_create_from_graph(g, NULL, NULL, &agg), VKT_OK);
    uint8_t h1[VKT_MODEL_HASH_BYTES], h2[VKT_MODEL_HASH_BYTES];
    assert_int_equal(vkt_graph_model_hash(g, h1), VKT_OK);
    hash_of(agg, h2);
    assert_memory_equal(h1, h2, sizeof h1);

    fh_model d;
    fh_model_fill(&d, 0.5f, -0.25f, 1.0f);
    vkt_fed_delta_info info = {.client_id = 1, .example_count = 10};
    assert_int_equal(vkt_fed_submit_delta(agg, &info, d.t, FH_TENSORS, NULL), VKT_OK);
    assert_int_equal(vkt_fed_round_finish(agg, NULL), VKT_OK);
    float before[FH_NUMEL], want[FH_NUMEL], got[FH_NUMEL];
    graph_values(g, before);
    for (int i = 0; i < FH_NUMEL; i++)
        want[i] = before[i] + d.values[i];

    char *path = tu_temp_path("fed_global.safetensors");
    assert_int_equal(vkt_fed_aggregator_save(agg, path), VKT_OK);
    vkt_graph *loaded = small_graph(2, 2);
    vkt_status st = vkt_graph_load_safetensors(loaded, path, false);
    if (st != VKT_OK)
        fail_msg("load: %s", vkt_last_error());
    graph_values(loaded, got);
    fh_assert_close(got, want, FH_NUMEL, 0.0);
    assert_int_equal(vkt_graph_model_hash(loaded, h1), VKT_OK);
    hash_of(agg, h2);
    assert_memory_equal(h1, h2, sizeof h1);

    /* Into a graph: same values; a graph of another shape is refused
     * and keeps its own. */
    vkt_graph *copy = small_graph(3, 2), *other = small_graph(4, 3);
    assert_int_equal(vkt_fed_aggregator_copy_to_graph(agg, copy), VKT_OK);
    graph_values(copy, got);
    fh_assert_close(got, want, FH_NUMEL, 0.0);
    float ob[3];
    assert_int_equal(vkt_graph_param_get(other, "a.bias", ob, 3), VKT_OK);
    assert_int_equal(vkt_fed_aggregator_copy_to_graph(agg, other), VKT_ERR_SHAPE);
    float oa[3];
    assert_int_equal(vkt_graph_param_get(other, "a.bias", oa, 3), VKT_OK);
    assert_memory_equal(ob, oa, sizeof ob);

    vkt_graph_destroy(other);
    vkt_graph_destroy(copy);
    vkt_graph_destroy(loaded);
    vkt_fed_aggregator_destroy(agg);
    vkt_graph_destroy(g);
    free(path);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_files(void **state)
{
    (void)state;
    vkt_keypair kp, back;
    fh_keys(0, &kp);
    char *path = tu_temp_path("agg.key"), *pub = tu_temp_path("agg.pub");
    assert_int_equal(vkt_keypair_save(&kp, path), VKT_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vkt_keypair_load(path, &back), VKT_OK);
    assert_memory_equal(&kp, &back, sizeof kp);

    uint8_t pk[VKT_KX_PUBLIC_KEY_BYTES];
    assert_int_equal(vkt_public_key_load(path, pk), VKT_OK); /* from the pair */
    assert_memory_equal(pk, kp.public_key, sizeof pk);
    assert_int_equal(vkt_public_key_save(kp.public_key, pub), VKT_OK);
    memset(pk, 0, sizeof pk);
    assert_int_equal(vkt_public_key_load(pub, pk), VKT_OK);
    assert_memory_equal(pk, kp.public_key, sizeof pk);
    assert_int_equal(vkt_keypair_load(pub, &back), VKT_ERR_FORMAT); /* no secret in it */

    size_t n;
    char *text = tu_read_file(path, &n);
    assert_non_null(text);
    text = realloc(text, n + 1);
    text[n] = '\0';
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(vkt_keypair_load(path, &back), VKT_ERR_STATE); /* readable by others */
    char *secret = strstr(text, "secret_key ") + 11;
    secret[0] = secret[0] == '0' ? '1' : '0';
    write_text(path, text, 0600);
    assert_int_equal(vkt_keypair_load(path, &back), VKT_ERR_FORMAT); /* not this public key's secret */
    write_text(path, "vktrain-keypair-1\npublic_key 00\n", 0600);
    assert_int_equal(vkt_keypair_load(path, &back), VKT_ERR_FORMAT);
    write_text(path, "", 0600);
    assert_int_equal(vkt_keypair_load(path, &back), VKT_ERR_FORMAT);
    char *missing = tu_temp_path("no-such.key");
    assert_int_equal(vkt_keypair_load(missing, &back), VKT_ERR_IO);
    free(text);
    free(missing);
    free(path);
    free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedavg_weighted_mean),
        cmocka_unit_test(test_partial_update),
        cmocka_unit_test(test_bad_packets_skip),
        cmocka_unit_test(test_bad_deltas),
        cmocka_unit_test(test_min_clients),
        cmocka_unit_test(test_save_loads_into_graph),
        cmocka_unit_test(test_key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
