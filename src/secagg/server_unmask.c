/* The end of a round: from the responders' shares, rebuild b_u of every
 * client that sent masked input and the mask secret key of every client
 * that shared keys but sent none, then take their masks out of the sum.
 * What remains is sum x_u over the clients that sent masked input: their
 * pairwise masks cancelled, and those with dropped clients are
 * recomputed here from the dropped client's side. */
#include <stdlib.h>

#include <sodium.h>

#include "server_internal.h"
#include "runtime/rt_error.h"

/* The secret of `owner` from the first t responders' shares in table. */
static vkt_status rebuild(const vkt_secagg_server *s, const uint8_t *table, uint32_t owner, uint8_t (*scratch)[32],
                          uint8_t secret[SA_KEY_BYTES])
{
    uint8_t xs[VKT_SECAGG_MAX_CLIENTS];
    uint32_t n = 0;
    for (uint32_t holder = 1; holder <= s->p.client_count && n < s->p.threshold; holder++)
        if (s->responded[holder]) {
            xs[n] = (uint8_t)holder;
            memcpy(scratch[n], table + ((size_t)owner * s->slots + holder) * SA_KEY_BYTES, SA_KEY_BYTES);
            n++;
        }
    return sa_shamir_combine(xs, (const uint8_t(*)[SA_KEY_BYTES])scratch, n, s->p.threshold, secret);
}

vkt_status sa_server_unmask(vkt_secagg_server *s)
{
    uint32_t d = s->p.vector_length;
    uint32_t *out = malloc((size_t)d * sizeof *out);
    uint8_t (*scratch)[SA_KEY_BYTES] = sodium_malloc((size_t)s->p.threshold * SA_KEY_BYTES);
    uint8_t *secret = sodium_malloc(2 * SA_KEY_BYTES);
    vkt_status st = VKT_OK;
    if (!out || !scratch || !secret)
        st = rt_error(VKT_ERR_NO_MEMORY, "secagg server: out of memory unmasking");
    else
        memcpy(out, s->sum, (size_t)d * sizeof *out);
    uint8_t *seed = secret + SA_KEY_BYTES;
    for (uint32_t u = 1; st == VKT_OK && u <= s->p.client_count; u++) {
        if (!s->masked[u])
            continue;
        st = rebuild(s, s->b_shares, u, scratch, secret);
        if (st == VKT_OK)
            sa_mask_add(secret, -1, out, d);
    }
    for (uint32_t v = 1; st == VKT_OK && v <= s->p.client_count; v++) {
        if (!s->shared[v] || s->masked[v])
            continue;
        st = rebuild(s, s->sk_shares, v, scratch, secret);
        if (st == VKT_OK && !sa_key_matches(secret, s->s_pk[v]))
            st = rt_error(VKT_ERR_FORMAT, "secagg server: the key shares of dropped client %u do not rebuild its "
                          "advertised key (a client sent a wrong share)", v);
        /* u's input carries (u < v ? + : -) PRG(s_uv): take it out. */
        for (uint32_t u = 1; st == VKT_OK && u <= s->p.client_count; u++) {
            if (!s->masked[u])
                continue;
            st = sa_derive(SA_MASK_SEED, secret, s->s_pk[v], v, s->s_pk[u], u, s->p.round_id, seed);
            if (st == VKT_OK)
                sa_mask_add(seed, u < v ? -1 : +1, out, d);
        }
    }
    if (scratch)
        sodium_free(scratch);
    if (secret)
        sodium_free(secret);
    if (st != VKT_OK) {
        free(out);
        return st;
    }
    free(s->result);
    s->result = out;
    s->info = (vkt_secagg_result_info){
        .contributors = s->count[VKT_SECAGG_COLLECT_MASKED],
        .dropped = s->count[VKT_SECAGG_COLLECT_SHARES] - s->count[VKT_SECAGG_COLLECT_MASKED],
        .responders = s->count[VKT_SECAGG_COLLECT_UNMASK],
    };
    return VKT_OK;
}
