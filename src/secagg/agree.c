/* Per-round X25519 key pairs and the keys two clients derive from them:
 * the AEAD key of their share pairs (from the c keys) and the seed of
 * their pairwise mask (from the s keys). Both hash the agreement with
 * both public keys, ordered by client index so either side gets the same
 * bytes, and the round id, so keys never carry over between rounds. */
#include <sodium.h>

#include "secagg_internal.h"
#include "runtime/rt_error.h"
#include "src/update/tensors.h"

_Static_assert(crypto_scalarmult_BYTES == SA_KEY_BYTES, "X25519 sizes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == SA_KEY_BYTES, "AEAD key size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == SA_NONCE_BYTES, "AEAD nonce size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == SA_TAG_BYTES, "AEAD tag size");
_Static_assert(crypto_stream_chacha20_KEYBYTES == SA_KEY_BYTES, "PRG seed size");

static const char *const labels[] = {
    [SA_SHARE_KEY] = "vktrain-secagg-v1 share key",
    [SA_MASK_SEED] = "vktrain-secagg-v1 mask seed",
};

vkt_status sa_keypair(uint8_t pk[SA_KEY_BYTES], uint8_t sk[SA_KEY_BYTES])
{
    vkt_status st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    randombytes_buf(sk, SA_KEY_BYTES);
    if (crypto_scalarmult_base(pk, sk) != 0)
        return rt_error(VKT_ERR_UNSUPPORTED, "secagg: X25519 key generation failed");
    return VKT_OK;
}

bool sa_key_matches(const uint8_t sk[SA_KEY_BYTES], const uint8_t pk[SA_KEY_BYTES])
{
    uint8_t derived[SA_KEY_BYTES];
    bool ok = crypto_scalarmult_base(derived, sk) == 0 && sodium_memcmp(derived, pk, SA_KEY_BYTES) == 0;
    sodium_memzero(derived, sizeof derived);
    return ok;
}

vkt_status sa_derive(sa_purpose purpose, const uint8_t my_sk[SA_KEY_BYTES], const uint8_t my_pk[SA_KEY_BYTES],
                     uint32_t my_index, const uint8_t peer_pk[SA_KEY_BYTES], uint32_t peer_index, uint64_t round_id,
                     uint8_t out[SA_KEY_BYTES])
{
    uint8_t shared[SA_KEY_BYTES];
    /* libsodium refuses (returns -1 for) an all-zero result. */
    if (crypto_scalarmult(shared, my_sk, peer_pk) != 0) {
        sodium_memzero(shared, sizeof shared);
        return rt_error(VKT_ERR_FORMAT, "secagg: client %u's public key is a low-order point", peer_index);
    }
    const uint8_t *low = my_index < peer_index ? my_pk : peer_pk;
    const uint8_t *high = my_index < peer_index ? peer_pk : my_pk;
    uint8_t round[8];
    upd_store_le64(round, round_id);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, SA_KEY_BYTES);
    crypto_generichash_update(&h, (const uint8_t *)labels[purpose], strlen(labels[purpose]));
    crypto_generichash_update(&h, shared, sizeof shared);
    crypto_generichash_update(&h, low, SA_KEY_BYTES);
    crypto_generichash_update(&h, high, SA_KEY_BYTES);
    crypto_generichash_update(&h, round, sizeof round);
    crypto_generichash_final(&h, out, SA_KEY_BYTES);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(&h, sizeof h);
    return VKT_OK;
}
