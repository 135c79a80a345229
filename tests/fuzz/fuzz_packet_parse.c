/* Fuzz target: whole packets through the receiver (framing, header
 * checks, replay window, authentication and, for inputs that
 * authenticate, decryption and decoding). The receiver is built once and
 * its replay window reset for every input so each input is judged on
 * its own. */
#include <stddef.h>
#include <stdint.h>

#include <vktrain/update.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vkt_update_receiver *rx;
    static vkt_keypair aggregator, client;
    if (!rx) {
        fuzz_keys(&aggregator, &client);
        vkt_update_receiver_options o = {.max_elements = FUZZ_MAX_ELEMENTS, .max_tensors = FUZZ_MAX_TENSORS};
        if (vkt_update_receiver_create(&aggregator, &o, &rx) != VKT_OK)
            return 0;
        uint8_t hash[VKT_MODEL_HASH_BYTES];
        fuzz_model_hash(hash);
        vkt_update_receiver_set_round(rx, FUZZ_ROUND, hash);
    }
    vkt_update_receiver_add_client(rx, FUZZ_CLIENT, client.public_key, 0);
    vkt_update *u = NULL;
    if (vkt_update_receive(rx, data, size, &u) == VKT_OK) {
        /* Touch everything the update exposes. */
        vkt_update_info info;
        vkt_update_get_info(u, &info);
        volatile float sink = 0.0f;
        for (int i = 0; i < vkt_update_tensor_count(u); i++) {
            vkt_update_tensor t;
            if (vkt_update_get_tensor(u, i, &t) != VKT_OK)
                continue;
            size_t n = 1;
            for (int d = 0; d < t.rank; d++)
                n *= (size_t)t.dims[d];
            for (size_t j = 0; j < n; j++)
                sink += t.values[j];
        }
        (void)sink;
        vkt_update_destroy(u);
    }
    return 0;
}
