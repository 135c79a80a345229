/* The server side of a round: stages that collect one kind of client
 * message each and close only when at least t clients took part, the
 * messages that open each stage, and the result. It keeps nothing it
 * could unmask a single input with: the masked inputs are summed as they
 * arrive, and a client's b share and key share are never both asked for. */
#include <stdlib.h>

#include <sodium.h>

#include "server_internal.h"
#include "runtime/rt_error.h"
#include "src/update/tensors.h"

#define WHO "secagg server"

vkt_status vkt_secagg_server_create(const vkt_secagg_params *params, vkt_secagg_server **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_server_create: no output");
    vkt_secagg_params p;
    vkt_status st = vkt_secagg_params_resolve(params, &p);
    if (st == VKT_OK)
        st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    vkt_secagg_server *s = calloc(1, sizeof *s);
    if (!s)
        return rt_error(VKT_ERR_NO_MEMORY, WHO ": out of memory");
    s->p = p;
    s->slots = p.client_count + 1;
    size_t cells = (size_t)s->slots * s->slots;
    s->pairs = calloc(cells, SA_PAIR_STORED);
    s->sum = calloc(p.vector_length, sizeof *s->sum);
    s->b_shares = sodium_malloc(cells * SA_KEY_BYTES);
    s->sk_shares = sodium_malloc(cells * SA_KEY_BYTES);
    if (!s->pairs || !s->sum || !s->b_shares || !s->sk_shares) {
        vkt_secagg_server_destroy(s);
        return rt_error(VKT_ERR_NO_MEMORY, WHO ": out of memory for %u clients and %u values", p.client_count,
                        p.vector_length);
    }
    *out = s;
    return VKT_OK;
}

void vkt_secagg_server_destroy(vkt_secagg_server *s)
{
    if (!s)
        return;
    free(s->pairs);
    free(s->sum);
    free(s->result);
    if (s->b_shares)
        sodium_free(s->b_shares);
    if (s->sk_shares)
        sodium_free(s->sk_shares);
    free(s);
}

vkt_secagg_stage vkt_secagg_server_stage(const vkt_secagg_server *s)
{
    return s ? s->stage : VKT_SECAGG_COLLECT_KEYS;
}

int vkt_secagg_server_took_part(const vkt_secagg_server *s, vkt_secagg_stage stage, uint32_t index)
{
    if (!s || index < 1 || index > s->p.client_count || stage > VKT_SECAGG_COLLECT_UNMASK)
        return 0;
    return sa_stage_set((vkt_secagg_server *)s, stage)[index];
}

static const char *const stage_names[] = {"AdvertiseKeys", "ShareKeys", "MaskedInputCollection", "Unmasking"};

vkt_status vkt_secagg_server_close_stage(vkt_secagg_server *s)
{
    if (!s)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_server_close_stage: no server");
    if (s->stage == VKT_SECAGG_DONE)
        return rt_error(VKT_ERR_STATE, WHO ": the round is already complete");
    uint32_t got = s->count[s->stage];
    if (got < s->p.threshold)
        return rt_error(VKT_ERR_STATE, WHO ": %s: %u of %u clients took part, the threshold is %u; the round cannot "
                        "go on (nothing has been revealed)", stage_names[s->stage], got, s->p.client_count,
                        s->p.threshold);
    if (s->stage == VKT_SECAGG_COLLECT_UNMASK) {
        vkt_status st = sa_server_unmask(s);
        if (st != VKT_OK)
            return st;
    }
    s->stage++;
    return VKT_OK;
}

static void key_list(const vkt_secagg_server *s, upd_buf *b)
{
    sa_put_header(b, SA_MSG_KEY_LIST, 0, s->p.round_id);
    sa_put_u16(b, s->p.client_count);
    sa_put_u16(b, s->p.threshold);
    sa_put_u16(b, s->count[VKT_SECAGG_COLLECT_KEYS]);
    for (uint32_t v = 1; v <= s->p.client_count; v++)
        if (s->advertised[v]) {
            sa_put_u16(b, v);
            upd_buf_put(b, s->c_pk[v], SA_KEY_BYTES);
            upd_buf_put(b, s->s_pk[v], SA_KEY_BYTES);
        }
}

static void shares_for(const vkt_secagg_server *s, uint32_t v, upd_buf *b)
{
    sa_put_header(b, SA_MSG_SHARES_FOR, v, s->p.round_id);
    sa_put_u16(b, s->count[VKT_SECAGG_COLLECT_SHARES] - 1);
    for (uint32_t u = 1; u <= s->p.client_count; u++)
        if (s->shared[u] && u != v) {
            sa_put_u16(b, u);
            upd_buf_put(b, s->pairs + ((size_t)u * s->slots + v) * SA_PAIR_STORED, SA_PAIR_STORED);
        }
}

static void unmask_request(const vkt_secagg_server *s, upd_buf *b)
{
    sa_put_header(b, SA_MSG_UNMASK_REQUEST, 0, s->p.round_id);
    sa_put_u16(b, s->count[VKT_SECAGG_COLLECT_MASKED]);
    for (uint32_t v = 1; v <= s->p.client_count; v++)
        if (s->masked[v])
            sa_put_u16(b, v);
    sa_put_u16(b, s->count[VKT_SECAGG_COLLECT_SHARES] - s->count[VKT_SECAGG_COLLECT_MASKED]);
    for (uint32_t v = 1; v <= s->p.client_count; v++)
        if (s->shared[v] && !s->masked[v])
            sa_put_u16(b, v);
}

vkt_status vkt_secagg_server_message(const vkt_secagg_server *s, uint32_t index, uint8_t **msg, size_t *size)
{
    if (!s || !msg || !size)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_server_message: NULL argument");
    if (s->stage == VKT_SECAGG_COLLECT_KEYS || s->stage == VKT_SECAGG_DONE)
        return rt_error(VKT_ERR_STATE, WHO ": no message opens this stage (close the previous one first)");
    if (index < 1 || index > s->p.client_count || !sa_stage_set((vkt_secagg_server *)s, s->stage - 1)[index])
        return rt_error(VKT_ERR_NOT_FOUND, WHO ": client %u did not take part in %s", index,
                        stage_names[s->stage - 1]);
    upd_buf b = {0};
    switch (s->stage) {
    case VKT_SECAGG_COLLECT_SHARES: key_list(s, &b); break;
    case VKT_SECAGG_COLLECT_MASKED: shares_for(s, index, &b); break;
    default: unmask_request(s, &b); break;
    }
    return sa_finish(&b, msg, size);
}

vkt_status vkt_secagg_server_result(const vkt_secagg_server *s, uint32_t *sum, size_t length,
                                    vkt_secagg_result_info *info)
{
    if (!s || !sum || length != s->p.vector_length)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_server_result: need room for the round's %u values",
                        s ? s->p.vector_length : 0);
    if (s->stage != VKT_SECAGG_DONE)
        return rt_error(VKT_ERR_STATE, WHO ": the round is not complete");
    memcpy(sum, s->result, length * sizeof *sum);
    if (info)
        *info = s->info;
    return VKT_OK;
}
