/* What the secure-aggregation files share: Shamir sharing (shamir.c),
 * the mask PRG (mask.c), key agreement and derivation (agree.c), and the
 * message framing (message.c). docs/secure-aggregation.md is the
 * normative description of every constant here. */
#ifndef VKT_SECAGG_INTERNAL_H
#define VKT_SECAGG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/secagg.h>

#include "src/update/bytes.h"

#define SA_KEY_BYTES 32    /* X25519 keys, seeds, shares of either */
#define SA_NONCE_BYTES 24  /* XChaCha20-Poly1305 */
#define SA_TAG_BYTES 16
#define SA_PAIR_PLAIN (2 * SA_KEY_BYTES)                    /* share of b || share of s_sk */
#define SA_PAIR_CIPHER (SA_PAIR_PLAIN + SA_TAG_BYTES)       /* 80 */
#define SA_PAIR_ENTRY (2 + SA_NONCE_BYTES + SA_PAIR_CIPHER) /* index, nonce, ciphertext: 106 */
#define SA_KEY_ENTRY (2 + 2 * SA_KEY_BYTES)                 /* index, c_pk, s_pk: 66 */
#define SA_SHARE_ENTRY (2 + SA_KEY_BYTES)                   /* owner, share: 34 */

/* ---- Shamir t-of-n over GF(2^8), byte by byte ----------------------- */

/* shares[i] = f(xs[i]) for a random f of degree threshold - 1 with
 * f(0) = secret, per byte. xs are distinct and nonzero. */
vkt_status sa_shamir_split(const uint8_t secret[SA_KEY_BYTES], uint32_t threshold, const uint8_t *xs, uint32_t count,
                           uint8_t (*shares)[SA_KEY_BYTES]);
/* The secret from `count` shares at distinct nonzero xs (Lagrange at 0).
 * VKT_ERR_STATE when count < threshold: fewer shares say nothing. */
vkt_status sa_shamir_combine(const uint8_t *xs, const uint8_t (*shares)[SA_KEY_BYTES], uint32_t count,
                             uint32_t threshold, uint8_t secret[SA_KEY_BYTES]);

/* ---- masks ---------------------------------------------------------- */

/* v[i] += sign * PRG(seed)[i] mod 2^32 for i < count; sign is +1 or -1.
 * PRG(seed) is ChaCha20 keyed by the seed (zero nonce, counter from 0),
 * its keystream read as little-endian u32s. */
void sa_mask_add(const uint8_t seed[SA_KEY_BYTES], int sign, uint32_t *v, size_t count);

/* ---- agreement ------------------------------------------------------ */

/* A fresh X25519 key pair. */
vkt_status sa_keypair(uint8_t pk[SA_KEY_BYTES], uint8_t sk[SA_KEY_BYTES]);
/* Whether sk is the secret of pk. */
bool sa_key_matches(const uint8_t sk[SA_KEY_BYTES], const uint8_t pk[SA_KEY_BYTES]);

typedef enum sa_purpose { SA_SHARE_KEY = 0, SA_MASK_SEED = 1 } sa_purpose;
/* The 32-byte key of the pair (my, peer) for `purpose`: BLAKE2b over a
 * label, X25519(my_sk, peer_pk), both public keys in index order and the
 * round id. VKT_ERR_FORMAT for a peer key that gives an all-zero
 * agreement (a low-order point). */
vkt_status sa_derive(sa_purpose purpose, const uint8_t my_sk[SA_KEY_BYTES], const uint8_t my_pk[SA_KEY_BYTES],
                     uint32_t my_index, const uint8_t peer_pk[SA_KEY_BYTES], uint32_t peer_index, uint64_t round_id,
                     uint8_t out[SA_KEY_BYTES]);

/* ---- framing -------------------------------------------------------- */

#define SA_MAGIC "VKSA"
#define SA_VERSION 1
#define SA_HEADER_BYTES 16

typedef enum sa_type {
    SA_MSG_ADVERTISE = 1,
    SA_MSG_KEY_LIST = 2,
    SA_MSG_SHARES = 3,
    SA_MSG_SHARES_FOR = 4,
    SA_MSG_MASKED = 5,
    SA_MSG_UNMASK_REQUEST = 6,
    SA_MSG_UNMASK = 7,
} sa_type;

/* Start a message: magic, version, type, client (the sender for client
 * messages, the recipient for the server's; 0: every client), round. */
void sa_put_header(upd_buf *b, sa_type type, uint32_t client, uint64_t round_id);
/* Check the header of an untrusted message and leave r at its body:
 * magic, version, type `want` and round. *client gets its client field.
 * VKT_ERR_FORMAT, VKT_ERR_UNSUPPORTED (newer version) or VKT_ERR_STATE
 * (another type or round), naming `who` (the receiving side). */
vkt_status sa_open(const uint8_t *msg, size_t size, sa_type want, uint64_t round_id, const char *who,
                   upd_reader *r, uint32_t *client);
/* A u16 list count/index. */
bool sa_get_u16(upd_reader *r, uint32_t *v);
void sa_put_u16(upd_buf *b, uint32_t v);
/* Hand a finished buffer to the caller as a message (or report the
 * allocation failure). */
vkt_status sa_finish(upd_buf *b, uint8_t **msg, size_t *size);
/* The associated data of an encrypted share pair. */
#define SA_PAIR_AD_BYTES 17
void sa_pair_ad(uint64_t round_id, uint32_t sender, uint32_t recipient, uint8_t ad[SA_PAIR_AD_BYTES]);

/* The message type's name, for errors. */
const char *sa_type_name(sa_type type);

#endif
