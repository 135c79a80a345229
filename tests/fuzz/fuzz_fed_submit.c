/* Fuzz target: the aggregator's checks and steps on hostile content.
 * Input: one byte (staleness and client choice), then a plaintext
 * payload as an enrolled but hostile client could authenticate it. The
 * payload is decoded, then offered to a fresh FedBuff aggregator over
 * the corpus's model (a.bias [4], a.weight [4, 6], b [], c.weight
 * [2, 3, 2, 2]) by two clients (so a step is applied) and by a third
 * from the version the first byte picks; the whole input also goes in
 * as a packet (header peek, version window, receiver). Seeds: the
 * fuzz_update_decode corpus with a first byte prepended. */
#include <stddef.h>
#include <stdint.h>

#include <vktrain/fed.h>

#include "fuzz_common.h"
#include "src/update/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static float zeros[64];
static const vkt_update_tensor model[4] = {
    {.name = "a.bias", .rank = 1, .dims = {4}, .values = zeros},
    {.name = "a.weight", .rank = 2, .dims = {4, 6}, .values = zeros},
    {.name = "b", .rank = 0, .values = zeros},
    {.name = "c.weight", .rank = 4, .dims = {2, 3, 2, 2}, .values = zeros},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    vkt_keypair aggregator, client;
    fuzz_keys(&aggregator, &client);
    vkt_fed_options opt = {.mode = VKT_FED_FEDBUFF, .buffer_size = 2, .max_staleness = 2,
                           .max_update_norm = (data[0] & 0x80) ? 1.0 : 0.0,
                           .receiver = {.max_elements = FUZZ_MAX_ELEMENTS, .max_tensors = FUZZ_MAX_TENSORS}};
    vkt_fed_aggregator *agg = NULL;
    if (vkt_fed_aggregator_create(model, 4, &aggregator, &opt, &agg) != VKT_OK)
        return 0;
    vkt_fed_aggregator_add_client(agg, FUZZ_CLIENT, client.public_key, 0);
    vkt_fed_submit_packet(agg, data, size, NULL);

    const upd_limits limits = {.max_elements = FUZZ_MAX_ELEMENTS, .max_tensors = FUZZ_MAX_TENSORS};
    vkt_update *u = NULL;
    if (upd_payload_decode(data + 1, size - 1, &limits, &u) == VKT_OK) {
        for (uint64_t c = 1; c <= 3; c++) {
            u->info.client_id = c;
            u->info.round_id = c < 3 ? 0 : (uint64_t)(data[0] & 7); /* 0, 1: in the window; more: early */
            vkt_fed_submit_update(agg, u, NULL);
        }
        vkt_fed_round_finish(agg, NULL);
        vkt_update_destroy(u);
    }
    vkt_fed_aggregator_destroy(agg);
    return 0;
}
