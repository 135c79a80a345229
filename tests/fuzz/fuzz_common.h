/* Fixed keys, round and model hash shared by the fuzz targets and the
 * corpus generator, so valid packets in the corpus pass authentication
 * and reach the payload decoder. Test keys only. */
#ifndef VKT_FUZZ_COMMON_H
#define VKT_FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>

#include <vktrain/update.h>

#define FUZZ_ROUND 3
#define FUZZ_CLIENT 17
/* Receiver limits: small enough that no input can make a target
 * allocate more than a few tens of MiB. */
#define FUZZ_MAX_ELEMENTS (1u << 20)
#define FUZZ_MAX_TENSORS 64

static inline void fuzz_seed(uint8_t out[32], uint8_t tag)
{
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(0x5a ^ (tag * 17 + i));
}

static inline void fuzz_keys(vkt_keypair *aggregator, vkt_keypair *client)
{
    uint8_t seed[32];
    fuzz_seed(seed, 1);
    vkt_keypair_from_seed(seed, aggregator);
    fuzz_seed(seed, 2);
    vkt_keypair_from_seed(seed, client);
}

static inline void fuzz_model_hash(uint8_t out[VKT_MODEL_HASH_BYTES])
{
    for (int i = 0; i < VKT_MODEL_HASH_BYTES; i++)
        out[i] = (uint8_t)(3 * i + 1);
}

#endif
