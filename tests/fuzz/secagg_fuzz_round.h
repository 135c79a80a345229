/* A 3-client secure-aggregation round (d = 8) run honestly up to a
 * given point, shared by the fuzz target and its corpus generator: the
 * first byte of an input picks which receiver gets the rest as a message,
 * in the state that expects that message. */
#ifndef VKT_SECAGG_FUZZ_ROUND_H
#define VKT_SECAGG_FUZZ_ROUND_H

#include <stdlib.h>
#include <string.h>

#include <vktrain/secagg.h>

#define SF_CLIENTS 3
#define SF_LENGTH 8
#define SF_ROUND 5

typedef enum sf_target {
    SF_SERVER_KEYS = 0,   /* the server, collecting AdvertiseKeys */
    SF_SERVER_SHARES,     /* ... ShareKeys */
    SF_SERVER_MASKED,     /* ... MaskedInput */
    SF_SERVER_UNMASK,     /* ... UnmaskShares */
    SF_CLIENT_KEY_LIST,   /* client 1, given a key list */
    SF_CLIENT_SHARES,     /* client 1, given relayed shares */
    SF_CLIENT_REQUEST,    /* client 1, given an unmask request */
    SF_TARGETS
} sf_target;

typedef struct sf_round {
    vkt_secagg_server *server;
    vkt_secagg_client *client[SF_CLIENTS + 1];
    uint32_t x[SF_LENGTH];
    /* what client 1 sent and received at each stage, for the corpus */
    uint8_t *sent[4], *got[4];
    size_t sent_size[4], got_size[4];
} sf_round;

static inline void sf_free(sf_round *r)
{
    for (int u = 1; u <= SF_CLIENTS; u++)
        vkt_secagg_client_destroy(r->client[u]);
    vkt_secagg_server_destroy(r->server);
    for (int s = 0; s < 4; s++) {
        vkt_secagg_message_free(r->sent[s]);
        vkt_secagg_message_free(r->got[s]);
    }
    memset(r, 0, sizeof *r);
}

/* Run stages 0..stages-1 for every client and close them. */
static inline int sf_start(sf_round *r, int stages)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < SF_LENGTH; i++)
        r->x[i] = (uint32_t)i * 7u;
    const vkt_secagg_params p = {.round_id = SF_ROUND, .client_count = SF_CLIENTS, .vector_length = SF_LENGTH};
    if (vkt_secagg_server_create(&p, &r->server) != VKT_OK)
        return -1;
    for (uint32_t u = 1; u <= SF_CLIENTS; u++)
        if (vkt_secagg_client_create(&p, u, &r->client[u]) != VKT_OK)
            return -1;
    for (int s = 0; s < stages; s++) {
        for (uint32_t u = 1; u <= SF_CLIENTS; u++) {
            uint8_t *in = NULL, *out = NULL;
            size_t in_size = 0, out_size = 0;
            vkt_status st = VKT_OK;
            if (s > 0)
                st = vkt_secagg_server_message(r->server, u, &in, &in_size);
            if (st == VKT_OK) {
                switch (s) {
                case 0: st = vkt_secagg_client_advertise(r->client[u], &out, &out_size); break;
                case 1: st = vkt_secagg_client_share_keys(r->client[u], in, in_size, &out, &out_size); break;
                case 2:
                    st = vkt_secagg_client_mask_input(r->client[u], in, in_size, r->x, SF_LENGTH, &out, &out_size);
                    break;
                default: st = vkt_secagg_client_unmask(r->client[u], in, in_size, &out, &out_size); break;
                }
            }
            if (st == VKT_OK)
                st = vkt_secagg_server_receive(r->server, out, out_size, NULL);
            if (u == 1) {
                r->got[s] = in, r->got_size[s] = in_size;
                r->sent[s] = out, r->sent_size[s] = out_size;
            } else {
                vkt_secagg_message_free(in);
                vkt_secagg_message_free(out);
            }
            if (st != VKT_OK)
                return -1;
        }
        if (vkt_secagg_server_close_stage(r->server) != VKT_OK)
            return -1;
    }
    return 0;
}

#endif
