/* What the server accepts from clients, one message at a time: each is
 * parsed in full and checked against the stage, the round and the sets
 * of clients so far before anything is stored, so a refused message
 * changes nothing. The sender index is taken from the header: the
 * transport authenticates it (secagg.h). */
#include <sodium.h>

#include "server_internal.h"
#include "runtime/rt_error.h"

#define WHO "secagg server"

static const sa_type expected[] = {SA_MSG_ADVERTISE, SA_MSG_SHARES, SA_MSG_MASKED, SA_MSG_UNMASK};

/* Whether X25519 with pk gives all zeros (pk of small order): every
 * agreement with such a key would fail, and clients would refuse the
 * whole key list. */
static bool small_order(const uint8_t pk[SA_KEY_BYTES])
{
    static const uint8_t probe[SA_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t q[SA_KEY_BYTES];
    bool bad = crypto_scalarmult(q, probe, pk) != 0;
    sodium_memzero(q, sizeof q);
    return bad;
}

/* A client whose keys would make every client refuse the key list (one
 * repeating another's key, a small-order key) is refused here, so it
 * cannot stall the round for the others. */
static vkt_status take_keys(vkt_secagg_server *s, uint32_t u, upd_reader *r)
{
    const uint8_t *keys = NULL;
    if (r->left != 2 * SA_KEY_BYTES || !upd_get_bytes(r, &keys, 2 * SA_KEY_BYTES))
        return rt_error(VKT_ERR_FORMAT, WHO ": AdvertiseKeys from client %u has a %zu-byte body, not %d", u, r->left,
                        2 * SA_KEY_BYTES);
    if (small_order(keys) || small_order(keys + SA_KEY_BYTES))
        return rt_error(VKT_ERR_FORMAT, WHO ": AdvertiseKeys from client %u: a public key of small order", u);
    for (uint32_t v = 1; v <= s->p.client_count; v++)
        if (s->advertised[v] && (sodium_memcmp(s->c_pk[v], keys, SA_KEY_BYTES) == 0 ||
                                 sodium_memcmp(s->s_pk[v], keys + SA_KEY_BYTES, SA_KEY_BYTES) == 0))
            return rt_error(VKT_ERR_FORMAT, WHO ": AdvertiseKeys from client %u repeats client %u's public key", u, v);
    memcpy(s->c_pk[u], keys, SA_KEY_BYTES);
    memcpy(s->s_pk[u], keys + SA_KEY_BYTES, SA_KEY_BYTES);
    return VKT_OK;
}

static vkt_status take_shares(vkt_secagg_server *s, uint32_t u, upd_reader *r)
{
    uint32_t k, want = s->count[VKT_SECAGG_COLLECT_KEYS] - 1;
    if (!sa_get_u16(r, &k) || k != want || r->left != (size_t)k * SA_PAIR_ENTRY)
        return rt_error(VKT_ERR_FORMAT, WHO ": ShareKeys from client %u must carry %u entries of %d bytes", u, want,
                        SA_PAIR_ENTRY);
    /* Check every recipient before storing any pair. */
    upd_reader check = *r;
    uint32_t last = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t v = 0;
        const uint8_t *skip = NULL;
        sa_get_u16(&check, &v);
        upd_get_bytes(&check, &skip, SA_NONCE_BYTES + SA_PAIR_CIPHER);
        if (v <= last || v > s->p.client_count || v == u || !s->advertised[v])
            return rt_error(VKT_ERR_FORMAT, WHO ": ShareKeys from client %u: entry %u is for client %u (recipients "
                            "must ascend, be in the key list and not be the sender)", u, i, v);
        last = v;
    }
    for (uint32_t i = 0; i < k; i++) {
        uint32_t v = 0;
        const uint8_t *pair = NULL;
        sa_get_u16(r, &v);
        upd_get_bytes(r, &pair, SA_PAIR_STORED);
        memcpy(s->pairs + ((size_t)u * s->slots + v) * SA_PAIR_STORED, pair, SA_PAIR_STORED);
    }
    return VKT_OK;
}

static vkt_status take_masked(vkt_secagg_server *s, uint32_t u, upd_reader *r)
{
    uint32_t d;
    if (!upd_get_u32(r, &d) || d != s->p.vector_length || r->left != (size_t)d * 4)
        return rt_error(VKT_ERR_FORMAT, WHO ": MaskedInput from client %u must carry exactly %u values", u,
                        s->p.vector_length);
    for (uint32_t i = 0; i < d; i++)
        s->sum[i] += upd_load_le32(r->p + 4 * (size_t)i);
    return VKT_OK;
}

/* One list of (owner, share): exactly the owners in `want`, ascending. */
static vkt_status check_share_list(const vkt_secagg_server *s, uint32_t u, upd_reader *r, const bool *want,
                                   uint32_t want_count, const char *what)
{
    uint32_t k, last = 0;
    if (!sa_get_u16(r, &k) || k != want_count || r->left < (size_t)k * SA_SHARE_ENTRY)
        return rt_error(VKT_ERR_FORMAT, WHO ": UnmaskShares from client %u must carry %u %s shares", u, want_count,
                        what);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t v = 0;
        const uint8_t *skip = NULL;
        sa_get_u16(r, &v);
        upd_get_bytes(r, &skip, SA_KEY_BYTES);
        if (v <= last || v > s->p.client_count || !want[v])
            return rt_error(VKT_ERR_FORMAT, WHO ": UnmaskShares from client %u: %s share %u is for client %u, which "
                            "was not asked for (or out of order)", u, what, i, v);
        last = v;
    }
    return VKT_OK;
}

static void store_share_list(vkt_secagg_server *s, uint32_t u, upd_reader *r, uint8_t *table)
{
    uint32_t k;
    sa_get_u16(r, &k);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t v = 0;
        const uint8_t *share = NULL;
        sa_get_u16(r, &v);
        upd_get_bytes(r, &share, SA_KEY_BYTES);
        memcpy(table + ((size_t)v * s->slots + u) * SA_KEY_BYTES, share, SA_KEY_BYTES);
    }
}

static vkt_status take_unmask(vkt_secagg_server *s, uint32_t u, upd_reader *r)
{
    bool dropped[SLOTS] = {false};
    for (uint32_t v = 1; v <= s->p.client_count; v++)
        dropped[v] = s->shared[v] && !s->masked[v];
    uint32_t alive_count = s->count[VKT_SECAGG_COLLECT_MASKED];
    uint32_t dropped_count = s->count[VKT_SECAGG_COLLECT_SHARES] - alive_count;
    upd_reader check = *r;
    vkt_status st = check_share_list(s, u, &check, s->masked, alive_count, "seed");
    if (st == VKT_OK)
        st = check_share_list(s, u, &check, dropped, dropped_count, "key");
    if (st == VKT_OK && check.left != 0)
        st = rt_error(VKT_ERR_FORMAT, WHO ": %zu trailing bytes after UnmaskShares from client %u", check.left, u);
    if (st != VKT_OK)
        return st;
    store_share_list(s, u, r, s->b_shares);
    store_share_list(s, u, r, s->sk_shares);
    return VKT_OK;
}

vkt_status vkt_secagg_server_receive(vkt_secagg_server *s, const uint8_t *msg, size_t size, uint32_t *sender)
{
    if (sender)
        *sender = 0;
    if (!s)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_server_receive: no server");
    if (s->stage == VKT_SECAGG_DONE)
        return rt_error(VKT_ERR_STATE, WHO ": the round is complete; no message is expected");
    upd_reader r;
    uint32_t u;
    vkt_status st = sa_open(msg, size, expected[s->stage], s->p.round_id, WHO, &r, &u);
    if (st != VKT_OK)
        return st;
    if (u < 1 || u > s->p.client_count)
        return rt_error(VKT_ERR_NOT_FOUND, WHO ": message from client %u; this round has clients 1..%u", u,
                        s->p.client_count);
    if (sender)
        *sender = u;
    /* Who may send this stage's message: the clients of the one before. */
    if (s->stage > VKT_SECAGG_COLLECT_KEYS && !sa_stage_set(s, s->stage - 1)[u])
        return rt_error(VKT_ERR_NOT_FOUND, WHO ": client %u is not part of this stage (it missed an earlier one)",
                        u);
    bool *set = sa_stage_set(s, s->stage);
    if (set[u])
        return rt_error(VKT_ERR_STATE, WHO ": a second %s message from client %u", sa_type_name(expected[s->stage]),
                        u);
    switch (s->stage) {
    case VKT_SECAGG_COLLECT_KEYS: st = take_keys(s, u, &r); break;
    case VKT_SECAGG_COLLECT_SHARES: st = take_shares(s, u, &r); break;
    case VKT_SECAGG_COLLECT_MASKED: st = take_masked(s, u, &r); break;
    default: st = take_unmask(s, u, &r); break;
    }
    if (st == VKT_OK) {
        set[u] = true;
        s->count[s->stage]++;
    }
    return st;
}
