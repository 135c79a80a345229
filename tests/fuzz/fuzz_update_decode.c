/* Fuzz target: the payload decoder on raw plaintext, as an enrolled but
 * hostile client could authenticate it (the AEAD keeps the fuzzer from
 * reaching it through whole packets). */
#include <stddef.h>
#include <stdint.h>

#include "src/update/payload.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const upd_limits limits = {.max_elements = FUZZ_MAX_ELEMENTS, .max_tensors = FUZZ_MAX_TENSORS};
    vkt_update *u = NULL;
    if (upd_payload_decode(data, size, &limits, &u) == VKT_OK) {
        volatile float sink = 0.0f;
        for (int i = 0; i < u->count; i++)
            for (uint64_t j = 0; j < u->tensors[i].numel; j++)
                sink += u->tensors[i].values[j];
        (void)sink;
        vkt_update_destroy(u);
    }
    return 0;
}
