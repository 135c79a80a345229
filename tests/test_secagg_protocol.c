/* Secure aggregation end to end through serialized messages: the sum
 * equals the plain sum of the inputs that made it in (no dropouts,
 * dropouts after round 1 and after round 2, up to a third), too many
 * dropouts stop the round with nothing revealed, and every kind of bad
 * message (tampered, truncated, trailing, replayed, another round's,
 * another client's, out of stage) is refused by whoever receives it,
 * the round completing with the good ones. A client refuses to reveal
 * both shares of one peer. */
#include "secagg_harness.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "src/secagg/secagg_internal.h"

enum { D = 1500 }; /* crosses the PRG's 1024-value chunks */

typedef struct inputs {
    uint32_t *values[VKT_SECAGG_MAX_CLIENTS];
} inputs;

static void make_inputs(inputs *in, uint32_t n, uint64_t seed)
{
    for (uint32_t u = 0; u < n; u++) {
        in->values[u] = malloc(D * sizeof(uint32_t));
        assert_non_null(in->values[u]);
        sh_fill(in->values[u], D, seed + u);
    }
}

static void free_inputs(inputs *in, uint32_t n)
{
    for (uint32_t u = 0; u < n; u++)
        free(in->values[u]);
}

/* Run with `drops` and check the sum against the inputs of the clients
 * that sent masked input. */
static void expect_sum(uint32_t n, uint32_t threshold, const sh_drop *drops, uint32_t contributors, uint32_t dropped)
{
    inputs in;
    make_inputs(&in, n, 1000 + n);
    sh_round round = {
        .params = {.round_id = 77, .client_count = n, .threshold = threshold, .vector_length = D},
        .inputs = (const uint32_t *const *)in.values,
        .drops = drops,
    };
    uint32_t *got = malloc(D * sizeof *got), *want = malloc(D * sizeof *want);
    int counted[VKT_SECAGG_MAX_CLIENTS];
    for (uint32_t u = 0; u < n; u++)
        counted[u] = !drops || drops[u] == SH_STAYS || drops[u] == SH_BEFORE_UNMASK;
    vkt_secagg_result_info info;
    vkt_status st = sh_run(&round, got, &info);
    if (st != VKT_OK)
        fail_msg("round failed: %s", vkt_last_error());
    sh_plain_sum(&round, counted, want);
    assert_memory_equal(got, want, D * sizeof *got);
    assert_int_equal(info.contributors, contributors);
    assert_int_equal(info.dropped, dropped);
    free(got);
    free(want);
    free_inputs(&in, n);
}

static void test_sum_without_dropouts(void **state)
{
    (void)state;
    expect_sum(2, 0, NULL, 2, 0);
    expect_sum(7, 0, NULL, 7, 0);
}

static void test_dropouts_after_round_1(void **state)
{
    (void)state;
    /* n = 9, t = 6: a third shares its keys and then sends no input. */
    sh_drop drops[9] = {0};
    drops[1] = drops[4] = drops[8] = SH_BEFORE_MASKED;
    expect_sum(9, 0, drops, 6, 3);
}

static void test_dropouts_after_round_2(void **state)
{
    (void)state;
    /* Their inputs count; their seeds come from the others' shares. */
    sh_drop drops[9] = {0};
    drops[0] = drops[3] = drops[7] = SH_BEFORE_UNMASK;
    expect_sum(9, 0, drops, 9, 0);
}

static void test_dropouts_at_every_stage(void **state)
{
    (void)state;
    /* n = 12, t = 8: one drop at each point, four in all. */
    sh_drop drops[12] = {0};
    drops[0] = SH_BEFORE_ADVERTISE;
    drops[5] = SH_BEFORE_SHARES;
    drops[6] = SH_BEFORE_MASKED;
    drops[11] = SH_BEFORE_UNMASK;
    expect_sum(12, 0, drops, 9, 1);
}

static void expect_too_few(uint32_t n, const sh_drop *drops)
{
    inputs in;
    make_inputs(&in, n, 5);
    sh_round round = {
        .params = {.round_id = 1, .client_count = n, .vector_length = D},
        .inputs = (const uint32_t *const *)in.values,
        .drops = drops,
    };
    uint32_t *got = calloc(D, sizeof *got), *zero = calloc(D, sizeof *zero);
    assert_int_equal(sh_run(&round, got, NULL), VKT_ERR_STATE);
    assert_non_null(strstr(vkt_last_error(), "threshold"));
    assert_memory_equal(got, zero, D * sizeof *got); /* no sum came out */
    free(got);
    free(zero);
    free_inputs(&in, n);
}

static void test_too_many_dropouts(void **state)
{
    (void)state;
    sh_drop drops[9] = {0};
    drops[0] = drops[1] = drops[2] = drops[3] = SH_BEFORE_MASKED; /* 5 left, t = 6 */
    expect_too_few(9, drops);
    memset(drops, 0, sizeof drops);
    drops[2] = drops[4] = drops[6] = drops[8] = SH_BEFORE_UNMASK;
    expect_too_few(9, drops);
    memset(drops, 0, sizeof drops);
    drops[0] = drops[1] = drops[2] = drops[3] = SH_BEFORE_ADVERTISE;
    expect_too_few(9, drops);
}

/* ---- hostile messages, one stage at a time (n = 3, t = 2) ----------- */

enum { N3 = 3 };

typedef struct step_round {
    vkt_secagg_params p;
    vkt_secagg_server *server;
    vkt_secagg_client *c[N3 + 1];
    uint32_t x[N3 + 1][D];
} step_round;

static void setup_round(step_round *r, uint64_t round_id)
{
    memset(r, 0, sizeof *r);
    r->p = (vkt_secagg_params){.round_id = round_id, .client_count = N3, .vector_length = D};
    assert_int_equal(vkt_secagg_server_create(&r->p, &r->server), VKT_OK);
    for (uint32_t u = 1; u <= N3; u++) {
        assert_int_equal(vkt_secagg_client_create(&r->p, u, &r->c[u]), VKT_OK);
        sh_fill(r->x[u], D, 9 * u);
    }
}

static void teardown_round(step_round *r)
{
    for (uint32_t u = 1; u <= N3; u++)
        vkt_secagg_client_destroy(r->c[u]);
    vkt_secagg_server_destroy(r->server);
}

static void refused_by_server(step_round *r, const uint8_t *msg, size_t size, vkt_status want)
{
    vkt_status st = vkt_secagg_server_receive(r->server, msg, size, NULL);
    if (st != want)
        fail_msg("server: expected %s, got %s (%s)", vkt_status_name(want), vkt_status_name(st), vkt_last_error());
    assert_true(strlen(vkt_last_error()) > 0);
}

static void accepted_by_server(step_round *r, uint8_t *msg, size_t size)
{
    if (vkt_secagg_server_receive(r->server, msg, size, NULL) != VKT_OK)
        fail_msg("server refused a good message: %s", vkt_last_error());
}

/* A copy of msg with byte `at` xored with `flip`, or cut to `size`. */
static uint8_t *altered(const uint8_t *msg, size_t size, size_t at, uint8_t flip)
{
    uint8_t *copy = malloc(size + 1);
    memcpy(copy, msg, size);
    if (at < size)
        copy[at] ^= flip;
    return copy;
}

static void test_server_refuses_bad_messages(void **state)
{
    (void)state;
    step_round r;
    setup_round(&r, 10);
    uint8_t *adv[N3 + 1];
    size_t size[N3 + 1];
    for (uint32_t u = 1; u <= N3; u++)
        assert_int_equal(vkt_secagg_client_advertise(r.c[u], &adv[u], &size[u]), VKT_OK);

    uint8_t *bad = altered(adv[1], size[1], 0, 1); /* magic */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    bad = altered(adv[1], size[1], 4, 3); /* version 2 */
    refused_by_server(&r, bad, size[1], VKT_ERR_UNSUPPORTED);
    free(bad);
    bad = altered(adv[1], size[1], 8, 1); /* round 11 */
    refused_by_server(&r, bad, size[1], VKT_ERR_STATE);
    free(bad);
    bad = altered(adv[1], size[1], 5, SA_MSG_ADVERTISE ^ SA_MSG_MASKED); /* another stage's type */
    refused_by_server(&r, bad, size[1], VKT_ERR_STATE);
    free(bad);
    bad = altered(adv[1], size[1], 6, 1 ^ 4); /* client 4 of 3 */
    refused_by_server(&r, bad, size[1], VKT_ERR_NOT_FOUND);
    free(bad);
    refused_by_server(&r, adv[1], size[1] - 1, VKT_ERR_FORMAT); /* truncated */
    refused_by_server(&r, adv[1], 3, VKT_ERR_FORMAT);
    bad = altered(adv[1], size[1], size[1], 0);
    bad[size[1]] = 0;
    refused_by_server(&r, bad, size[1] + 1, VKT_ERR_FORMAT); /* trailing byte */
    free(bad);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_ERR_STATE); /* nobody yet */
    bad = altered(adv[1], size[1], 0, 0);
    memset(bad + SA_HEADER_BYTES + 32, 0, 32); /* s_pk = 0: small order */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);

    accepted_by_server(&r, adv[1], size[1]);
    refused_by_server(&r, adv[1], size[1], VKT_ERR_STATE); /* replayed */
    bad = altered(adv[1], size[1], 6, 1 ^ 2); /* client 2 with client 1's keys */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    accepted_by_server(&r, adv[2], size[2]);
    accepted_by_server(&r, adv[3], size[3]);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);
    refused_by_server(&r, adv[3], size[3], VKT_ERR_STATE); /* keys after their stage */

    /* Round 1: the shares. */
    uint8_t *shares[N3 + 1];
    for (uint32_t u = 1; u <= N3; u++) {
        uint8_t *list;
        size_t list_size;
        assert_int_equal(vkt_secagg_server_message(r.server, u, &list, &list_size), VKT_OK);
        assert_int_equal(vkt_secagg_client_share_keys(r.c[u], list, list_size, &shares[u], &size[u]), VKT_OK);
        vkt_secagg_message_free(list);
    }
    refused_by_server(&r, shares[1], size[1] - 5, VKT_ERR_FORMAT);
    bad = altered(shares[1], size[1], SA_HEADER_BYTES + 2, 1); /* first recipient 2 -> 3: order broken */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    bad = altered(shares[1], size[1], SA_HEADER_BYTES + 2, 2 ^ 1); /* a share addressed to its sender */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    for (uint32_t u = 1; u <= N3; u++)
        accepted_by_server(&r, shares[u], size[u]);
    refused_by_server(&r, shares[2], size[2], VKT_ERR_STATE);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);

    /* Round 2: masked inputs. */
    uint8_t *masked[N3 + 1];
    for (uint32_t u = 1; u <= N3; u++) {
        uint8_t *in;
        size_t in_size;
        assert_int_equal(vkt_secagg_server_message(r.server, u, &in, &in_size), VKT_OK);
        assert_int_equal(vkt_secagg_client_mask_input(r.c[u], in, in_size, r.x[u], D, &masked[u], &size[u]), VKT_OK);
        vkt_secagg_message_free(in);
    }
    refused_by_server(&r, masked[1], size[1] - 4, VKT_ERR_FORMAT);
    bad = altered(masked[1], size[1], SA_HEADER_BYTES, 1); /* length field */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    accepted_by_server(&r, masked[1], size[1]);
    accepted_by_server(&r, masked[2], size[2]);
    refused_by_server(&r, masked[1], size[1], VKT_ERR_STATE); /* replay would double-count */
    accepted_by_server(&r, masked[3], size[3]);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);

    /* Round 3: unmasking, then the sum. */
    uint8_t *answer[N3 + 1];
    for (uint32_t u = 1; u <= N3; u++) {
        uint8_t *req;
        size_t req_size;
        assert_int_equal(vkt_secagg_server_message(r.server, u, &req, &req_size), VKT_OK);
        assert_int_equal(vkt_secagg_client_unmask(r.c[u], req, req_size, &answer[u], &size[u]), VKT_OK);
        vkt_secagg_message_free(req);
    }
    bad = altered(answer[1], size[1], SA_HEADER_BYTES + 2, 1); /* owner 1 -> 0 */
    refused_by_server(&r, bad, size[1], VKT_ERR_FORMAT);
    free(bad);
    refused_by_server(&r, answer[1], size[1] - 1, VKT_ERR_FORMAT);
    uint32_t sum[D];
    assert_int_equal(vkt_secagg_server_result(r.server, sum, D, NULL), VKT_ERR_STATE); /* not yet */
    accepted_by_server(&r, answer[1], size[1]);
    accepted_by_server(&r, answer[3], size[3]);
    refused_by_server(&r, answer[3], size[3], VKT_ERR_STATE);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);
    assert_int_equal(vkt_secagg_server_result(r.server, sum, D, NULL), VKT_OK);
    for (size_t i = 0; i < D; i++)
        assert_int_equal(sum[i], r.x[1][i] + r.x[2][i] + r.x[3][i]);
    refused_by_server(&r, answer[2], size[2], VKT_ERR_STATE); /* the round is over */

    for (uint32_t u = 1; u <= N3; u++) {
        vkt_secagg_message_free(adv[u]);
        vkt_secagg_message_free(shares[u]);
        vkt_secagg_message_free(masked[u]);
        vkt_secagg_message_free(answer[u]);
    }
    teardown_round(&r);
}

static void refused_by_client(vkt_status got, vkt_status want)
{
    if (got != want)
        fail_msg("client: expected %s, got %s (%s)", vkt_status_name(want), vkt_status_name(got), vkt_last_error());
    assert_true(strlen(vkt_last_error()) > 0);
}

/* Build an unmask request by hand: alive and dropped lists. */
static uint8_t *request(uint64_t round_id, const uint16_t *alive, int na, const uint16_t *dropped, int nd,
                        size_t *size)
{
    *size = SA_HEADER_BYTES + 4 + 2 * (size_t)(na + nd);
    uint8_t *m = calloc(1, *size), *p = m;
    memcpy(p, SA_MAGIC, 4);
    p[4] = SA_VERSION;
    p[5] = SA_MSG_UNMASK_REQUEST;
    upd_store_le64(p + 8, round_id);
    p += SA_HEADER_BYTES;
    upd_store_le16(p, (uint16_t)na);
    p += 2;
    for (int i = 0; i < na; i++, p += 2)
        upd_store_le16(p, alive[i]);
    upd_store_le16(p, (uint16_t)nd);
    p += 2;
    for (int i = 0; i < nd; i++, p += 2)
        upd_store_le16(p, dropped[i]);
    return m;
}

static void test_client_refuses_bad_messages(void **state)
{
    (void)state;
    step_round r;
    setup_round(&r, 20);
    uint8_t *msg, *list;
    size_t size, list_size;
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], NULL, 0, &msg, &size), VKT_ERR_STATE); /* too early */
    for (uint32_t u = 1; u <= N3; u++) {
        assert_int_equal(vkt_secagg_client_advertise(r.c[u], &msg, &size), VKT_OK);
        accepted_by_server(&r, msg, size);
        vkt_secagg_message_free(msg);
    }
    refused_by_client(vkt_secagg_client_advertise(r.c[1], &msg, &size), VKT_ERR_STATE); /* twice */
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);
    assert_int_equal(vkt_secagg_server_message(r.server, 1, &list, &list_size), VKT_OK);

    /* Key list: truncated, trailing, another round, own key replaced. */
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], list, list_size - 1, &msg, &size), VKT_ERR_FORMAT);
    uint8_t *bad = altered(list, list_size, list_size, 0);
    bad[list_size] = 0;
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], bad, list_size + 1, &msg, &size), VKT_ERR_FORMAT);
    free(bad);
    bad = altered(list, list_size, 9, 1);
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], bad, list_size, &msg, &size), VKT_ERR_STATE);
    free(bad);
    bad = altered(list, list_size, SA_HEADER_BYTES + 6 + 2 + 5, 0x40); /* client 1's c key */
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], bad, list_size, &msg, &size), VKT_ERR_FORMAT);
    free(bad);
    bad = altered(list, list_size, SA_HEADER_BYTES + 2, 1); /* threshold 2 -> 3 */
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], bad, list_size, &msg, &size), VKT_ERR_FORMAT);
    free(bad);
    for (uint32_t u = 1; u <= N3; u++) {
        assert_int_equal(vkt_secagg_client_share_keys(r.c[u], list, list_size, &msg, &size), VKT_OK);
        accepted_by_server(&r, msg, size);
        vkt_secagg_message_free(msg);
    }
    refused_by_client(vkt_secagg_client_share_keys(r.c[1], list, list_size, &msg, &size), VKT_ERR_STATE); /* replay */
    vkt_secagg_message_free(list);
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);

    /* Relayed shares: tampered ciphertext, another client's, truncated. */
    uint8_t *in1, *in2;
    size_t in1_size, in2_size;
    assert_int_equal(vkt_secagg_server_message(r.server, 1, &in1, &in1_size), VKT_OK);
    assert_int_equal(vkt_secagg_server_message(r.server, 2, &in2, &in2_size), VKT_OK);
    bad = altered(in1, in1_size, in1_size - 3, 0x10);
    refused_by_client(vkt_secagg_client_mask_input(r.c[1], bad, in1_size, r.x[1], D, &msg, &size), VKT_ERR_FORMAT);
    assert_non_null(strstr(vkt_last_error(), "authentication"));
    free(bad);
    refused_by_client(vkt_secagg_client_mask_input(r.c[1], in2, in2_size, r.x[1], D, &msg, &size), VKT_ERR_FORMAT);
    refused_by_client(vkt_secagg_client_mask_input(r.c[1], in1, in1_size - 1, r.x[1], D, &msg, &size),
                      VKT_ERR_FORMAT);
    refused_by_client(vkt_secagg_client_mask_input(r.c[1], in1, in1_size, r.x[1], D - 1, &msg, &size),
                      VKT_ERR_INVALID_ARG);
    for (uint32_t u = 1; u <= N3; u++) {
        uint8_t *in = u == 1 ? in1 : u == 2 ? in2 : NULL;
        size_t in_size = u == 1 ? in1_size : in2_size;
        if (u == 3)
            assert_int_equal(vkt_secagg_server_message(r.server, 3, &in, &in_size), VKT_OK);
        assert_int_equal(vkt_secagg_client_mask_input(r.c[u], in, in_size, r.x[u], D, &msg, &size), VKT_OK);
        vkt_secagg_message_free(in);
        accepted_by_server(&r, msg, size);
        vkt_secagg_message_free(msg);
    }

    /* Unmask requests a client must refuse: both shares of client 2,
     * fewer than t with input, itself missing, unknown clients. */
    const uint16_t all[3] = {1, 2, 3}, two[1] = {2}, one[1] = {1}, far[2] = {1, 4};
    uint8_t *req;
    size_t req_size;
    req = request(20, all, 3, two, 1, &req_size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_ERR_STATE);
    assert_non_null(strstr(vkt_last_error(), "both"));
    free(req);
    req = request(20, one, 1, two, 1, &req_size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_ERR_STATE);
    free(req);
    const uint16_t not_me[2] = {2, 3}, me[1] = {1};
    req = request(20, not_me, 2, me, 1, &req_size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_ERR_FORMAT);
    free(req);
    req = request(20, far, 2, NULL, 0, &req_size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_ERR_FORMAT);
    free(req);
    req = request(21, all, 3, NULL, 0, &req_size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_ERR_STATE);
    free(req);

    /* The honest request is answered once; a second one (say, asking for
     * the key shares now) is refused. */
    assert_int_equal(vkt_secagg_server_close_stage(r.server), VKT_OK);
    assert_int_equal(vkt_secagg_server_message(r.server, 1, &req, &req_size), VKT_OK);
    assert_int_equal(vkt_secagg_client_unmask(r.c[1], req, req_size, &msg, &size), VKT_OK);
    vkt_secagg_message_free(msg);
    uint8_t *later = request(20, me, 1, not_me, 2, &size);
    refused_by_client(vkt_secagg_client_unmask(r.c[1], later, size, &msg, &size), VKT_ERR_STATE);
    free(later);
    vkt_secagg_message_free(req);
    teardown_round(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_without_dropouts),
        cmocka_unit_test(test_dropouts_after_round_1),
        cmocka_unit_test(test_dropouts_after_round_2),
        cmocka_unit_test(test_dropouts_at_every_stage),
        cmocka_unit_test(test_too_many_dropouts),
        cmocka_unit_test(test_server_refuses_bad_messages),
        cmocka_unit_test(test_client_refuses_bad_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
