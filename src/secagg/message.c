/* Message framing shared by client and server: the 16-byte header every
 * message starts with, u16 fields, and handing a built message over.
 * The bodies are built and parsed next to the round that uses them
 * (client.c, server*.c); docs/secure-aggregation.md lists every byte. */
#include <stdlib.h>

#include <sodium.h>

#include "secagg_internal.h"
#include "runtime/rt_error.h"

const char *sa_type_name(sa_type type)
{
    switch (type) {
    case SA_MSG_ADVERTISE: return "AdvertiseKeys";
    case SA_MSG_KEY_LIST: return "KeyList";
    case SA_MSG_SHARES: return "ShareKeys";
    case SA_MSG_SHARES_FOR: return "RelayedShares";
    case SA_MSG_MASKED: return "MaskedInput";
    case SA_MSG_UNMASK_REQUEST: return "UnmaskRequest";
    case SA_MSG_UNMASK: return "UnmaskShares";
    }
    return "unknown";
}

void sa_put_u16(upd_buf *b, uint32_t v)
{
    uint8_t t[2];
    upd_store_le16(t, (uint16_t)v);
    upd_buf_put(b, t, 2);
}

bool sa_get_u16(upd_reader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!upd_get_bytes(r, &p, 2))
        return false;
    *v = upd_load_le16(p);
    return true;
}

void sa_put_header(upd_buf *b, sa_type type, uint32_t client, uint64_t round_id)
{
    upd_buf_put(b, SA_MAGIC, 4);
    upd_buf_u8(b, SA_VERSION);
    upd_buf_u8(b, (uint8_t)type);
    sa_put_u16(b, client);
    upd_buf_u64(b, round_id);
}

vkt_status sa_open(const uint8_t *msg, size_t size, sa_type want, uint64_t round_id, const char *who,
                   upd_reader *r, uint32_t *client)
{
    if (!msg || size < SA_HEADER_BYTES)
        return rt_error(VKT_ERR_FORMAT, "%s: message of %zu bytes is shorter than a header", who, size);
    if (memcmp(msg, SA_MAGIC, 4) != 0)
        return rt_error(VKT_ERR_FORMAT, "%s: not a secure-aggregation message (bad magic)", who);
    if (msg[4] != SA_VERSION)
        return rt_error(msg[4] > SA_VERSION ? VKT_ERR_UNSUPPORTED : VKT_ERR_FORMAT,
                        "%s: message version %u (this build speaks %u)", who, msg[4], SA_VERSION);
    if (msg[5] != want)
        return rt_error(msg[5] >= SA_MSG_ADVERTISE && msg[5] <= SA_MSG_UNMASK ? VKT_ERR_STATE : VKT_ERR_FORMAT,
                        "%s: expected a %s message, got type %u (%s)", who, sa_type_name(want), msg[5],
                        sa_type_name((sa_type)msg[5]));
    *client = upd_load_le16(msg + 6);
    uint64_t round = upd_load_le64(msg + 8);
    if (round != round_id)
        return rt_error(VKT_ERR_STATE, "%s: %s message of round %llu, this is round %llu", who, sa_type_name(want),
                        (unsigned long long)round, (unsigned long long)round_id);
    *r = (upd_reader){.p = msg + SA_HEADER_BYTES, .left = size - SA_HEADER_BYTES};
    return VKT_OK;
}

vkt_status sa_finish(upd_buf *b, uint8_t **msg, size_t *size)
{
    if (b->failed) {
        upd_buf_wipe(b);
        return rt_error(VKT_ERR_NO_MEMORY, "secagg: out of memory building a message");
    }
    *msg = b->data;
    *size = b->len;
    *b = (upd_buf){0};
    return VKT_OK;
}

void sa_pair_ad(uint64_t round_id, uint32_t sender, uint32_t recipient, uint8_t ad[SA_PAIR_AD_BYTES])
{
    memcpy(ad, SA_MAGIC, 4);
    ad[4] = SA_VERSION;
    upd_store_le64(ad + 5, round_id);
    upd_store_le16(ad + 13, (uint16_t)sender);
    upd_store_le16(ad + 15, (uint16_t)recipient);
}

void vkt_secagg_message_free(uint8_t *message)
{
    free(message);
}
