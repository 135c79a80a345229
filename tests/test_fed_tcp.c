/* vkagg's TCP server on loopback, in process: a server thread feeds an
 * aggregator while the test, as hostile and honest clients, sends good
 * packets, garbage frames, a replay, oversized and empty lengths, a
 * frame cut short and a stalled one. The server survives all of it,
 * answers each frame, closes only the offending connections, and the
 * round completes with exactly the good packets. */
#include "fed_harness.h"
#include "test_util.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "server.h"

#define MAX_FRAME 4096
#define TIMEOUT_S 1.0

typedef struct server_ctx {
    agg_server *server;
    vkt_fed_aggregator *agg;
    bool ok;
} server_ctx;

static uint8_t on_frame(const uint8_t *frame, size_t size, const char *peer, void *user)
{
    (void)peer;
    server_ctx *ctx = user;
    vkt_fed_receipt r;
    vkt_status st = vkt_fed_submit_packet(ctx->agg, frame, size, &r);
    return st == VKT_OK ? FRAME_REPLY_ACCEPTED : (uint8_t)r.refusal;
}

static bool round_full(void *user)
{
    server_ctx *ctx = user;
    vkt_fed_round_stats s;
    vkt_fed_pending_stats(ctx->agg, &s);
    return s.accepted >= 3;
}

static void *serve(void *arg)
{
    server_ctx *ctx = arg;
    char err[256];
    ctx->ok = agg_server_run(ctx->server, on_frame, round_full, ctx, agg_server_now() + 60.0, err, sizeof err);
    return NULL;
}

static const float deltas[3][3] = {{6.0f, -3.0f, 1.5f}, {3.0f, 0.0f, -1.5f}, {-2.0f, 2.0f, 2.5f}};
static const float expected[FH_NUMEL] = {1, 2, 3, 4, 5, 6, 6.5f, 7.5f, 9, 10};

/* Built while the server thread runs: uses the hash taken before. */
static uint8_t model_hash[VKT_MODEL_HASH_BYTES];

static uint8_t *good_packet(int c, size_t *size)
{
    fh_model d;
    fh_model_fill(&d, deltas[c - 1][0], deltas[c - 1][1], deltas[c - 1][2]);
    const uint8_t *hash = model_hash;
    return fh_packet((uint8_t)c, 1, 0, hash, d.t, FH_TENSORS, (uint32_t)c, size);
}

static int connect_to(uint16_t port)
{
    char err[256];
    int fd = frame_connect("127.0.0.1", port, 10.0, err, sizeof err);
    if (fd < 0)
        fail_msg("%s", err);
    return fd;
}

static uint8_t send_frame(int fd, const uint8_t *data, size_t size)
{
    char err[256];
    uint8_t reply = 0;
    if (!frame_send(fd, data, size, &reply, err, sizeof err))
        fail_msg("%s", err);
    return reply;
}

static void send_raw(int fd, const void *data, size_t size)
{
    char err[256];
    if (!frame_send_raw(fd, data, size, err, sizeof err))
        fail_msg("%s", err);
}

/* The server has closed this connection: end of stream. */
static void expect_closed(int fd)
{
    uint8_t byte;
    char err[256];
    assert_false(frame_read_reply(fd, &byte, err, sizeof err));
    close(fd);
}

static void test_hostile_clients(void **state)
{
    (void)state;
    vkt_fed_options opt = {.min_clients = 3};
    server_ctx ctx = {.agg = fh_aggregator(&opt, 3)};
    agg_server_config config = {.host = "127.0.0.1", .max_frame = MAX_FRAME, .max_connections = 8,
                                .idle_timeout_s = TIMEOUT_S, .frame_timeout_s = TIMEOUT_S};
    char err[256];
    if (!agg_server_open(&config, &ctx.server, err, sizeof err))
        fail_msg("%s", err);
    uint16_t port = agg_server_port(ctx.server);
    assert_true(port > 0);
    vkt_fed_aggregator_model_hash(ctx.agg, model_hash);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, serve, &ctx), 0);

    /* A good packet, garbage, a replay, then an oversized length. */
    int fd = connect_to(port);
    size_t size;
    uint8_t *p1 = good_packet(1, &size);
    assert_int_equal(send_frame(fd, p1, size), FRAME_REPLY_ACCEPTED);
    float noise[40];
    tu_fill_uniform(noise, 40, 3, -1e9f, 1e9f);
    assert_int_equal(send_frame(fd, (const uint8_t *)noise, sizeof noise), VKT_FED_REFUSED_MALFORMED);
    assert_int_equal(send_frame(fd, p1, size), VKT_FED_REFUSED_REPLAY);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    send_raw(fd, huge, sizeof huge);
    uint8_t reply;
    assert_true(frame_read_reply(fd, &reply, err, sizeof err));
    assert_int_equal(reply, FRAME_REPLY_BAD_FRAME);
    expect_closed(fd);
    vkt_update_packet_free(p1);

    /* Something else entirely: its first bytes read as a huge length. */
    fd = connect_to(port);
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    send_raw(fd, http, strlen(http));
    assert_true(frame_read_reply(fd, &reply, err, sizeof err));
    assert_int_equal(reply, FRAME_REPLY_BAD_FRAME);
    expect_closed(fd);

    /* An empty frame. */
    fd = connect_to(port);
    const uint8_t zero[4] = {0};
    send_raw(fd, zero, sizeof zero);
    assert_true(frame_read_reply(fd, &reply, err, sizeof err));
    assert_int_equal(reply, FRAME_REPLY_BAD_FRAME);
    expect_closed(fd);

    /* A frame that stalls half-way: timed out and closed. */
    int stalled = connect_to(port);
    uint8_t head[4];
    frame_put_le32(head, 50);
    send_raw(stalled, head, sizeof head);
    send_raw(stalled, "0123456789", 10);
    /* Half a header, then gone; a connection that never says anything. */
    fd = connect_to(port);
    send_raw(fd, head, 2);
    close(fd);
    close(connect_to(port));
    expect_closed(stalled);

    /* The honest rest of the round, on one connection. */
    fd = connect_to(port);
    for (int c = 2; c <= 3; c++) {
        uint8_t *p = good_packet(c, &size);
        assert_int_equal(send_frame(fd, p, size), FRAME_REPLY_ACCEPTED);
        vkt_update_packet_free(p);
    }
    assert_int_equal(pthread_join(thread, NULL), 0);
    close(fd);
    assert_true(ctx.ok);

    agg_server_counts counts;
    agg_server_counts_get(ctx.server, &counts);
    assert_int_equal(counts.bad_frames, 3);
    assert_int_equal(counts.timeouts, 1);
    assert_int_equal(counts.truncated, 1);
    assert_int_equal(counts.frames, 5);
    agg_server_close(ctx.server);

    vkt_fed_round_stats stats;
    assert_int_equal(vkt_fed_round_finish(ctx.agg, &stats), VKT_OK);
    assert_int_equal(stats.accepted, 3);
    assert_int_equal(stats.refused, 2);
    float got[FH_NUMEL];
    fh_global(ctx.agg, got);
    fh_assert_close(got, expected, FH_NUMEL, 1e-6);
    vkt_fed_aggregator_destroy(ctx.agg);
}

/* More connections than allowed: the extra one is closed at once, the
 * others are served. */
static void test_connection_limit(void **state)
{
    (void)state;
    server_ctx ctx = {.agg = fh_aggregator(NULL, 3)};
    agg_server_config config = {.host = "127.0.0.1", .max_frame = MAX_FRAME, .max_connections = 1,
                                .idle_timeout_s = 5.0, .frame_timeout_s = 5.0};
    char err[256];
    if (!agg_server_open(&config, &ctx.server, err, sizeof err))
        fail_msg("%s", err);
    vkt_fed_aggregator_model_hash(ctx.agg, model_hash);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, serve, &ctx), 0);
    uint16_t port = agg_server_port(ctx.server);
    int first = connect_to(port);
    size_t size;
    uint8_t *p = good_packet(1, &size);
    assert_int_equal(send_frame(first, p, size), FRAME_REPLY_ACCEPTED); /* first is registered */
    vkt_update_packet_free(p);
    int second = connect_to(port);
    expect_closed(second);
    for (int c = 2; c <= 3; c++) {
        p = good_packet(c, &size);
        assert_int_equal(send_frame(first, p, size), FRAME_REPLY_ACCEPTED);
        vkt_update_packet_free(p);
    }
    assert_int_equal(pthread_join(thread, NULL), 0);
    close(first);
    agg_server_counts counts;
    agg_server_counts_get(ctx.server, &counts);
    assert_int_equal(counts.rejected, 1);
    agg_server_close(ctx.server);
    vkt_fed_aggregator_destroy(ctx.agg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_clients),
        cmocka_unit_test(test_connection_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
