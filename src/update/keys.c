/* crypto_kx key pairs for clients and the aggregator. */
#include <sodium.h>

#include <vktrain/update.h>

#include "tensors.h"
#include "runtime/rt_error.h"

_Static_assert(VKT_KX_PUBLIC_KEY_BYTES == crypto_kx_PUBLICKEYBYTES, "public key size");
_Static_assert(VKT_KX_SECRET_KEY_BYTES == crypto_kx_SECRETKEYBYTES, "secret key size");
_Static_assert(VKT_KX_SEED_BYTES == crypto_kx_SEEDBYTES, "seed size");

vkt_status vkt_keypair_generate(vkt_keypair *out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_keypair_generate: no output");
    vkt_status st = upd_sodium_init();
    if (st == VKT_OK && crypto_kx_keypair(out->public_key, out->secret_key) != 0)
        st = rt_error(VKT_ERR_UNSUPPORTED, "crypto_kx_keypair failed");
    return st;
}

vkt_status vkt_keypair_from_seed(const uint8_t seed[VKT_KX_SEED_BYTES], vkt_keypair *out)
{
    if (!seed || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_keypair_from_seed: no seed or no output");
    vkt_status st = upd_sodium_init();
    if (st == VKT_OK && crypto_kx_seed_keypair(out->public_key, out->secret_key, seed) != 0)
        st = rt_error(VKT_ERR_UNSUPPORTED, "crypto_kx_seed_keypair failed");
    return st;
}

void vkt_keypair_wipe(vkt_keypair *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof *kp);
}
