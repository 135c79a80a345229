/* Fuzz target: every secure-aggregation parser, server side (each
 * stage's client message) and client side (key list, relayed shares,
 * unmask request). The first byte picks the receiver; an honest 3-client
 * round is run up to the point where it expects a message, and the rest
 * of the input is that message. A message that is accepted is followed
 * through (the server's stage is closed, its result read). */
#include <stddef.h>
#include <stdint.h>

#include "secagg_fuzz_round.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sf_target target = (sf_target)(data[0] % SF_TARGETS);
    const uint8_t *msg = data + 1;
    size -= 1;
    int stages = target <= SF_SERVER_UNMASK ? (int)target : (int)target - SF_CLIENT_KEY_LIST + 1;
    sf_round r;
    if (sf_start(&r, stages) != 0) {
        sf_free(&r);
        return 0;
    }
    uint8_t *out = NULL;
    size_t out_size = 0;
    uint32_t sum[SF_LENGTH];
    switch (target) {
    case SF_CLIENT_KEY_LIST: vkt_secagg_client_share_keys(r.client[1], msg, size, &out, &out_size); break;
    case SF_CLIENT_SHARES:
        vkt_secagg_client_mask_input(r.client[1], msg, size, r.x, SF_LENGTH, &out, &out_size);
        break;
    case SF_CLIENT_REQUEST: vkt_secagg_client_unmask(r.client[1], msg, size, &out, &out_size); break;
    default:
        if (vkt_secagg_server_receive(r.server, msg, size, NULL) == VKT_OK &&
            vkt_secagg_server_close_stage(r.server) == VKT_OK && target == SF_SERVER_UNMASK)
            vkt_secagg_server_result(r.server, sum, SF_LENGTH, NULL);
        break;
    }
    vkt_secagg_message_free(out);
    sf_free(&r);
    return 0;
}
