/* The payload decoder against hostile input: payloads crafted by hand
 * (as a malicious but enrolled client could send them, authenticated)
 * must be refused with a message naming the problem: unknown stages,
 * inconsistent header fields, over-limit counts, decompression bombs,
 * lying or trailing zstd frames, bad names, shapes, indices, varints,
 * scales and values, and leftover bytes. A crafted payload sealed with
 * valid keys is refused by the receiver too, leaving its state alone. */
#include "test_util.h"
#include "update_harness.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include <vktrain/vktrain.h>

#include "fuzz/fuzz_common.h"
#include "runtime/rt_error.h"
#include "src/update/bytes.h"
#include "src/update/packet.h"
#include "src/update/payload.h"

typedef struct ph {
    uint32_t stages, block, tensors, examples;
    float topk, clip, noise;
    uint64_t elements, body_size; /* body_size UINT64_MAX: the body's length */
} ph;

static const upd_limits limits = {.max_elements = 1 << 20, .max_tensors = 64};

static ph dense(uint32_t tensors, uint64_t elements)
{
    return (ph){.tensors = tensors, .examples = 1, .elements = elements, .body_size = UINT64_MAX};
}

static void put_header(upd_buf *b, const ph *h, size_t body_len)
{
    upd_buf_u32(b, h->stages);
    upd_buf_u32(b, h->block);
    upd_buf_u32(b, h->tensors);
    upd_buf_u32(b, h->examples);
    upd_buf_f32(b, h->topk);
    upd_buf_f32(b, h->clip);
    upd_buf_f32(b, h->noise);
    upd_buf_u64(b, h->elements);
    upd_buf_u64(b, h->body_size == UINT64_MAX ? body_len : h->body_size);
}

/* A tensor record head: name, rank, dims. */
static void put_tensor_head(upd_buf *b, const char *name, int rank, const uint32_t *dims)
{
    upd_buf_u8(b, (uint8_t)strlen(name));
    upd_buf_put(b, name, strlen(name));
    upd_buf_u8(b, (uint8_t)rank);
    for (int d = 0; d < rank; d++)
        upd_buf_u32(b, dims[d]);
}

/* "w" [3] = {1, 2, 3} in fp32. */
static void put_w3(upd_buf *b)
{
    put_tensor_head(b, "w", 1, (uint32_t[]){3});
    for (int i = 1; i <= 3; i++)
        upd_buf_f32(b, (float)i);
}

static vkt_status decode(const ph *h, const upd_buf *body, vkt_update **u)
{
    upd_buf p = {0};
    put_header(&p, h, body->len);
    upd_buf_put(&p, body->data, body->len);
    vkt_status st = upd_payload_decode(p.data, p.len, &limits, u);
    upd_buf_wipe(&p);
    return st;
}

#define EXPECT_BAD(h, body, status, needle) expect_bad(h, body, status, needle, __LINE__)

static void expect_bad(const ph *h, upd_buf *body, vkt_status want, const char *needle, int line)
{
    vkt_update *u = (vkt_update *)0x1;
    vkt_status st = decode(h, body, &u);
    if (st != want || !strstr(rt_error_message(), needle))
        fail_msg("line %d: status %d (%s), wanted %d with \"%s\"", line, st, rt_error_message(), want, needle);
    assert_null(u);
    upd_buf_wipe(body);
}

static void test_valid_baseline(void **state)
{
    (void)state;
    upd_buf b = {0};
    put_w3(&b);
    ph h = dense(1, 3);
    vkt_update *u;
    assert_int_equal(decode(&h, &b, &u), VKT_OK);
    vkt_update_tensor t;
    assert_int_equal(vkt_update_get_tensor(u, 0, &t), VKT_OK);
    assert_string_equal(t.name, "w");
    assert_true(t.values[0] == 1.0f && t.values[2] == 3.0f);
    vkt_update_destroy(u);
    upd_buf_wipe(&b);
}

static void test_header_fields(void **state)
{
    (void)state;
    upd_buf b = {0};
    ph h;
#define CASE(mutate, status, needle)                                                                                \
    do {                                                                                                            \
        h = dense(1, 3);                                                                                            \
        mutate;                                                                                                     \
        put_w3(&b);                                                                                                 \
        EXPECT_BAD(&h, &b, status, needle);                                                                         \
    } while (0)
    CASE(h.stages = 1u << 4, VKT_ERR_FORMAT, "unknown codec stage");
    CASE(h.block = 8, VKT_ERR_FORMAT, "without the int8 stage");
    CASE((h.stages = UPD_STAGE_INT8, h.block = 0), VKT_ERR_FORMAT, "block size 0");
    CASE((h.stages = UPD_STAGE_INT8, h.block = 65537), VKT_ERR_FORMAT, "block size 65537");
    CASE((h.stages = UPD_STAGE_TOPK, h.topk = 0.0f), VKT_ERR_FORMAT, "top-k fraction");
    CASE((h.stages = UPD_STAGE_TOPK, h.topk = 1.0f), VKT_ERR_FORMAT, "top-k fraction");
    CASE((h.stages = UPD_STAGE_TOPK, h.topk = NAN), VKT_ERR_FORMAT, "top-k fraction");
    CASE(h.topk = 0.5f, VKT_ERR_FORMAT, "without the top-k stage");
    CASE(h.topk = -0.0f, VKT_ERR_FORMAT, "without the top-k stage");
    CASE((h.stages = UPD_STAGE_DP, h.clip = 0.0f), VKT_ERR_FORMAT, "clip norm");
    CASE((h.stages = UPD_STAGE_DP, h.clip = INFINITY), VKT_ERR_FORMAT, "clip norm");
    CASE((h.stages = UPD_STAGE_DP, h.clip = 1.0f, h.noise = -1.0f), VKT_ERR_FORMAT, "noise multiplier");
    CASE((h.stages = UPD_STAGE_DP, h.clip = 1.0f, h.noise = NAN), VKT_ERR_FORMAT, "noise multiplier");
    CASE(h.noise = 1.0f, VKT_ERR_FORMAT, "without the DP stage");
    CASE(h.tensors = 0, VKT_ERR_FORMAT, "no tensors");
    CASE(h.tensors = 65, VKT_ERR_UNSUPPORTED, "limit");
    CASE(h.elements = 0, VKT_ERR_FORMAT, "elements for 1 tensors");
    CASE(h.elements = (1 << 20) + 1, VKT_ERR_UNSUPPORTED, "limit");
    CASE(h.body_size = 0, VKT_ERR_FORMAT, "declared body");
    CASE(h.body_size = 1000, VKT_ERR_FORMAT, "declared body");
    CASE(h.body_size = 20, VKT_ERR_FORMAT, "body of 19 bytes");
    CASE(h.body_size = 18, VKT_ERR_FORMAT, "body of 19 bytes");
    CASE(h.elements = 4, VKT_ERR_FORMAT, "tensors hold 3 elements");
    CASE(h.elements = 2, VKT_ERR_FORMAT, "more than the 2 declared");
    CASE(h.tensors = 2, VKT_ERR_FORMAT, "tensor 1: truncated name");
#undef CASE
    /* Shorter than the payload header. */
    vkt_update *u = (vkt_update *)0x1;
    uint8_t few[10] = {0};
    assert_int_equal(upd_payload_decode(few, sizeof few, &limits, &u), VKT_ERR_FORMAT);
    assert_null(u);
}

static void test_tensor_records(void **state)
{
    (void)state;
    upd_buf b = {0};
    ph h = dense(1, 3);

    put_tensor_head(&b, "", 1, (uint32_t[]){3});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "name is empty");
    put_tensor_head(&b, "a b", 1, (uint32_t[]){3});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "not printable");
    put_tensor_head(&b, "w", 5, (uint32_t[]){1, 1, 3, 1, 1});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "rank 5");
    put_tensor_head(&b, "w", 2, (uint32_t[]){3, 0});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "dimension 1 is 0");
    put_tensor_head(&b, "w", 1, (uint32_t[]){0x80000000u});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "dimension 0 is 2147483648");
    put_tensor_head(&b, "w", 2, (uint32_t[]){65536, 65536});
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "more than 2147483647 elements");
    put_tensor_head(&b, "w", 1, (uint32_t[]){3});
    upd_buf_f32(&b, 1.0f);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "truncated values");
    put_tensor_head(&b, "w", 1, (uint32_t[]){3});
    upd_buf_f32(&b, 1.0f), upd_buf_f32(&b, NAN), upd_buf_f32(&b, 1.0f);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "value 1 is not finite");
    put_tensor_head(&b, "w", 1, (uint32_t[]){3});
    upd_buf_f32(&b, INFINITY), upd_buf_f32(&b, 0.0f), upd_buf_f32(&b, 1.0f);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "value 0 is not finite");
    put_w3(&b);
    upd_buf_u8(&b, 0);
    h.body_size = UINT64_MAX;
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "1 bytes after the last tensor");

    /* Two tensors out of order, and a duplicate. */
    h = dense(2, 4);
    put_tensor_head(&b, "b", 0, NULL), upd_buf_f32(&b, 1.0f);
    put_w3(&b);
    vkt_update *u;
    assert_int_equal(decode(&h, &b, &u), VKT_OK);
    vkt_update_destroy(u);
    upd_buf_wipe(&b);
    put_w3(&b);
    put_tensor_head(&b, "b", 0, NULL), upd_buf_f32(&b, 1.0f);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "strictly increasing");
    h = dense(2, 6);
    put_w3(&b);
    put_w3(&b);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "strictly increasing");
    put_tensor_head(&b, "w", 1, (uint32_t[]){3}), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1);
    put_tensor_head(&b, "ww", 1, (uint32_t[]){3}), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1);
    assert_int_equal(decode(&h, &b, &u), VKT_OK); /* a prefix sorts first */
    vkt_update_destroy(u);
    upd_buf_wipe(&b);
}

static void test_topk_indices(void **state)
{
    (void)state;
    upd_buf b = {0};
    ph h = dense(1, 10);
    h.stages = UPD_STAGE_TOPK;
    h.topk = 0.3f;
    /* Valid: k = 3 at 1, 4, 9: gaps 1, 2, 4. */
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 3);
    upd_buf_varint(&b, 1), upd_buf_varint(&b, 2), upd_buf_varint(&b, 4);
    upd_buf_f32(&b, 1), upd_buf_f32(&b, 2), upd_buf_f32(&b, 3);
    vkt_update *u;
    assert_int_equal(decode(&h, &b, &u), VKT_OK);
    vkt_update_tensor t;
    vkt_update_get_tensor(u, 0, &t);
    assert_true(t.values[1] == 1 && t.values[4] == 2 && t.values[9] == 3 && t.values[0] == 0 && t.values[8] == 0);
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    assert_int_equal(info.sent_values, 3);
    vkt_update_destroy(u);
    upd_buf_wipe(&b);

    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 11);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "11 values for 10 elements");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 1), upd_buf_varint(&b, 10), upd_buf_f32(&b, 1);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "index 10 out of range");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 2), upd_buf_varint(&b, 5), upd_buf_varint(&b, 4), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "index 10 out of range");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 2), upd_buf_varint(&b, 0), upd_buf_varint(&b, 0xffffffffu), upd_buf_f32(&b, 1), upd_buf_f32(&b, 1);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "out of range");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 1), upd_buf_u8(&b, 0x81), upd_buf_u8(&b, 0x00), upd_buf_f32(&b, 1);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "malformed varint");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 2), upd_buf_varint(&b, 3);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "truncated index 1");
    put_tensor_head(&b, "w", 1, (uint32_t[]){10});
    upd_buf_u32(&b, 0); /* k = 0 is allowed: nothing sent */
    assert_int_equal(decode(&h, &b, &u), VKT_OK);
    vkt_update_destroy(u);
    upd_buf_wipe(&b);
}

static void test_int8_values(void **state)
{
    (void)state;
    upd_buf b = {0};
    ph h = dense(1, 5);
    h.stages = UPD_STAGE_INT8;
    h.block = 2;
    /* 5 values in blocks of 2: 3 scales. */
    put_tensor_head(&b, "w", 1, (uint32_t[]){5});
    upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, 0.0f), upd_buf_f32(&b, 2.0f);
    const int8_t q[5] = {127, -127, 0, 0, -3};
    upd_buf_put(&b, q, 5);
    vkt_update *u;
    assert_int_equal(decode(&h, &b, &u), VKT_OK);
    vkt_update_tensor t;
    vkt_update_get_tensor(u, 0, &t);
    assert_true(t.values[0] == 63.5f && t.values[1] == -63.5f && t.values[4] == -6.0f);
    vkt_update_destroy(u);
    upd_buf_wipe(&b);

    const float bad_scales[] = {NAN, -1.0f, INFINITY, FLT_MAX / 100.0f};
    for (size_t i = 0; i < sizeof bad_scales / sizeof *bad_scales; i++) {
        put_tensor_head(&b, "w", 1, (uint32_t[]){5});
        upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, bad_scales[i]), upd_buf_f32(&b, 2.0f);
        upd_buf_put(&b, q, 5);
        EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "int8 scale 1");
    }
    put_tensor_head(&b, "w", 1, (uint32_t[]){5});
    upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, 2.0f);
    const int8_t q128[5] = {0, 0, 0, -128, 0};
    upd_buf_put(&b, q128, 5);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "-128 at 3");
    put_tensor_head(&b, "w", 1, (uint32_t[]){5});
    upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, 0.5f), upd_buf_f32(&b, 2.0f);
    upd_buf_put(&b, q, 4);
    EXPECT_BAD(&h, &b, VKT_ERR_FORMAT, "truncated int8");
}

/* Payload header + a zstd frame of `content`, compressed with or without
 * the content size in the frame header. */
static void zstd_frame(upd_buf *out, const void *content, size_t len, bool with_size)
{
    size_t bound = ZSTD_compressBound(len);
    upd_buf_reserve(out, bound);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
    size_t r = ZSTD_compress2(c, out->data + out->len, bound, content, len);
    assert_false(ZSTD_isError(r));
    out->len += r;
    ZSTD_freeCCtx(c);
}

static vkt_status decode_zstd(const ph *h, const upd_buf *frame_area, vkt_update **u)
{
    upd_buf p = {0};
    put_header(&p, h, 0);
    upd_buf_put(&p, frame_area->data, frame_area->len);
    vkt_status st = upd_payload_decode(p.data, p.len, &limits, u);
    upd_buf_wipe(&p);
    return st;
}

static void expect_zstd_bad(const ph *h, upd_buf *frame, const char *needle, int line)
{
    vkt_update *u = (vkt_update *)0x1;
    vkt_status st = decode_zstd(h, frame, &u);
    if (st != VKT_ERR_FORMAT || !strstr(rt_error_message(), needle))
        fail_msg("line %d: status %d (%s), wanted \"%s\"", line, st, rt_error_message(), needle);
    assert_null(u);
    upd_buf_wipe(frame);
}

static void test_zstd_frames(void **state)
{
    (void)state;
    upd_buf body = {0}, f = {0};
    put_w3(&body);
    ph h = dense(1, 3);
    h.stages = UPD_STAGE_ZSTD;
    h.body_size = body.len;

    zstd_frame(&f, body.data, body.len, true);
    vkt_update *u;
    assert_int_equal(decode_zstd(&h, &f, &u), VKT_OK);
    vkt_update_destroy(u);

    /* Two frames, and trailing garbage. */
    zstd_frame(&f, body.data, body.len, true);
    expect_zstd_bad(&h, &f, "after the zstd frame", __LINE__);
    zstd_frame(&f, body.data, body.len, true);
    upd_buf_u8(&f, 0);
    expect_zstd_bad(&h, &f, "1 bytes after the zstd frame", __LINE__);
    /* No content size in the frame. */
    zstd_frame(&f, body.data, body.len, false);
    expect_zstd_bad(&h, &f, "without a readable content size", __LINE__);
    /* Not a frame at all, and a skippable frame. */
    upd_buf_put(&f, body.data, body.len);
    expect_zstd_bad(&h, &f, "not a zstd frame", __LINE__);
    const uint8_t skippable[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
    upd_buf_put(&f, skippable, sizeof skippable);
    expect_zstd_bad(&h, &f, "not a zstd frame", __LINE__);
    /* A frame holding more (or less) than the payload declares. */
    h.body_size = body.len - 1;
    zstd_frame(&f, body.data, body.len, true);
    expect_zstd_bad(&h, &f, "the payload declares", __LINE__);
    h.body_size = body.len;
    /* A cut frame. */
    zstd_frame(&f, body.data, body.len, true);
    f.len--;
    expect_zstd_bad(&h, &f, "corrupt zstd frame", __LINE__);

    /* A decompression bomb: 64 MiB of zeros in a few KiB, declared as
     * such. The declared size is over what 3 elements can need, so it
     * is refused before zstd runs. */
    size_t big = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, big);
    zstd_frame(&f, zeros, big, true);
    free(zeros);
    assert_true(f.len < 16384);
    h.body_size = big;
    vkt_update *u3 = (vkt_update *)0x1;
    assert_int_equal(decode_zstd(&h, &f, &u3), VKT_ERR_FORMAT);
    assert_non_null(strstr(rt_error_message(), "declared body"));
    /* The same frame behind an honest-looking small body size. */
    h.body_size = body.len;
    assert_int_equal(decode_zstd(&h, &f, &u3), VKT_ERR_FORMAT);
    assert_non_null(strstr(rt_error_message(), "the payload declares"));
    assert_null(u3);
    upd_buf_wipe(&f);
    upd_buf_wipe(&body);
}

/* A hostile payload sealed with the client's real keys: authentic, but
 * refused by the receiver, whose replay window stays where it was. */
static void test_sealed_hostile_payload(void **state)
{
    (void)state;
    vkt_update_codec c = {0};
    uh_env e;
    uh_env_init(&e, &c);
    upd_buf body = {0}, p = {0};
    put_tensor_head(&body, "w", 1, (uint32_t[]){3});
    upd_buf_f32(&body, 1.0f), upd_buf_f32(&body, NAN), upd_buf_f32(&body, 1.0f);
    ph h = dense(1, 3);
    put_header(&p, &h, body.len);
    upd_buf_put(&p, body.data, body.len);

    upd_header hdr = {.round_id = UH_ROUND, .client_id = UH_CLIENT, .sequence = 9};
    memcpy(hdr.model_hash, e.model_hash, sizeof hdr.model_hash);
    uint8_t *pkt;
    size_t size;
    assert_int_equal(upd_packet_seal(&hdr, &e.client, e.aggregator.public_key, p.data, p.len, &pkt, &size), VKT_OK);
    vkt_update *u;
    assert_int_equal(vkt_update_receive(e.rx, pkt, size, &u), VKT_ERR_FORMAT);
    assert_non_null(strstr(vkt_last_error(), "not finite"));
    uint64_t last;
    assert_int_equal(vkt_update_receiver_last_sequence(e.rx, UH_CLIENT, &last), VKT_OK);
    assert_int_equal(last, 0);
    free(pkt);
    upd_buf_wipe(&body);
    upd_buf_wipe(&p);
    uh_env_free(&e);
}

/* The committed seed corpus doubles as golden packets: packets and
 * payloads written by an earlier build must still be accepted (and the
 * fuzzers keep starting from inputs that reach deep code). */
static void test_corpus_still_decodes(void **state)
{
    (void)state;
    vkt_keypair agg, client;
    fuzz_keys(&agg, &client);
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    fuzz_model_hash(hash);
    const upd_limits lim = {.max_elements = FUZZ_MAX_ELEMENTS, .max_tensors = FUZZ_MAX_TENSORS};
    const char *dirs[2] = {VKT_FUZZ_CORPUS_DIR "/fuzz_packet_parse", VKT_FUZZ_CORPUS_DIR "/fuzz_update_decode"};
    int checked = 0;
    for (int d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        assert_non_null(dir);
        struct dirent *e;
        while ((e = readdir(dir))) {
            bool packet = strncmp(e->d_name, "valid_", 6) == 0;
            bool payload = strncmp(e->d_name, "payload_", 8) == 0 && !strstr(e->d_name, "header_only") &&
                           !strstr(e->d_name, "truncated");
            if (!packet && !payload)
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            size_t size;
            uint8_t *bytes = tu_read_file(path, &size);
            assert_non_null(bytes);
            vkt_update *u = NULL;
            vkt_status st;
            if (packet) {
                vkt_update_receiver *rx;
                assert_int_equal(vkt_update_receiver_create(&agg, NULL, &rx), VKT_OK);
                vkt_update_receiver_set_round(rx, FUZZ_ROUND, hash);
                vkt_update_receiver_add_client(rx, FUZZ_CLIENT, client.public_key, 0);
                st = vkt_update_receive(rx, bytes, size, &u);
                vkt_update_receiver_destroy(rx);
            } else {
                st = upd_payload_decode(bytes, size, &lim, &u);
            }
            if (st != VKT_OK)
                fail_msg("%s: %s", path, vkt_last_error());
            assert_int_equal(vkt_update_tensor_count(u), 4);
            vkt_update_destroy(u);
            free(bytes);
            checked++;
        }
        closedir(dir);
    }
    assert_true(checked >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_baseline),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_tensor_records),
        cmocka_unit_test(test_topk_indices),
        cmocka_unit_test(test_int8_values),
        cmocka_unit_test(test_zstd_frames),
        cmocka_unit_test(test_sealed_hostile_payload),
        cmocka_unit_test(test_corpus_still_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
