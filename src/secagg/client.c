/* The client side of one secure-aggregation round: a state machine that
 * answers each server message once, in order. A refused message leaves
 * the state as it was. Secrets (both secret keys, b_u, every share held)
 * live in one guarded allocation, wiped on destroy. */
#include <stdlib.h>

#include <sodium.h>

#include "secagg_internal.h"
#include "runtime/rt_error.h"
#include "src/update/tensors.h"

#define SLOTS (VKT_SECAGG_MAX_CLIENTS + 1) /* indexed by client index 1..255 */
#define WHO "secagg client"

typedef enum client_state { C_NEW, C_ADVERTISED, C_SHARED, C_MASKED, C_DONE } client_state;

typedef struct client_secrets {
    uint8_t c_sk[SA_KEY_BYTES];
    uint8_t s_sk[SA_KEY_BYTES];
    uint8_t b[SA_KEY_BYTES];
    /* pair[v]: share of b_v || share of s_sk_v held by this client
     * (pair[self] is its own) */
    uint8_t pair[SLOTS][SA_PAIR_PLAIN];
} client_secrets;

struct vkt_secagg_client {
    vkt_secagg_params p;
    uint32_t index;
    client_state state;
    uint8_t c_pk[SA_KEY_BYTES], s_pk[SA_KEY_BYTES];
    bool listed[SLOTS];      /* in the server's key list (U1) */
    bool holds[SLOTS];       /* sent this client its shares (U2 as seen here), self included */
    uint8_t peer_c_pk[SLOTS][SA_KEY_BYTES];
    uint8_t peer_s_pk[SLOTS][SA_KEY_BYTES];
    client_secrets *sec;
};

vkt_status vkt_secagg_client_create(const vkt_secagg_params *params, uint32_t index, vkt_secagg_client **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_client_create: no output");
    vkt_secagg_params p;
    vkt_status st = vkt_secagg_params_resolve(params, &p);
    if (st == VKT_OK && (index < 1 || index > p.client_count))
        st = rt_error(VKT_ERR_INVALID_ARG, "secagg client: index %u outside 1..%u", index, p.client_count);
    if (st == VKT_OK)
        st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    vkt_secagg_client *c = calloc(1, sizeof *c);
    client_secrets *sec = sodium_malloc(sizeof *sec);
    if (!c || !sec) {
        free(c);
        if (sec)
            sodium_free(sec);
        return rt_error(VKT_ERR_NO_MEMORY, "secagg client: out of memory");
    }
    sodium_memzero(sec, sizeof *sec);
    c->p = p;
    c->index = index;
    c->sec = sec;
    *out = c;
    return VKT_OK;
}

void vkt_secagg_client_destroy(vkt_secagg_client *c)
{
    if (!c)
        return;
    sodium_free(c->sec); /* wipes */
    free(c);
}

static vkt_status check_state(const vkt_secagg_client *c, client_state want, const char *step)
{
    if (!c)
        return rt_error(VKT_ERR_INVALID_ARG, "%s: no client", step);
    if (c->state != want)
        return rt_error(VKT_ERR_STATE, "secagg client %u: %s is not the next step of this round (already done, "
                        "or an earlier one is missing)", c->index, step);
    return VKT_OK;
}

/* ---- round 0 -------------------------------------------------------- */

vkt_status vkt_secagg_client_advertise(vkt_secagg_client *c, uint8_t **msg, size_t *size)
{
    vkt_status st = check_state(c, C_NEW, "AdvertiseKeys");
    if (st == VKT_OK && (!msg || !size))
        st = rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_client_advertise: no output");
    if (st == VKT_OK)
        st = sa_keypair(c->c_pk, c->sec->c_sk);
    if (st == VKT_OK)
        st = sa_keypair(c->s_pk, c->sec->s_sk);
    if (st != VKT_OK)
        return st;
    randombytes_buf(c->sec->b, SA_KEY_BYTES);
    upd_buf b = {0};
    sa_put_header(&b, SA_MSG_ADVERTISE, c->index, c->p.round_id);
    upd_buf_put(&b, c->c_pk, SA_KEY_BYTES);
    upd_buf_put(&b, c->s_pk, SA_KEY_BYTES);
    st = sa_finish(&b, msg, size);
    if (st == VKT_OK)
        c->state = C_ADVERTISED;
    return st;
}

/* ---- round 1 -------------------------------------------------------- */

typedef struct key_list {
    uint32_t count;
    uint8_t xs[VKT_SECAGG_MAX_CLIENTS];
    bool listed[SLOTS];
    uint8_t c_pk[SLOTS][SA_KEY_BYTES];
    uint8_t s_pk[SLOTS][SA_KEY_BYTES];
} key_list;

static vkt_status parse_key_list(const vkt_secagg_client *c, const uint8_t *msg, size_t size, key_list *kl)
{
    upd_reader r;
    uint32_t to, n, t, m;
    vkt_status st = sa_open(msg, size, SA_MSG_KEY_LIST, c->p.round_id, WHO, &r, &to);
    if (st != VKT_OK)
        return st;
    if (to != 0)
        return rt_error(VKT_ERR_FORMAT, WHO ": a key list must be addressed to every client (0), not %u", to);
    if (!sa_get_u16(&r, &n) || !sa_get_u16(&r, &t) || !sa_get_u16(&r, &m))
        return rt_error(VKT_ERR_FORMAT, WHO ": truncated key list");
    if (n != c->p.client_count || t != c->p.threshold)
        return rt_error(VKT_ERR_FORMAT, WHO ": the key list is for %u clients with threshold %u, this round has %u "
                        "and %u", n, t, c->p.client_count, c->p.threshold);
    if (m < t || m > n)
        return rt_error(VKT_ERR_STATE, WHO ": the key list names %u clients; at least %u (and at most %u) are needed",
                        m, t, n);
    if (r.left != (size_t)m * SA_KEY_ENTRY)
        return rt_error(VKT_ERR_FORMAT, WHO ": key list body of %zu bytes for %u entries (want %zu)", r.left, m,
                        (size_t)m * SA_KEY_ENTRY);
    memset(kl, 0, sizeof *kl);
    uint32_t last = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t v = 0;
        const uint8_t *keys = NULL;
        sa_get_u16(&r, &v);
        upd_get_bytes(&r, &keys, 2 * SA_KEY_BYTES);
        if (v <= last || v > n)
            return rt_error(VKT_ERR_FORMAT, WHO ": key list entry %u names client %u (indices must ascend within "
                            "1..%u)", i, v, n);
        last = v;
        for (uint32_t j = 0; j < i; j++) {
            uint32_t w = kl->xs[j];
            if (sodium_memcmp(kl->c_pk[w], keys, SA_KEY_BYTES) == 0 ||
                sodium_memcmp(kl->s_pk[w], keys + SA_KEY_BYTES, SA_KEY_BYTES) == 0)
                return rt_error(VKT_ERR_FORMAT, WHO ": clients %u and %u have the same public key", w, v);
        }
        kl->xs[i] = (uint8_t)v;
        kl->listed[v] = true;
        memcpy(kl->c_pk[v], keys, SA_KEY_BYTES);
        memcpy(kl->s_pk[v], keys + SA_KEY_BYTES, SA_KEY_BYTES);
    }
    kl->count = m;
    if (!kl->listed[c->index] || memcmp(kl->c_pk[c->index], c->c_pk, SA_KEY_BYTES) != 0 ||
        memcmp(kl->s_pk[c->index], c->s_pk, SA_KEY_BYTES) != 0)
        return rt_error(VKT_ERR_FORMAT, WHO " %u: the key list lacks this client's own keys", c->index);
    return VKT_OK;
}

/* Encrypt shares[i] for xs[i] (all but self) into the message. */
static vkt_status seal_pairs(const vkt_secagg_client *c, const key_list *kl, uint8_t (*pairs)[SA_PAIR_PLAIN],
                             upd_buf *out)
{
    uint8_t key[SA_KEY_BYTES];
    vkt_status st = VKT_OK;
    for (uint32_t i = 0; st == VKT_OK && i < kl->count; i++) {
        uint32_t v = kl->xs[i];
        if (v == c->index)
            continue;
        st = sa_derive(SA_SHARE_KEY, c->sec->c_sk, c->c_pk, c->index, kl->c_pk[v], v, c->p.round_id, key);
        if (st != VKT_OK)
            break;
        uint8_t nonce[SA_NONCE_BYTES], ad[SA_PAIR_AD_BYTES], ct[SA_PAIR_CIPHER];
        randombytes_buf(nonce, sizeof nonce);
        sa_pair_ad(c->p.round_id, c->index, v, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, pairs[i], SA_PAIR_PLAIN, ad, sizeof ad, NULL, nonce,
                                                   key);
        sa_put_u16(out, v);
        upd_buf_put(out, nonce, sizeof nonce);
        upd_buf_put(out, ct, sizeof ct);
    }
    sodium_memzero(key, sizeof key);
    return st;
}

vkt_status vkt_secagg_client_share_keys(vkt_secagg_client *c, const uint8_t *key_list_msg, size_t key_list_size,
                                        uint8_t **msg, size_t *size)
{
    vkt_status st = check_state(c, C_ADVERTISED, "ShareKeys");
    if (st == VKT_OK && (!msg || !size))
        st = rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_client_share_keys: no output");
    key_list *kl = st == VKT_OK ? malloc(sizeof *kl) : NULL;
    if (st == VKT_OK && !kl)
        st = rt_error(VKT_ERR_NO_MEMORY, WHO ": out of memory");
    if (st == VKT_OK)
        st = parse_key_list(c, key_list_msg, key_list_size, kl);
    /* shares[i]: the b share then the s_sk share for xs[i] */
    uint8_t (*b_shares)[SA_KEY_BYTES] = NULL, (*sk_shares)[SA_KEY_BYTES] = NULL, (*pairs)[SA_PAIR_PLAIN] = NULL;
    if (st == VKT_OK) {
        b_shares = sodium_malloc((size_t)kl->count * SA_KEY_BYTES);
        sk_shares = sodium_malloc((size_t)kl->count * SA_KEY_BYTES);
        pairs = sodium_malloc((size_t)kl->count * SA_PAIR_PLAIN);
        if (!b_shares || !sk_shares || !pairs)
            st = rt_error(VKT_ERR_NO_MEMORY, WHO ": out of memory");
    }
    if (st == VKT_OK)
        st = sa_shamir_split(c->sec->b, c->p.threshold, kl->xs, kl->count, b_shares);
    if (st == VKT_OK)
        st = sa_shamir_split(c->sec->s_sk, c->p.threshold, kl->xs, kl->count, sk_shares);
    upd_buf b = {0};
    if (st == VKT_OK) {
        for (uint32_t i = 0; i < kl->count; i++) {
            memcpy(pairs[i], b_shares[i], SA_KEY_BYTES);
            memcpy(pairs[i] + SA_KEY_BYTES, sk_shares[i], SA_KEY_BYTES);
        }
        sa_put_header(&b, SA_MSG_SHARES, c->index, c->p.round_id);
        sa_put_u16(&b, kl->count - 1);
        st = seal_pairs(c, kl, pairs, &b);
    }
    if (st == VKT_OK)
        st = sa_finish(&b, msg, size);
    else
        upd_buf_wipe(&b);
    if (st == VKT_OK) {
        memcpy(c->listed, kl->listed, sizeof c->listed);
        memcpy(c->peer_c_pk, kl->c_pk, sizeof c->peer_c_pk);
        memcpy(c->peer_s_pk, kl->s_pk, sizeof c->peer_s_pk);
        for (uint32_t i = 0; i < kl->count; i++)
            if (kl->xs[i] == c->index)
                memcpy(c->sec->pair[c->index], pairs[i], SA_PAIR_PLAIN);
        c->state = C_SHARED;
    }
    if (b_shares)
        sodium_free(b_shares);
    if (sk_shares)
        sodium_free(sk_shares);
    if (pairs)
        sodium_free(pairs);
    free(kl);
    return st;
}

/* ---- round 2 -------------------------------------------------------- */

/* Open the relayed shares into received[sender]; *from marks senders. */
static vkt_status open_shares(const vkt_secagg_client *c, const uint8_t *msg, size_t size,
                              uint8_t (*received)[SA_PAIR_PLAIN], bool *from)
{
    upd_reader r;
    uint32_t to, k;
    vkt_status st = sa_open(msg, size, SA_MSG_SHARES_FOR, c->p.round_id, WHO, &r, &to);
    if (st != VKT_OK)
        return st;
    if (to != c->index)
        return rt_error(VKT_ERR_FORMAT, WHO " %u: relayed shares addressed to client %u", c->index, to);
    if (!sa_get_u16(&r, &k) || r.left != (size_t)k * SA_PAIR_ENTRY)
        return rt_error(VKT_ERR_FORMAT, WHO " %u: relayed shares: count and length disagree", c->index);
    if (k + 1 < c->p.threshold)
        return rt_error(VKT_ERR_STATE, WHO " %u: only %u other clients shared keys; %u needed", c->index, k,
                        c->p.threshold - 1);
    uint8_t key[SA_KEY_BYTES];
    uint32_t last = 0;
    for (uint32_t i = 0; i < k && st == VKT_OK; i++) {
        uint32_t u = 0;
        const uint8_t *nonce = NULL, *ct = NULL;
        sa_get_u16(&r, &u);
        upd_get_bytes(&r, &nonce, SA_NONCE_BYTES);
        upd_get_bytes(&r, &ct, SA_PAIR_CIPHER);
        if (u <= last || u > c->p.client_count || u == c->index || !c->listed[u]) {
            st = rt_error(VKT_ERR_FORMAT, WHO " %u: relayed share entry %u from client %u (senders must ascend, be "
                          "in the key list and not be this client)", c->index, i, u);
            break;
        }
        last = u;
        st = sa_derive(SA_SHARE_KEY, c->sec->c_sk, c->c_pk, c->index, c->peer_c_pk[u], u, c->p.round_id, key);
        uint8_t ad[SA_PAIR_AD_BYTES];
        sa_pair_ad(c->p.round_id, u, c->index, ad);
        if (st == VKT_OK && crypto_aead_xchacha20poly1305_ietf_decrypt(received[u], NULL, NULL, ct, SA_PAIR_CIPHER,
                                                                       ad, sizeof ad, nonce, key) != 0)
            st = rt_error(VKT_ERR_FORMAT, WHO " %u: the shares from client %u fail authentication", c->index, u);
        from[u] = true;
    }
    sodium_memzero(key, sizeof key);
    return st;
}

/* y = x + PRG(b) + sum over senders v of (self < v ? + : -) PRG(s_uv). */
static vkt_status mask(const vkt_secagg_client *c, const bool *from, uint32_t *y)
{
    uint8_t seed[SA_KEY_BYTES];
    sa_mask_add(c->sec->b, +1, y, c->p.vector_length);
    vkt_status st = VKT_OK;
    for (uint32_t v = 1; v <= c->p.client_count && st == VKT_OK; v++) {
        if (!from[v])
            continue;
        st = sa_derive(SA_MASK_SEED, c->sec->s_sk, c->s_pk, c->index, c->peer_s_pk[v], v, c->p.round_id, seed);
        if (st == VKT_OK)
            sa_mask_add(seed, c->index < v ? +1 : -1, y, c->p.vector_length);
    }
    sodium_memzero(seed, sizeof seed);
    return st;
}

vkt_status vkt_secagg_client_mask_input(vkt_secagg_client *c, const uint8_t *shares, size_t shares_size,
                                        const uint32_t *x, size_t length, uint8_t **msg, size_t *size)
{
    vkt_status st = check_state(c, C_SHARED, "MaskedInput");
    if (st == VKT_OK && (!x || !msg || !size || length != c->p.vector_length))
        st = rt_error(VKT_ERR_INVALID_ARG, WHO ": the input must have the round's %u values (got %zu)",
                      c->p.vector_length, length);
    if (st != VKT_OK)
        return st;
    uint8_t (*received)[SA_PAIR_PLAIN] = sodium_malloc(sizeof c->sec->pair);
    bool from[SLOTS] = {false};
    uint32_t *y = malloc((size_t)length * sizeof *y);
    if (!received || !y)
        st = rt_error(VKT_ERR_NO_MEMORY, WHO ": out of memory");
    if (st == VKT_OK)
        st = open_shares(c, shares, shares_size, received, from);
    if (st == VKT_OK) {
        memcpy(y, x, length * sizeof *y);
        st = mask(c, from, y);
    }
    upd_buf b = {0};
    if (st == VKT_OK) {
        sa_put_header(&b, SA_MSG_MASKED, c->index, c->p.round_id);
        upd_buf_u32(&b, c->p.vector_length);
        if (upd_buf_reserve(&b, length * 4)) {
            for (size_t i = 0; i < length; i++)
                upd_store_le32(b.data + b.len + 4 * i, y[i]);
            b.len += length * 4;
        }
        st = sa_finish(&b, msg, size);
    }
    if (st == VKT_OK) {
        for (uint32_t v = 1; v <= c->p.client_count; v++)
            if (from[v]) {
                memcpy(c->sec->pair[v], received[v], SA_PAIR_PLAIN);
                c->holds[v] = true;
            }
        c->holds[c->index] = true;
        c->state = C_MASKED;
    }
    if (y)
        upd_wipe_free(y, length * sizeof *y);
    if (received)
        sodium_free(received);
    return st;
}

/* ---- round 3 -------------------------------------------------------- */

/* A list of client indices: ascending, each held here; marks in `in`. */
static vkt_status get_list(const vkt_secagg_client *c, upd_reader *r, const char *what, bool *in, uint32_t *count)
{
    if (!sa_get_u16(r, count) || r->left < (size_t)*count * 2)
        return rt_error(VKT_ERR_FORMAT, WHO " %u: truncated unmask request (%s)", c->index, what);
    uint32_t last = 0;
    for (uint32_t i = 0; i < *count; i++) {
        uint32_t v = 0;
        sa_get_u16(r, &v);
        if (v <= last || v > c->p.client_count)
            return rt_error(VKT_ERR_FORMAT, WHO " %u: unmask request: %s list not ascending within 1..%u", c->index,
                            what, c->p.client_count);
        if (!c->holds[v])
            return rt_error(VKT_ERR_FORMAT, WHO " %u: unmask request names client %u, whose shares this client does "
                            "not hold", c->index, v);
        last = v;
        in[v] = true;
    }
    return VKT_OK;
}

vkt_status vkt_secagg_client_unmask(vkt_secagg_client *c, const uint8_t *request, size_t request_size, uint8_t **msg,
                                    size_t *size)
{
    vkt_status st = check_state(c, C_MASKED, "Unmasking");
    if (st == VKT_OK && (!msg || !size))
        st = rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_client_unmask: no output");
    upd_reader r;
    uint32_t to, alive_count = 0, dropped_count = 0;
    if (st == VKT_OK)
        st = sa_open(request, request_size, SA_MSG_UNMASK_REQUEST, c->p.round_id, WHO, &r, &to);
    if (st == VKT_OK && to != 0)
        st = rt_error(VKT_ERR_FORMAT, WHO ": an unmask request must be addressed to every client (0), not %u", to);
    bool alive[SLOTS] = {false}, dropped[SLOTS] = {false};
    if (st == VKT_OK)
        st = get_list(c, &r, "masked-input", alive, &alive_count);
    if (st == VKT_OK)
        st = get_list(c, &r, "dropped", dropped, &dropped_count);
    if (st == VKT_OK && r.left != 0)
        st = rt_error(VKT_ERR_FORMAT, WHO " %u: %zu trailing bytes after the unmask request", c->index, r.left);
    for (uint32_t v = 1; st == VKT_OK && v <= c->p.client_count; v++)
        if (alive[v] && dropped[v])
            st = rt_error(VKT_ERR_STATE, WHO " %u: the server asks for both the mask seed and the key share of "
                          "client %u; refused (that would reveal its input)", c->index, v);
    if (st == VKT_OK && !alive[c->index])
        st = rt_error(VKT_ERR_FORMAT, WHO " %u: the unmask request does not count this client's masked input",
                      c->index);
    if (st == VKT_OK && alive_count < c->p.threshold)
        st = rt_error(VKT_ERR_STATE, WHO " %u: only %u clients sent masked input; %u needed", c->index, alive_count,
                      c->p.threshold);
    if (st != VKT_OK)
        return st;

    upd_buf b = {0};
    sa_put_header(&b, SA_MSG_UNMASK, c->index, c->p.round_id);
    sa_put_u16(&b, alive_count);
    for (uint32_t v = 1; v <= c->p.client_count; v++)
        if (alive[v]) {
            sa_put_u16(&b, v);
            upd_buf_put(&b, c->sec->pair[v], SA_KEY_BYTES); /* b share */
        }
    sa_put_u16(&b, dropped_count);
    for (uint32_t v = 1; v <= c->p.client_count; v++)
        if (dropped[v]) {
            sa_put_u16(&b, v);
            upd_buf_put(&b, c->sec->pair[v] + SA_KEY_BYTES, SA_KEY_BYTES); /* s_sk share */
        }
    st = sa_finish(&b, msg, size);
    if (st == VKT_OK)
        c->state = C_DONE;
    return st;
}
