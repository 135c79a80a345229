/* Sealing and opening packets with libsodium. Session keys are derived
 * per packet from the long-term pairs (crypto_kx: X25519 then BLAKE2b)
 * and wiped as soon as the AEAD call returns. The whole header is the
 * associated data, so no header byte can change without the tag
 * failing; the nonce is 24 random bytes, safe to draw at random for
 * any number of packets under one key. */
#include "packet.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "payload.h"
#include "runtime/rt_error.h"

/* Offsets of the header fields. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_HEADER_SIZE = 6,
    OFF_CT_SIZE = 8,
    OFF_ROUND = 16,
    OFF_CLIENT = 24,
    OFF_SEQUENCE = 32,
    OFF_MODEL_HASH = 40,
    OFF_CLIENT_PK = 72,
    OFF_NONCE = 104,
};

_Static_assert(OFF_NONCE + UPD_NONCE_BYTES == UPD_HEADER_BYTES, "header layout");
_Static_assert(UPD_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(UPD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(crypto_kx_SESSIONKEYBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

void upd_header_write(const upd_header *h, uint8_t out[UPD_HEADER_BYTES])
{
    memcpy(out + OFF_MAGIC, UPD_MAGIC, 4);
    upd_store_le16(out + OFF_VERSION, UPD_VERSION);
    upd_store_le16(out + OFF_HEADER_SIZE, UPD_HEADER_BYTES);
    upd_store_le64(out + OFF_CT_SIZE, h->ciphertext_size);
    upd_store_le64(out + OFF_ROUND, h->round_id);
    upd_store_le64(out + OFF_CLIENT, h->client_id);
    upd_store_le64(out + OFF_SEQUENCE, h->sequence);
    memcpy(out + OFF_MODEL_HASH, h->model_hash, VKT_MODEL_HASH_BYTES);
    memcpy(out + OFF_CLIENT_PK, h->client_pk, VKT_KX_PUBLIC_KEY_BYTES);
    memcpy(out + OFF_NONCE, h->nonce, UPD_NONCE_BYTES);
}

vkt_status upd_header_parse(const uint8_t *p, size_t size, upd_header *h)
{
    if (!p || size < UPD_HEADER_BYTES)
        return rt_error(VKT_ERR_FORMAT, "update packet: %zu bytes, shorter than the %d-byte header", p ? size : 0,
                        UPD_HEADER_BYTES);
    if (memcmp(p + OFF_MAGIC, UPD_MAGIC, 4) != 0)
        return rt_error(VKT_ERR_FORMAT, "update packet: bad magic (not a vktrain update packet)");
    unsigned version = upd_load_le16(p + OFF_VERSION);
    if (version != UPD_VERSION)
        return rt_error(version > UPD_VERSION ? VKT_ERR_UNSUPPORTED : VKT_ERR_FORMAT,
                        "update packet: format version %u, this build reads version %d", version, UPD_VERSION);
    unsigned header_size = upd_load_le16(p + OFF_HEADER_SIZE);
    if (header_size != UPD_HEADER_BYTES)
        return rt_error(VKT_ERR_FORMAT, "update packet: header size %u, version 1 has %d", header_size,
                        UPD_HEADER_BYTES);
    h->ciphertext_size = upd_load_le64(p + OFF_CT_SIZE);
    if (h->ciphertext_size != size - UPD_HEADER_BYTES)
        return rt_error(VKT_ERR_FORMAT, "update packet: header declares %llu ciphertext bytes, %zu follow",
                        (unsigned long long)h->ciphertext_size, size - UPD_HEADER_BYTES);
    if (h->ciphertext_size < UPD_TAG_BYTES + UPD_PAYLOAD_HEADER_BYTES)
        return rt_error(VKT_ERR_FORMAT, "update packet: %llu ciphertext bytes cannot hold a payload",
                        (unsigned long long)h->ciphertext_size);
    h->round_id = upd_load_le64(p + OFF_ROUND);
    h->client_id = upd_load_le64(p + OFF_CLIENT);
    h->sequence = upd_load_le64(p + OFF_SEQUENCE);
    if (h->sequence == 0)
        return rt_error(VKT_ERR_FORMAT, "update packet: sequence number 0 (sequences start at 1)");
    memcpy(h->model_hash, p + OFF_MODEL_HASH, VKT_MODEL_HASH_BYTES);
    memcpy(h->client_pk, p + OFF_CLIENT_PK, VKT_KX_PUBLIC_KEY_BYTES);
    memcpy(h->nonce, p + OFF_NONCE, UPD_NONCE_BYTES);
    return VKT_OK;
}

vkt_status upd_packet_seal(const upd_header *h, const vkt_keypair *client, const uint8_t aggregator_pk[32],
                           const uint8_t *plain, size_t plain_size, uint8_t **packet, size_t *size)
{
    if (plain_size > SIZE_MAX - UPD_HEADER_BYTES - UPD_TAG_BYTES)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: payload too large");
    upd_header full = *h;
    memcpy(full.client_pk, client->public_key, sizeof full.client_pk);
    randombytes_buf(full.nonce, sizeof full.nonce);
    full.ciphertext_size = plain_size + UPD_TAG_BYTES;

    size_t total = UPD_HEADER_BYTES + (size_t)full.ciphertext_size;
    uint8_t *out = malloc(total);
    if (!out)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory for %zu bytes", total);
    upd_header_write(&full, out);

    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    if (crypto_kx_client_session_keys(rx, tx, client->public_key, client->secret_key, aggregator_pk) != 0) {
        sodium_memzero(rx, sizeof rx);
        sodium_memzero(tx, sizeof tx);
        free(out);
        return rt_error(VKT_ERR_INVALID_ARG, "update packet: the aggregator's public key is not usable");
    }
    unsigned long long ct_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + UPD_HEADER_BYTES, &ct_len, plain, plain_size, out,
                                               UPD_HEADER_BYTES, NULL, full.nonce, tx);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    *packet = out;
    *size = total;
    return VKT_OK;
}

vkt_status upd_packet_open(const uint8_t *packet, const upd_header *h, const vkt_keypair *aggregator,
                           uint8_t **plain, size_t *plain_size)
{
    size_t ct_size = (size_t)h->ciphertext_size;
    size_t pt_size = ct_size - UPD_TAG_BYTES; /* ct_size >= tag: checked by upd_header_parse */
    uint8_t *pt = malloc(pt_size ? pt_size : 1);
    if (!pt)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory for %zu bytes", pt_size);

    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    int bad_key = crypto_kx_server_session_keys(rx, tx, aggregator->public_key, aggregator->secret_key,
                                                h->client_pk);
    unsigned long long pt_len = 0;
    int bad_tag = bad_key ? -1
                          : crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, packet + UPD_HEADER_BYTES,
                                                                       ct_size, packet, UPD_HEADER_BYTES, h->nonce, rx);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    if (bad_key || bad_tag || pt_len != pt_size) {
        upd_plain_free(pt, pt_size);
        if (bad_key)
            return rt_error(VKT_ERR_FORMAT, "update packet: the client public key is not usable");
        return rt_error(VKT_ERR_FORMAT,
                        "update packet: authentication failed (altered, or not sealed for this aggregator)");
    }
    *plain = pt;
    *plain_size = pt_size;
    return VKT_OK;
}

void upd_plain_free(uint8_t *plain, size_t size)
{
    if (plain) {
        sodium_memzero(plain, size);
        free(plain);
    }
}
