/* One secure-aggregation round in process, every message serialized and
 * handed over as bytes, as a transport would. */
#include "secagg_harness.h"

#include <stdlib.h>
#include <string.h>

void sh_fill(uint32_t *v, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (uint32_t)(x >> 11);
    }
}

void sh_plain_sum(const sh_round *round, const int *counted, uint32_t *sum)
{
    memset(sum, 0, round->params.vector_length * sizeof *sum);
    for (uint32_t u = 0; u < round->params.client_count; u++)
        if (counted[u])
            for (uint32_t i = 0; i < round->params.vector_length; i++)
                sum[i] += round->inputs[u][i];
}

static int acts(const sh_round *round, uint32_t u, sh_drop stage)
{
    return !round->drops || round->drops[u] == SH_STAYS || round->drops[u] > stage;
}

vkt_status sh_run(const sh_round *round, uint32_t *sum, vkt_secagg_result_info *info)
{
    const vkt_secagg_params *p = &round->params;
    uint32_t n = p->client_count;
    vkt_secagg_server *server = NULL;
    vkt_secagg_client **clients = calloc(n, sizeof *clients);
    vkt_status st = clients ? vkt_secagg_server_create(p, &server) : VKT_ERR_NO_MEMORY;
    for (uint32_t u = 0; st == VKT_OK && u < n; u++)
        st = vkt_secagg_client_create(p, u + 1, &clients[u]);

    static const sh_drop stop[4] = {SH_BEFORE_ADVERTISE, SH_BEFORE_SHARES, SH_BEFORE_MASKED, SH_BEFORE_UNMASK};
    for (int stage = 0; st == VKT_OK && stage < 4; stage++) {
        for (uint32_t u = 0; st == VKT_OK && u < n; u++) {
            if (!acts(round, u, stop[stage]))
                continue;
            uint8_t *in = NULL, *out = NULL;
            size_t in_size = 0, out_size = 0;
            if (stage > 0) {
                /* a client that missed an earlier stage gets nothing */
                if (vkt_secagg_server_message(server, u + 1, &in, &in_size) != VKT_OK)
                    continue;
            }
            switch (stage) {
            case 0: st = vkt_secagg_client_advertise(clients[u], &out, &out_size); break;
            case 1: st = vkt_secagg_client_share_keys(clients[u], in, in_size, &out, &out_size); break;
            case 2:
                st = vkt_secagg_client_mask_input(clients[u], in, in_size, round->inputs[u], p->vector_length, &out,
                                                  &out_size);
                break;
            default: st = vkt_secagg_client_unmask(clients[u], in, in_size, &out, &out_size); break;
            }
            vkt_secagg_message_free(in);
            if (st == VKT_OK)
                st = vkt_secagg_server_receive(server, out, out_size, NULL);
            vkt_secagg_message_free(out);
        }
        if (st == VKT_OK)
            st = vkt_secagg_server_close_stage(server);
    }
    if (st == VKT_OK)
        st = vkt_secagg_server_result(server, sum, p->vector_length, info);
    for (uint32_t u = 0; clients && u < n; u++)
        vkt_secagg_client_destroy(clients[u]);
    vkt_secagg_server_destroy(server);
    free(clients);
    return st;
}
