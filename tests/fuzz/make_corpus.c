/* Writes the seed corpus of the fuzz targets:
 *   make_fuzz_corpus DIR  ->  files in DIR/fuzz_packet_parse/ and DIR/fuzz_update_decode/
 * Valid packets for several codecs (sealed with the fuzz keys, so they
 * authenticate in fuzz_packet_parse), their plaintext payloads (for
 * fuzz_update_decode), and a few edge cases. Run by hand; the output is
 * committed under tests/fuzz/corpus/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vktrain/vktrain.h>

#include "fuzz_common.h"
#include "src/update/packet.h"

static const char *out_dir;

static void write_file(const char *target, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* A small model update: four tensors of mixed rank. */
static float values[4][64];
static vkt_update_tensor delta[4] = {
    {.name = "a.bias", .rank = 1, .dims = {4}},
    {.name = "a.weight", .rank = 2, .dims = {4, 6}},
    {.name = "b", .rank = 0},
    {.name = "c.weight", .rank = 4, .dims = {2, 3, 2, 2}},
};

static void make_update(void)
{
    uint32_t x = 12345;
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 64; i++) {
            x = x * 1664525u + 1013904223u;
            values[t][i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.1f;
        }
        delta[t].values = values[t];
    }
}

static void emit(const char *codec_text, const char *name, const vkt_keypair *agg, const vkt_keypair *client)
{
    vkt_update_codec codec;
    vkt_update_encoder *enc;
    if (vkt_update_codec_parse(codec_text, &codec) != VKT_OK ||
        vkt_update_encoder_create(&codec, FUZZ_CLIENT, client, agg->public_key, &enc) != VKT_OK) {
        fprintf(stderr, "%s: %s\n", codec_text, vkt_last_error());
        exit(1);
    }
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    fuzz_model_hash(hash);
    vkt_update_round round = {.round_id = FUZZ_ROUND, .example_count = 60};
    uint8_t *pkt;
    size_t size;
    if (vkt_update_encode_delta(enc, &round, hash, delta, 4, &pkt, &size) != VKT_OK) {
        fprintf(stderr, "%s: %s\n", codec_text, vkt_last_error());
        exit(1);
    }
    char file[256];
    snprintf(file, sizeof file, "valid_%s.bin", name);
    write_file("fuzz_packet_parse", file, pkt, size);

    /* Its plaintext, for the decoder target. */
    upd_header h;
    uint8_t *plain;
    size_t plain_size;
    if (upd_header_parse(pkt, size, &h) != VKT_OK || upd_packet_open(pkt, &h, agg, &plain, &plain_size) != VKT_OK) {
        fprintf(stderr, "%s: %s\n", codec_text, vkt_last_error());
        exit(1);
    }
    snprintf(file, sizeof file, "payload_%s.bin", name);
    write_file("fuzz_update_decode", file, plain, plain_size);

    if (strcmp(name, "dense") == 0) {
        /* Edge cases around a valid packet. */
        write_file("fuzz_packet_parse", "truncated_header.bin", pkt, UPD_HEADER_BYTES - 1);
        write_file("fuzz_packet_parse", "header_only.bin", pkt, UPD_HEADER_BYTES);
        write_file("fuzz_packet_parse", "truncated_tag.bin", pkt, size - 1);
        uint8_t *copy = malloc(size + 1);
        memcpy(copy, pkt, size);
        copy[size] = 0;
        write_file("fuzz_packet_parse", "trailing_byte.bin", copy, size + 1);
        copy[4] = 2; /* version 2 */
        write_file("fuzz_packet_parse", "version2.bin", copy, size);
        memcpy(copy, pkt, size);
        copy[UPD_HEADER_BYTES + 3] ^= 0x40; /* ciphertext bit */
        write_file("fuzz_packet_parse", "flipped_ciphertext.bin", copy, size);
        free(copy);
        write_file("fuzz_update_decode", "payload_header_only.bin", plain, 44);
        write_file("fuzz_update_decode", "payload_truncated.bin", plain, plain_size - 1);
    }
    upd_plain_free(plain, plain_size);
    vkt_update_packet_free(pkt);
    vkt_update_encoder_destroy(enc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    vkt_keypair agg, client;
    fuzz_keys(&agg, &client);
    make_update();
    emit("dense", "dense", &agg, &client);
    emit("zstd=3", "zstd", &agg, &client);
    emit("int8=8", "int8", &agg, &client);
    emit("topk=0.25,ef", "topk", &agg, &client);
    emit("topk=0.25,ef,int8=4,zstd=3", "topk_int8_zstd", &agg, &client);
    emit("dp=0.05:0.5", "dp", &agg, &client);
    emit("topk=0.1,ef,int8=16,zstd=19,dp=1:0.1", "all", &agg, &client);
    const uint8_t empty = 0;
    write_file("fuzz_packet_parse", "empty.bin", &empty, 0);
    write_file("fuzz_update_decode", "empty.bin", &empty, 0);
    return 0;
}
