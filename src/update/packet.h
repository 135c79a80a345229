/* The packet framing: a 128-byte plaintext header followed by the
 * XChaCha20-Poly1305 ciphertext of the payload, the header being the
 * associated data. Keys come from crypto_kx between the client's pair
 * and the aggregator's. docs/update-packet.md is the specification. */
#ifndef VKT_UPD_PACKET_H
#define VKT_UPD_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/update.h>

#define UPD_MAGIC "VKTU"
#define UPD_VERSION 1
#define UPD_HEADER_BYTES 128
#define UPD_NONCE_BYTES 24
#define UPD_TAG_BYTES 16

typedef struct upd_header {
    uint64_t ciphertext_size;
    uint64_t round_id;
    uint64_t client_id;
    uint64_t sequence;
    uint8_t model_hash[VKT_MODEL_HASH_BYTES];
    uint8_t client_pk[VKT_KX_PUBLIC_KEY_BYTES];
    uint8_t nonce[UPD_NONCE_BYTES];
} upd_header;

void upd_header_write(const upd_header *h, uint8_t out[UPD_HEADER_BYTES]);
/* Parse and check the framing of a whole packet: magic, version, header
 * size, and a ciphertext that fills the rest exactly (no truncation, no
 * trailing bytes). */
vkt_status upd_header_parse(const uint8_t *packet, size_t size, upd_header *out);

/* Encrypt `plain` for the aggregator. h's round, client, sequence and
 * model hash are used; the client public key, a fresh random nonce and
 * the ciphertext size are filled in. */
vkt_status upd_packet_seal(const upd_header *h, const vkt_keypair *client, const uint8_t aggregator_pk[32],
                           const uint8_t *plain, size_t plain_size, uint8_t **packet, size_t *size);

/* Authenticate and decrypt a packet whose header was parsed into h.
 * *plain (wipe and free with upd_plain_free) gets the payload. */
vkt_status upd_packet_open(const uint8_t *packet, const upd_header *h, const vkt_keypair *aggregator,
                           uint8_t **plain, size_t *plain_size);
void upd_plain_free(uint8_t *plain, size_t size);

#endif
