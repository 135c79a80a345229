/* Error feedback: with the same true update every round, the sum of what
 * the aggregator decodes converges to the sum of true updates (the
 * residual the client keeps stays bounded), while top-k without
 * feedback keeps losing the same coordinates. DP noise with feedback
 * and the noise's statistics through the whole packet path too. */
#include "test_util.h"
#include "update_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#define N 2000
#define ROUNDS 400

typedef struct run_result {
    double rel_error;      /* |R d - sum decoded| / |R d| after all rounds */
    double max_res_mid;    /* max residual norm over rounds 100..199 */
    double max_res_late;   /* over rounds 200..399 */
    double final_residual; /* the encoder's own residual norm */
    double final_error;    /* |R d - sum decoded| */
} run_result;

static run_result run(const vkt_update_codec *c)
{
    uh_env e;
    uh_env_init(&e, c);
    uh_model d;
    memset(&d, 0, sizeof d);
    uh_model_add(&d, "w", 2, (int64_t[]){40, 50}, 77, 0.01f);
    double *sum = calloc(N, sizeof *sum);
    run_result r = {0};
    for (int round = 0; round < ROUNDS; round++) {
        assert_int_equal(vkt_update_receiver_set_round(e.rx, (uint64_t)round, e.model_hash), VKT_OK);
        vkt_update_round ur = {.round_id = (uint64_t)round, .example_count = 1};
        uint8_t *pkt;
        size_t size;
        assert_int_equal(vkt_update_encode_delta(e.enc, &ur, e.model_hash, d.t, 1, &pkt, &size), VKT_OK);
        vkt_update *u;
        if (vkt_update_receive(e.rx, pkt, size, &u) != VKT_OK)
            fail_msg("round %d: %s", round, vkt_last_error());
        vkt_update_tensor t;
        assert_int_equal(vkt_update_get_tensor(u, 0, &t), VKT_OK);
        double err2 = 0.0, ref2 = 0.0;
        for (int j = 0; j < N; j++) {
            sum[j] += t.values[j];
            double want = (double)(round + 1) * d.t[0].values[j];
            err2 += (want - sum[j]) * (want - sum[j]);
            ref2 += want * want;
        }
        double res = sqrt(err2);
        if (round >= 100 && round < 200)
            r.max_res_mid = fmax(r.max_res_mid, res);
        if (round >= 200)
            r.max_res_late = fmax(r.max_res_late, res);
        r.rel_error = res / sqrt(ref2);
        r.final_error = res;
        vkt_update_destroy(u);
        vkt_update_packet_free(pkt);
    }
    vkt_update_stats stats;
    assert_int_equal(vkt_update_encoder_stats(e.enc, &stats), VKT_OK);
    r.final_residual = stats.residual_norm;
    free(sum);
    uh_model_free(&d);
    uh_env_free(&e);
    return r;
}

static void test_feedback_converges(void **state)
{
    (void)state;
    vkt_update_codec with = {.topk_fraction = 0.05f, .error_feedback = true, .int8_block = 64, .zstd_level = 1};
    run_result a = run(&with);
    print_message("error feedback: relative error %.4f after %d rounds, residual %.4f (mid max %.4f, late max %.4f)\n",
                  a.rel_error, ROUNDS, a.final_residual, a.max_res_mid, a.max_res_late);
    assert_true(a.rel_error < 0.05);
    /* Bounded: the residual does not keep growing. */
    assert_true(a.max_res_late <= 1.5 * a.max_res_mid);
    /* The decoded sum plus the client's residual is the true sum. */
    assert_float_equal(a.final_residual, a.final_error, 1e-3 * a.final_error + 1e-6);

    vkt_update_codec without = with;
    without.error_feedback = false;
    run_result b = run(&without);
    print_message("without feedback: relative error %.4f\n", b.rel_error);
    assert_true(b.rel_error > 0.5);
}

/* Gaussian noise through encoder and packet: the decoded update minus
 * the clipped one has standard deviation z * C. */
static void test_dp_through_packets(void **state)
{
    (void)state;
    vkt_update_codec c = {.dp_clip = 0.1f, .dp_noise = 0.8f};
    uh_env e;
    uh_env_init(&e, &c);
    uh_model d;
    memset(&d, 0, sizeof d);
    uh_model_add(&d, "w", 1, (int64_t[]){50000}, 5, 0.01f); /* norm ~2.2: clipped */
    vkt_update_round ur = {.round_id = UH_ROUND, .example_count = 10};
    uint8_t *pkt;
    size_t size;
    assert_int_equal(vkt_update_encode_delta(e.enc, &ur, e.model_hash, d.t, 1, &pkt, &size), VKT_OK);
    vkt_update_stats stats;
    assert_int_equal(vkt_update_encoder_stats(e.enc, &stats), VKT_OK);
    assert_true(stats.clipped);
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_OK);
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    assert_true(info.dp_clip == 0.1f && info.dp_noise == 0.8f);
    vkt_update_tensor t;
    assert_int_equal(vkt_update_get_tensor(u, 0, &t), VKT_OK);
    double factor = 0.1 / stats.update_norm, var = 0.0;
    for (int j = 0; j < 50000; j++) {
        double noise = t.values[j] - d.t[0].values[j] * factor;
        var += noise * noise;
    }
    assert_float_equal(sqrt(var / 50000), 0.08, 0.08 * 0.03);
    vkt_update_destroy(u);
    vkt_update_packet_free(pkt);
    uh_model_free(&d);
    uh_env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_converges),
        cmocka_unit_test(test_dp_through_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
