/* FedBuff: staleness functions, the buffer flushing when full with each
 * update weighted by s(tau) against values computed by hand, the
 * staleness window (too stale and early updates refused), packets from
 * an older version checked against that version's model hash, a partial
 * flush, the server learning rate and equal weights. */
#include "fed_harness.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

static void test_staleness_functions(void **state)
{
    (void)state;
    vkt_fed_staleness s = {0}; /* zeroed: 1 / sqrt(1 + tau) */
    assert_true(fabs(vkt_fed_staleness_weight(&s, 0) - 1.0) < 1e-12);
    assert_true(fabs(vkt_fed_staleness_weight(&s, 3) - 0.5) < 1e-12);
    assert_int_equal(vkt_fed_staleness_parse("poly:1", &s), VKT_OK);
    assert_true(fabs(vkt_fed_staleness_weight(&s, 4) - 0.2) < 1e-7);
    assert_int_equal(vkt_fed_staleness_parse("poly", &s), VKT_OK);
    assert_true(fabs(vkt_fed_staleness_weight(&s, 8) - 1.0 / 3.0) < 1e-7);
    assert_int_equal(vkt_fed_staleness_parse("constant", &s), VKT_OK);
    assert_true(vkt_fed_staleness_weight(&s, 1000) == 1.0);
    assert_int_equal(vkt_fed_staleness_parse("hinge:2:3", &s), VKT_OK);
    assert_true(vkt_fed_staleness_weight(&s, 3) == 1.0);
    assert_true(fabs(vkt_fed_staleness_weight(&s, 5) - 0.2) < 1e-7); /* 1 / (1 + 2 * 2) */
    static const char *const bad[] = {"", "poly:", "poly:0", "poly:-1", "poly:x", "hinge:1", "hinge:0:1",
                                      "hinge:1:", "sqrt", "constant:1", "poly:1e9", "poly: 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (vkt_fed_staleness_parse(bad[i], &s) != VKT_ERR_INVALID_ARG)
            fail_msg("'%s' parsed", bad[i]);
    }
}

static vkt_status submit(vkt_fed_aggregator *agg, uint64_t client, uint64_t version, uint32_t n, float aw, float ab,
                         float bw, vkt_fed_receipt *r)
{
    fh_model d;
    fh_model_fill(&d, aw, ab, bw);
    vkt_fed_delta_info info = {.client_id = client, .version = version, .example_count = n};
    return vkt_fed_submit_delta(agg, &info, d.t, FH_TENSORS, r);
}

static void test_buffer_and_staleness(void **state)
{
    (void)state;
    vkt_fed_options opt = {.mode = VKT_FED_FEDBUFF, .buffer_size = 2, .max_staleness = 2};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 0);
    vkt_fed_receipt r;
    float got[FH_NUMEL], want[FH_NUMEL];

    /* Step 1: two fresh updates, mean +2. */
    assert_int_equal(submit(agg, 1, 0, 1, 1, 1, 1, &r), VKT_OK);
    assert_false(r.applied);
    assert_int_equal(vkt_fed_aggregator_version(agg), 0);
    assert_int_equal(submit(agg, 2, 0, 1, 3, 3, 3, &r), VKT_OK);
    assert_true(r.applied);
    assert_int_equal(vkt_fed_aggregator_version(agg), 1);
    fh_global(agg, got);
    for (int i = 0; i < FH_NUMEL; i++)
        want[i] = (float)i + 2.0f;
    fh_assert_close(got, want, FH_NUMEL, 1e-6);

    /* Step 2: one update a step stale (s = 1/sqrt(2)), one fresh, two
     * examples each:
     *   a.weight (2 s 4) / 4 = sqrt(2);  a.bias (2 * 4) / 4;  b.weight (2 * 2) / 4 */
    assert_int_equal(submit(agg, 3, 0, 2, 4, 0, 0, &r), VKT_OK);
    assert_int_equal(r.staleness, 1);
    assert_true(fabs(r.weight - 1.0 / sqrt(2.0)) < 1e-12);
    assert_int_equal(submit(agg, 4, 1, 2, 0, 4, 2, &r), VKT_OK);
    assert_int_equal(r.staleness, 0);
    assert_true(r.applied);
    for (int i = 0; i < 6; i++)
        want[i] += (float)sqrt(2.0);
    want[6] += 2.0f, want[7] += 2.0f, want[8] += 1.0f, want[9] += 1.0f;
    fh_global(agg, got);
    fh_assert_close(got, want, FH_NUMEL, 1e-5);
    vkt_fed_round_stats last;
    vkt_fed_last_stats(agg, &last);
    assert_int_equal(last.version, 2);
    assert_int_equal(last.accepted, 2);
    assert_int_equal(last.max_staleness, 1);
    assert_true(fabs(last.mean_staleness - 0.5) < 1e-12);

    /* Two steps stale is still in the window; an early version is not. */
    assert_int_equal(submit(agg, 5, 0, 1, 3, 0, 0, &r), VKT_OK);
    assert_int_equal(r.staleness, 2);
    assert_int_equal(submit(agg, 6, 3, 1, 1, 1, 1, &r), VKT_ERR_STATE);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_ROUND);
    /* A partial buffer flushes on request. */
    assert_int_equal(vkt_fed_round_finish(agg, &last), VKT_OK);
    assert_int_equal(last.accepted, 1);
    assert_int_equal(last.refused, 1);
    for (int i = 0; i < 6; i++)
        want[i] += (float)(3.0 / sqrt(3.0));
    fh_global(agg, got);
    fh_assert_close(got, want, FH_NUMEL, 1e-5);
    assert_int_equal(vkt_fed_aggregator_version(agg), 3);
    /* Version 0 has now left the window. */
    assert_int_equal(submit(agg, 7, 0, 1, 1, 1, 1, &r), VKT_ERR_STATE);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_ROUND);
    assert_int_equal(submit(agg, 7, 1, 1, 1, 1, 1, &r), VKT_OK);
    vkt_fed_aggregator_destroy(agg);
}

/* A packet trained from an older version opens against that version's
 * model hash, not the current one. */
static void test_stale_packets(void **state)
{
    (void)state;
    vkt_fed_options opt = {.mode = VKT_FED_FEDBUFF, .buffer_size = 1, .first_version = 10,
                           .staleness = {.kind = VKT_FED_STALENESS_CONSTANT}};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 3);
    uint8_t hash10[VKT_MODEL_HASH_BYTES], hash11[VKT_MODEL_HASH_BYTES];
    vkt_fed_aggregator_model_hash(agg, hash10);
    fh_model d;
    fh_model_fill(&d, 1.0f, 1.0f, 1.0f);
    size_t size;
    uint8_t *p = fh_packet(1, 1, 10, hash10, d.t, FH_TENSORS, 5, &size);
    vkt_fed_receipt r;
    assert_int_equal(vkt_fed_submit_packet(agg, p, size, &r), VKT_OK);
    assert_true(r.applied);
    vkt_update_packet_free(p);
    vkt_fed_aggregator_model_hash(agg, hash11);
    assert_memory_not_equal(hash10, hash11, sizeof hash10);

    p = fh_packet(2, 1, 10, hash10, d.t, FH_TENSORS, 5, &size);
    assert_int_equal(vkt_fed_submit_packet(agg, p, size, &r), VKT_OK);
    assert_int_equal(r.staleness, 1);
    assert_int_equal(r.packet_bytes, size);
    vkt_update_packet_free(p);
    /* Version 10's number with version 11's hash: foreign. */
    p = fh_packet(3, 1, 10, hash11, d.t, FH_TENSORS, 5, &size);
    assert_int_equal(vkt_fed_submit_packet(agg, p, size, &r), VKT_ERR_STATE);
    assert_int_equal(r.refusal, VKT_FED_REFUSED_FOREIGN_MODEL);
    vkt_update_packet_free(p);

    float got[FH_NUMEL], want[FH_NUMEL];
    for (int i = 0; i < FH_NUMEL; i++)
        want[i] = (float)i + 2.0f;
    fh_global(agg, got);
    fh_assert_close(got, want, FH_NUMEL, 1e-6);
    assert_int_equal(vkt_fed_aggregator_version(agg), 12);
    vkt_fed_aggregator_destroy(agg);
}

static void test_server_lr_and_equal_weights(void **state)
{
    (void)state;
    vkt_fed_options opt = {.mode = VKT_FED_FEDBUFF, .buffer_size = 1, .server_lr = 0.5f};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 0);
    vkt_fed_receipt r;
    assert_int_equal(submit(agg, 1, 0, 7, 2, 2, 2, &r), VKT_OK);
    float got[FH_NUMEL], want[FH_NUMEL];
    for (int i = 0; i < FH_NUMEL; i++)
        want[i] = (float)i + 1.0f;
    fh_global(agg, got);
    fh_assert_close(got, want, FH_NUMEL, 1e-6);
    vkt_fed_aggregator_destroy(agg);

    /* Equal weights: (1 + 3) / 2, not (1*1 + 3*3) / 4. */
    vkt_fed_options eq = {.mode = VKT_FED_FEDBUFF, .buffer_size = 2, .equal_weights = true};
    agg = fh_aggregator(&eq, 0);
    assert_int_equal(submit(agg, 1, 0, 1, 1, 1, 1, &r), VKT_OK);
    assert_int_equal(submit(agg, 2, 0, 3, 3, 3, 3, &r), VKT_OK);
    assert_true(r.applied);
    for (int i = 0; i < FH_NUMEL; i++)
        want[i] = (float)i + 2.0f;
    fh_global(agg, got);
    fh_assert_close(got, want, FH_NUMEL, 1e-6);
    vkt_fed_aggregator_destroy(agg);
}

static void test_bad_options(void **state)
{
    (void)state;
    fh_model m;
    fh_model_init(&m, 0.0f, 1.0f);
    vkt_fed_aggregator *agg = NULL;
    vkt_fed_options opt = {.mode = VKT_FED_FEDBUFF, .max_staleness = 5000};
    assert_int_equal(vkt_fed_aggregator_create(m.t, FH_TENSORS, NULL, &opt, &agg), VKT_ERR_INVALID_ARG);
    opt = (vkt_fed_options){.server_lr = -1.0f};
    assert_int_equal(vkt_fed_aggregator_create(m.t, FH_TENSORS, NULL, &opt, &agg), VKT_ERR_INVALID_ARG);
    opt = (vkt_fed_options){.mode = 7};
    assert_int_equal(vkt_fed_aggregator_create(m.t, FH_TENSORS, NULL, &opt, &agg), VKT_ERR_INVALID_ARG);
    vkt_update_tensor twice[2] = {m.t[0], m.t[0]};
    assert_int_equal(vkt_fed_aggregator_create(twice, 2, NULL, NULL, &agg), VKT_ERR_INVALID_ARG);
    assert_null(agg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_staleness_functions),
        cmocka_unit_test(test_buffer_and_staleness),
        cmocka_unit_test(test_stale_packets),
        cmocka_unit_test(test_server_lr_and_equal_weights),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
