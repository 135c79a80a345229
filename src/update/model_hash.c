/* The model hash: SHA-256 over a canonical serialisation of the tensors
 * (docs/update-packet.md, "Model hash"), so a client and the aggregator
 * agree on "the same base model" whatever order they list tensors in. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "tensors.h"
#include "runtime/rt_error.h"

#define HASH_DOMAIN "vktrain-model-hash-1"
#define CHUNK 1024

static void hash_u32(crypto_hash_sha256_state *s, uint32_t v)
{
    uint8_t b[4];
    upd_store_le32(b, v);
    crypto_hash_sha256_update(s, b, sizeof b);
}

static void hash_values(crypto_hash_sha256_state *s, const float *v, uint32_t n)
{
    uint8_t b[4 * CHUNK];
    for (uint32_t i = 0; i < n; i += CHUNK) {
        uint32_t m = n - i < CHUNK ? n - i : CHUNK;
        for (uint32_t j = 0; j < m; j++)
            upd_store_le32(b + 4 * j, upd_f32_bits(v[i + j]));
        crypto_hash_sha256_update(s, b, 4 * (unsigned long long)m);
    }
}

vkt_status vkt_model_hash(const vkt_update_tensor *tensors, int count, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    if (!tensors || count < 1 || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_model_hash: no tensors or no output");
    vkt_status st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    for (int i = 0; i < count; i++) {
        uint32_t numel;
        if ((st = upd_tensor_check(&tensors[i], "tensor", i, &numel)) != VKT_OK)
            return st;
    }
    int *order = malloc((size_t)count * sizeof *order);
    if (!order)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_model_hash: out of memory");
    if ((st = upd_sort_by_name(tensors, count, order)) != VKT_OK) {
        free(order);
        return st;
    }

    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, (const uint8_t *)HASH_DOMAIN, strlen(HASH_DOMAIN));
    hash_u32(&s, (uint32_t)count);
    for (int i = 0; i < count; i++) {
        const vkt_update_tensor *t = &tensors[order[i]];
        uint32_t numel = 1, name_len = (uint32_t)strlen(t->name);
        hash_u32(&s, name_len);
        crypto_hash_sha256_update(&s, (const uint8_t *)t->name, name_len);
        hash_u32(&s, (uint32_t)t->rank);
        for (int d = 0; d < t->rank; d++) {
            hash_u32(&s, (uint32_t)t->dims[d]);
            numel *= (uint32_t)t->dims[d];
        }
        hash_values(&s, t->values, numel);
    }
    crypto_hash_sha256_final(&s, out);
    free(order);
    return VKT_OK;
}
