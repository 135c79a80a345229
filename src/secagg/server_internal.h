/* The server's state, shared by its files: stages, messages out and the
 * result (server.c), parsing what clients send (server_receive.c), and
 * reconstructing the masks at the end (server_unmask.c). Sets of clients
 * are flags indexed by client index 1..n. */
#ifndef VKT_SECAGG_SERVER_INTERNAL_H
#define VKT_SECAGG_SERVER_INTERNAL_H

#include "secagg_internal.h"

#define SLOTS (VKT_SECAGG_MAX_CLIENTS + 1)
#define SA_PAIR_STORED (SA_NONCE_BYTES + SA_PAIR_CIPHER) /* one relayed pair: nonce, ciphertext */

struct vkt_secagg_server {
    vkt_secagg_params p;
    vkt_secagg_stage stage;
    uint32_t slots; /* n + 1: the stride of the per-pair tables */
    bool advertised[SLOTS]; /* U1 */
    bool shared[SLOTS];     /* U2 */
    bool masked[SLOTS];     /* U3 */
    bool responded[SLOTS];  /* U5: answered the unmask request */
    uint32_t count[4];      /* clients in each of those sets, by stage */
    uint8_t c_pk[SLOTS][SA_KEY_BYTES];
    uint8_t s_pk[SLOTS][SA_KEY_BYTES];
    uint8_t *pairs;     /* [sender * slots + recipient]: SA_PAIR_STORED bytes */
    uint32_t *sum;      /* running sum of the masked inputs */
    uint8_t *b_shares;  /* [owner * slots + holder]: a share of b_owner */
    uint8_t *sk_shares; /* [owner * slots + holder]: a share of s_sk_owner */
    uint32_t *result;   /* the unmasked sum (DONE) */
    vkt_secagg_result_info info;
};

/* Set membership of the stage that collects `stage`'s messages. */
static inline bool *sa_stage_set(vkt_secagg_server *s, vkt_secagg_stage stage)
{
    switch (stage) {
    case VKT_SECAGG_COLLECT_KEYS: return s->advertised;
    case VKT_SECAGG_COLLECT_SHARES: return s->shared;
    case VKT_SECAGG_COLLECT_MASKED: return s->masked;
    default: return s->responded;
    }
}

/* server_unmask.c: the sum of the masked inputs less every remaining
 * mask, into s->result. */
vkt_status sa_server_unmask(vkt_secagg_server *s);

#endif
