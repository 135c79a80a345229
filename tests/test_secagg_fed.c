/* Secure aggregation meets FedAvg: vkt_fed_apply_sum gives the model the
 * packet path gives from the same updates (whole and partial), refuses
 * what it must without changing anything, and a secure round over
 * fixed-point weighted vectors, with dropouts, lands within the
 * quantization step of plain FedAvg over the clients that made it. */
#include "fed_harness.h"
#include "secagg_harness.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The three clients of test_fed_aggregate: one value per tensor, 1, 2
 * and 3 examples; their FedAvg mean moves the model by (1, 0.5, 1). */
static const float client_delta[3][3] = {{6.0f, -3.0f, 1.5f}, {3.0f, 0.0f, -1.5f}, {-2.0f, 2.0f, 2.5f}};
static const float fedavg_expected[FH_NUMEL] = {1, 2, 3, 4, 5, 6, 6.5f, 7.5f, 9, 10};

/* sums[k] = sum_i n_i * value_i[k] as a model-shaped fh_model. */
static void weighted_sums(fh_model *sums, double weights[FH_TENSORS])
{
    float s[3] = {0};
    for (int k = 0; k < 3; k++) {
        weights[k] = 0;
        for (int c = 0; c < 3; c++) {
            s[k] += (float)(c + 1) * client_delta[c][k];
            weights[k] += c + 1;
        }
    }
    fh_model_fill(sums, s[0], s[1], s[2]);
}

static void test_apply_sum_is_fedavg(void **state)
{
    (void)state;
    vkt_fed_aggregator *agg = fh_aggregator(NULL, 0);
    fh_model sums;
    double weights[FH_TENSORS];
    weighted_sums(&sums, weights);
    vkt_fed_round_stats stats;
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 3, &stats), VKT_OK);
    float got[FH_NUMEL];
    fh_global(agg, got);
    fh_assert_close(got, fedavg_expected, FH_NUMEL, 1e-6);
    assert_int_equal(vkt_fed_aggregator_version(agg), 1);
    assert_int_equal(stats.accepted, 3);
    assert_int_equal(stats.examples, 6);
    assert_true(fabs(stats.update_norm - sqrt(6.0 + 2 * 0.25 + 2.0)) < 1e-6);
    vkt_fed_aggregator_destroy(agg);
}

/* As test_fed_aggregate's partial update: client 1 (1 example) sent
 * everything (+4), client 2 (3 examples) only a.bias (+1). */
static void test_apply_sum_per_tensor_weights(void **state)
{
    (void)state;
    vkt_fed_aggregator *agg = fh_aggregator(NULL, 0);
    fh_model sums;
    fh_model_fill(&sums, 4.0f, 4.0f + 3.0f, 4.0f);
    const double weights[FH_TENSORS] = {1, 4, 1};
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 2, NULL), VKT_OK);
    float got[FH_NUMEL];
    fh_global(agg, got);
    const float want[FH_NUMEL] = {4, 5, 6, 7, 8, 9, 6 + 1.75f, 7 + 1.75f, 12, 13};
    fh_assert_close(got, want, FH_NUMEL, 1e-6);

    /* A tensor nobody carried (weight 0) stays. */
    const double only_bias[FH_TENSORS] = {0, 4, 0};
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, only_bias, FH_TENSORS, 2, NULL), VKT_OK);
    fh_global(agg, got);
    const float again[FH_NUMEL] = {4, 5, 6, 7, 8, 9, 6 + 3.5f, 7 + 3.5f, 12, 13};
    fh_assert_close(got, again, FH_NUMEL, 1e-6);
    vkt_fed_aggregator_destroy(agg);
}

static void test_apply_sum_refusals(void **state)
{
    (void)state;
    vkt_fed_options opt = {.min_clients = 2};
    vkt_fed_aggregator *agg = fh_aggregator(&opt, 0);
    fh_model sums, odd; /* odd's tensors point at sums' values */
    double weights[FH_TENSORS];
    weighted_sums(&sums, weights);
    float before[FH_NUMEL], after[FH_NUMEL];
    fh_global(agg, before);

    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 1, NULL), VKT_ERR_STATE); /* min_clients */
    odd = sums;
    odd.t[0].dims[1] = 2; /* [2, 2] for [2, 3] */
    assert_int_equal(vkt_fed_apply_sum(agg, odd.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_SHAPE);
    odd = sums;
    odd.t[2].name = "c.weight";
    assert_int_equal(vkt_fed_apply_sum(agg, odd.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_SHAPE);
    odd = sums;
    odd.t[2].name = odd.t[0].name;
    assert_int_equal(vkt_fed_apply_sum(agg, odd.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_SHAPE);
    float keep = sums.values[7];
    sums.values[7] = NAN;
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_INVALID_ARG);
    sums.values[7] = keep;
    const double zero[FH_TENSORS] = {0, 0, 0}, negative[FH_TENSORS] = {1, -1, 1};
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, zero, FH_TENSORS, 3, NULL), VKT_ERR_STATE);
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, negative, FH_TENSORS, 3, NULL), VKT_ERR_INVALID_ARG);

    /* Not with plain updates pending. */
    fh_model d;
    fh_model_fill(&d, 1.0f, 1.0f, 1.0f);
    vkt_fed_delta_info info = {.client_id = 1, .version = 0, .example_count = 1};
    assert_int_equal(vkt_fed_submit_delta(agg, &info, d.t, FH_TENSORS, NULL), VKT_OK);
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_STATE);
    vkt_fed_round_discard(agg);

    fh_global(agg, after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(vkt_fed_aggregator_version(agg), 0);
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 3, NULL), VKT_OK);
    vkt_fed_aggregator_destroy(agg);

    vkt_fed_options buff = {.mode = VKT_FED_FEDBUFF};
    agg = fh_aggregator(&buff, 0);
    assert_int_equal(vkt_fed_apply_sum(agg, sums.t, weights, FH_TENSORS, 3, NULL), VKT_ERR_STATE);
    vkt_fed_aggregator_destroy(agg);
}

/* Six clients, FedAvg through secure aggregation: each sends
 * [n_i * delta_i (10 values), n_i per tensor (3)] in fixed point; client
 * 3 drops after sharing its keys (its update is lost), client 6 after
 * sending its input (its update counts). */
enum { CLIENTS = 6, LEN = FH_NUMEL + FH_TENSORS };

static void test_secure_round_matches_fedavg(void **state)
{
    (void)state;
    const double range = 100.0;
    float delta[CLIENTS][FH_NUMEL];
    uint32_t encoded[CLIENTS][LEN];
    const uint32_t *inputs[CLIENTS];
    vkt_fed_aggregator *plain = fh_aggregator(NULL, 0), *secure = fh_aggregator(NULL, 0);
    for (int c = 0; c < CLIENTS; c++) {
        uint32_t n = 10 * (uint32_t)(c + 1);
        tu_fill_uniform(delta[c], FH_NUMEL, 50 + (uint64_t)c, -1.0f, 1.0f);
        float vector[LEN];
        for (int j = 0; j < FH_NUMEL; j++)
            vector[j] = (float)n * delta[c][j];
        for (int k = 0; k < FH_TENSORS; k++)
            vector[FH_NUMEL + k] = (float)n;
        assert_int_equal(vkt_secagg_quantize(vector, LEN, range, CLIENTS, encoded[c]), VKT_OK);
        inputs[c] = encoded[c];
        if (c != 2) {
            fh_model m;
            fh_model_init(&m, 0.0f, 0.0f);
            memcpy(m.values, delta[c], sizeof m.values);
            vkt_fed_delta_info info = {.client_id = (uint64_t)c + 1, .version = 0, .example_count = n};
            assert_int_equal(vkt_fed_submit_delta(plain, &info, m.t, FH_TENSORS, NULL), VKT_OK);
        }
    }
    assert_int_equal(vkt_fed_round_finish(plain, NULL), VKT_OK);

    sh_drop drops[CLIENTS] = {0};
    drops[2] = SH_BEFORE_MASKED;
    drops[5] = SH_BEFORE_UNMASK;
    sh_round r = {
        .params = {.round_id = 0, .client_count = CLIENTS, .vector_length = LEN},
        .inputs = inputs,
        .drops = drops,
    };
    uint32_t sum[LEN];
    vkt_secagg_result_info info;
    assert_int_equal(sh_run(&r, sum, &info), VKT_OK);
    assert_int_equal(info.contributors, CLIENTS - 1);
    double decoded[LEN];
    assert_int_equal(vkt_secagg_dequantize(sum, LEN, range, CLIENTS, decoded), VKT_OK);
    fh_model sums;
    fh_model_init(&sums, 0.0f, 0.0f);
    for (int j = 0; j < FH_NUMEL; j++)
        sums.values[j] = (float)decoded[j];
    double weights[FH_TENSORS];
    for (int k = 0; k < FH_TENSORS; k++) {
        weights[k] = round(decoded[FH_NUMEL + k]); /* whole example counts */
        assert_true(fabs(weights[k] - (10 + 20 + 40 + 50 + 60)) < 1e-9);
    }
    assert_int_equal(vkt_fed_apply_sum(secure, sums.t, weights, FH_TENSORS, (int)info.contributors, NULL), VKT_OK);

    float want[FH_NUMEL], got[FH_NUMEL];
    fh_global(plain, want);
    fh_global(secure, got);
    /* per element: at most CLIENTS * step / 2 off in the sum, over 180 examples */
    double tol = CLIENTS * vkt_secagg_quant_step(range, CLIENTS) / 2 / 180.0 + 1e-6;
    for (int j = 0; j < FH_NUMEL; j++)
        assert_true(fabs(got[j] - want[j]) <= tol);
    vkt_fed_aggregator_destroy(plain);
    vkt_fed_aggregator_destroy(secure);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_sum_is_fedavg),
        cmocka_unit_test(test_apply_sum_per_tensor_weights),
        cmocka_unit_test(test_apply_sum_refusals),
        cmocka_unit_test(test_secure_round_matches_fedavg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
