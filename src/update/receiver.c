/* The aggregator side: verify, decrypt, decode.
 *
 * Cheap refusals first, from the plaintext header (framing, round, model
 * hash, client, replay), then authentication, then the payload decoder.
 * A client's sequence is recorded only once its packet has been fully
 * accepted, so a refused packet changes nothing. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "packet.h"
#include "payload.h"
#include "tensors.h"
#include "runtime/rt_error.h"

#define DEFAULT_MAX_ELEMENTS ((uint64_t)1 << 24)
#define DEFAULT_MAX_TENSORS 4096

typedef struct client_entry {
    uint64_t id;
    uint8_t pk[VKT_KX_PUBLIC_KEY_BYTES];
    uint64_t last_sequence;
} client_entry;

struct vkt_update_receiver {
    vkt_keypair *keys; /* sodium_malloc'ed */
    upd_limits limits;
    bool accept_unknown;
    bool have_round;
    uint64_t round_id;
    uint8_t model_hash[VKT_MODEL_HASH_BYTES];
    client_entry *clients; /* sorted by id */
    int client_count, client_cap;
};

vkt_status vkt_update_receiver_create(const vkt_keypair *aggregator_keys, const vkt_update_receiver_options *options,
                                      vkt_update_receiver **out)
{
    if (out)
        *out = NULL;
    if (!aggregator_keys || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receiver_create: NULL argument");
    vkt_update_receiver_options o = options ? *options : (vkt_update_receiver_options){0};
    if (o.max_tensors < 0 || o.max_tensors > UPD_MAX_TENSORS)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receiver_create: max_tensors %d outside 0..%d",
                        o.max_tensors, UPD_MAX_TENSORS);
    vkt_status st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    vkt_update_receiver *rx = calloc(1, sizeof *rx);
    if (!rx)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_receiver_create: out of memory");
    rx->keys = sodium_malloc(sizeof *rx->keys);
    if (!rx->keys) {
        free(rx);
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_receiver_create: cannot allocate guarded key memory");
    }
    memcpy(rx->keys, aggregator_keys, sizeof *rx->keys);
    rx->limits.max_elements = o.max_elements ? o.max_elements : DEFAULT_MAX_ELEMENTS;
    rx->limits.max_tensors = (uint32_t)(o.max_tensors ? o.max_tensors : DEFAULT_MAX_TENSORS);
    rx->accept_unknown = o.accept_unknown_clients;
    *out = rx;
    return VKT_OK;
}

void vkt_update_receiver_destroy(vkt_update_receiver *rx)
{
    if (!rx)
        return;
    sodium_free(rx->keys);
    free(rx->clients);
    free(rx);
}

vkt_status vkt_update_receiver_set_round(vkt_update_receiver *rx, uint64_t round_id,
                                         const uint8_t model_hash[VKT_MODEL_HASH_BYTES])
{
    if (!rx || !model_hash)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receiver_set_round: NULL argument");
    rx->have_round = true;
    rx->round_id = round_id;
    memcpy(rx->model_hash, model_hash, VKT_MODEL_HASH_BYTES);
    return VKT_OK;
}

/* Index of the entry with `id`, or -(insertion point) - 1. */
static int find_client(const vkt_update_receiver *rx, uint64_t id)
{
    int lo = 0, hi = rx->client_count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (rx->clients[mid].id == id)
            return mid;
        if (rx->clients[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -lo - 1;
}

static vkt_status put_client(vkt_update_receiver *rx, uint64_t id, const uint8_t *pk, uint64_t last_sequence)
{
    int at = find_client(rx, id);
    if (at < 0) {
        if (rx->client_count == rx->client_cap) {
            int cap = rx->client_cap ? 2 * rx->client_cap : 16;
            client_entry *grown = realloc(rx->clients, (size_t)cap * sizeof *grown);
            if (!grown)
                return rt_error(VKT_ERR_NO_MEMORY, "update receiver: out of memory for clients");
            rx->clients = grown;
            rx->client_cap = cap;
        }
        at = -at - 1;
        memmove(&rx->clients[at + 1], &rx->clients[at], (size_t)(rx->client_count - at) * sizeof *rx->clients);
        rx->client_count++;
    }
    rx->clients[at].id = id;
    memcpy(rx->clients[at].pk, pk, VKT_KX_PUBLIC_KEY_BYTES);
    rx->clients[at].last_sequence = last_sequence;
    return VKT_OK;
}

vkt_status vkt_update_receiver_add_client(vkt_update_receiver *rx, uint64_t client_id,
                                          const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], uint64_t last_sequence)
{
    if (!rx || !public_key)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receiver_add_client: NULL argument");
    return put_client(rx, client_id, public_key, last_sequence);
}

vkt_status vkt_update_receiver_last_sequence(const vkt_update_receiver *rx, uint64_t client_id, uint64_t *out)
{
    if (!rx || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receiver_last_sequence: NULL argument");
    int at = find_client(rx, client_id);
    if (at < 0)
        return rt_error(VKT_ERR_NOT_FOUND, "no client with id %llu", (unsigned long long)client_id);
    *out = rx->clients[at].last_sequence;
    return VKT_OK;
}

/* Refusals decided by the header alone. */
static vkt_status check_header(const vkt_update_receiver *rx, const upd_header *h)
{
    if (!rx->have_round)
        return rt_error(VKT_ERR_STATE, "update receiver: no round set (vkt_update_receiver_set_round)");
    if (h->round_id != rx->round_id)
        return rt_error(VKT_ERR_STATE, "update packet: round %llu, this receiver accepts round %llu (stale or early)",
                        (unsigned long long)h->round_id, (unsigned long long)rx->round_id);
    if (memcmp(h->model_hash, rx->model_hash, VKT_MODEL_HASH_BYTES) != 0)
        return rt_error(VKT_ERR_STATE, "update packet: trained from another base model (model hash differs)");
    int at = find_client(rx, h->client_id);
    if (at < 0) {
        if (!rx->accept_unknown)
            return rt_error(VKT_ERR_NOT_FOUND, "update packet: unknown client %llu", (unsigned long long)h->client_id);
        return VKT_OK;
    }
    const client_entry *c = &rx->clients[at];
    if (memcmp(c->pk, h->client_pk, VKT_KX_PUBLIC_KEY_BYTES) != 0)
        return rt_error(VKT_ERR_FORMAT, "update packet: client %llu signed with a key that is not its registered key",
                        (unsigned long long)h->client_id);
    if (h->sequence <= c->last_sequence)
        return rt_error(VKT_ERR_STATE, "update packet: sequence %llu from client %llu already seen (last %llu): replay",
                        (unsigned long long)h->sequence, (unsigned long long)h->client_id,
                        (unsigned long long)c->last_sequence);
    return VKT_OK;
}

vkt_status vkt_update_receive(vkt_update_receiver *rx, const uint8_t *packet, size_t size, vkt_update **out)
{
    if (out)
        *out = NULL;
    if (!rx || !packet || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_receive: NULL argument");
    upd_header h;
    vkt_status st = upd_header_parse(packet, size, &h);
    if (st == VKT_OK)
        st = check_header(rx, &h);
    if (st != VKT_OK)
        return st;

    uint8_t *plain = NULL;
    size_t plain_size = 0;
    if ((st = upd_packet_open(packet, &h, rx->keys, &plain, &plain_size)) != VKT_OK)
        return st;
    vkt_update *u = NULL;
    st = upd_payload_decode(plain, plain_size, &rx->limits, &u);
    upd_plain_free(plain, plain_size);
    if (st == VKT_OK)
        st = put_client(rx, h.client_id, h.client_pk, h.sequence);
    if (st != VKT_OK) {
        vkt_update_destroy(u);
        return st;
    }
    u->info.round_id = h.round_id;
    u->info.client_id = h.client_id;
    u->info.sequence = h.sequence;
    u->info.packet_bytes = size;
    *out = u;
    return VKT_OK;
}
