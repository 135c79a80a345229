/* Submissions: a packet, a decoded update or plain deltas, each checked
 * against the model and the versions collected now before anything is
 * added, so a refused one changes nothing but the refusal counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"
#include "src/update/packet.h"

static const char *const refusal_names[VKT_FED_REFUSAL_COUNT] = {
    [VKT_FED_ACCEPTED] = "accepted",
    [VKT_FED_REFUSED_MALFORMED] = "malformed",
    [VKT_FED_REFUSED_UNSUPPORTED] = "unsupported",
    [VKT_FED_REFUSED_ROUND] = "wrong round",
    [VKT_FED_REFUSED_FOREIGN_MODEL] = "foreign model",
    [VKT_FED_REFUSED_UNKNOWN_CLIENT] = "unknown client",
    [VKT_FED_REFUSED_REPLAY] = "replay",
    [VKT_FED_REFUSED_DUPLICATE] = "duplicate client",
    [VKT_FED_REFUSED_MISMATCH] = "model mismatch",
    [VKT_FED_REFUSED_EMPTY] = "no examples",
    [VKT_FED_REFUSED_NORM] = "norm too large",
    [VKT_FED_REFUSED_NONFINITE] = "non-finite",
    [VKT_FED_REFUSED_NO_KEYS] = "no keys",
};

const char *vkt_fed_refusal_name(vkt_fed_refusal r)
{
    return (unsigned)r < VKT_FED_REFUSAL_COUNT ? refusal_names[r] : "unknown";
}

vkt_status fed_refuse(vkt_fed_aggregator *agg, vkt_fed_receipt *r, vkt_fed_refusal why, vkt_status status)
{
    agg->stats.refused++;
    agg->stats.refused_by[why]++;
    r->refusal = why;
    return status;
}

/* Name, shape and finiteness of every tensor, and the update's norm. */
static vkt_status check_tensors(const vkt_fed_aggregator *agg, const fed_input *in, int *index, double *norm,
                                vkt_fed_refusal *why)
{
    *why = VKT_FED_REFUSED_MISMATCH;
    if (in->count < 1 || !in->tensors)
        return rt_error(VKT_ERR_SHAPE, "update from client %llu: no tensors", (unsigned long long)in->client_id);
    double sum = 0.0;
    for (int k = 0; k < in->count; k++) {
        const vkt_update_tensor *t = &in->tensors[k];
        int i = t->name ? fed_find_tensor(agg, t->name) : -1;
        if (i < 0)
            return rt_error(VKT_ERR_SHAPE, "update from client %llu: the model has no tensor '%s'",
                            (unsigned long long)in->client_id, t->name ? t->name : "(null)");
        for (int prev = 0; prev < k; prev++)
            if (index[prev] == i)
                return rt_error(VKT_ERR_SHAPE, "update from client %llu: tensor '%s' given twice",
                                (unsigned long long)in->client_id, t->name);
        const fed_tensor *m = &agg->tensors[i];
        bool same = t->rank == m->rank;
        for (int d = 0; same && d < m->rank; d++)
            same = t->dims[d] == m->dims[d];
        if (!same)
            return rt_error(VKT_ERR_SHAPE, "update from client %llu: tensor '%s' has another shape than the model's",
                            (unsigned long long)in->client_id, t->name);
        if (!t->values)
            return rt_error(VKT_ERR_INVALID_ARG, "update from client %llu: tensor '%s' has no values",
                            (unsigned long long)in->client_id, t->name);
        index[k] = i;
        for (size_t j = 0; j < m->numel; j++)
            sum += (double)t->values[j] * (double)t->values[j];
    }
    *norm = sqrt(sum);
    if (!isfinite(*norm)) {
        *why = VKT_FED_REFUSED_NONFINITE;
        return rt_error(VKT_ERR_INVALID_ARG, "update from client %llu: values are not finite",
                        (unsigned long long)in->client_id);
    }
    double limit = agg->opt.max_update_norm;
    if (limit > 0.0 && *norm > limit) {
        *why = VKT_FED_REFUSED_NORM;
        return rt_error(VKT_ERR_STATE, "update from client %llu: norm %g exceeds the limit %g",
                        (unsigned long long)in->client_id, *norm, limit);
    }
    return VKT_OK;
}

static bool seen_this_round(const vkt_fed_aggregator *agg, uint64_t client_id)
{
    for (int i = 0; i < agg->pending; i++)
        if (agg->clients[i] == client_id)
            return true;
    return false;
}

/* Room to record one more client of the round (FedAvg). */
static vkt_status reserve_client(vkt_fed_aggregator *agg)
{
    if (agg->pending < agg->client_cap)
        return VKT_OK;
    int cap = agg->client_cap ? 2 * agg->client_cap : 64;
    uint64_t *grown = realloc(agg->clients, (size_t)cap * sizeof *grown);
    if (!grown)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory for the round's clients");
    agg->clients = grown;
    agg->client_cap = cap;
    return VKT_OK;
}

/* The version checks shared by every kind of submission. */
static vkt_status check_version(vkt_fed_aggregator *agg, uint64_t version, vkt_fed_refusal *why)
{
    *why = VKT_FED_REFUSED_ROUND;
    if (fed_window_find(agg, version))
        return VKT_OK;
    uint64_t oldest = agg->window[agg->window_len - 1].version;
    if (agg->window_len == 1)
        return rt_error(VKT_ERR_STATE, "update trained from version %llu; this round collects version %llu (%s)",
                        (unsigned long long)version, (unsigned long long)agg->version,
                        version < agg->version ? "stale" : "early");
    return rt_error(VKT_ERR_STATE, "update trained from version %llu; versions %llu..%llu are accepted (%s)",
                    (unsigned long long)version, (unsigned long long)oldest, (unsigned long long)agg->version,
                    version < oldest ? "too stale" : "early");
}

vkt_status fed_add(vkt_fed_aggregator *agg, const fed_input *in, size_t packet_bytes, vkt_fed_receipt *r)
{
    r->client_id = in->client_id;
    r->version = in->version;
    r->example_count = in->example_count;
    vkt_fed_refusal why;
    vkt_status st = check_version(agg, in->version, &why);
    if (st != VKT_OK)
        return fed_refuse(agg, r, why, st);
    r->staleness = agg->version - in->version;
    r->weight = agg->opt.mode == VKT_FED_FEDBUFF ? vkt_fed_staleness_weight(&agg->opt.staleness, r->staleness) : 1.0;
    if (in->example_count == 0 && !agg->opt.equal_weights)
        return fed_refuse(agg, r, VKT_FED_REFUSED_EMPTY,
                          rt_error(VKT_ERR_STATE, "update from client %llu: trained on no examples",
                                   (unsigned long long)in->client_id));
    if (agg->opt.mode == VKT_FED_FEDAVG && seen_this_round(agg, in->client_id))
        return fed_refuse(agg, r, VKT_FED_REFUSED_DUPLICATE,
                          rt_error(VKT_ERR_STATE, "client %llu already sent an update this round",
                                   (unsigned long long)in->client_id));

    int *index = malloc((size_t)(in->count > 0 ? in->count : 1) * sizeof *index);
    if (!index)
        return fed_refuse(agg, r, VKT_FED_REFUSED_UNSUPPORTED, rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory"));
    double norm = 0.0;
    st = check_tensors(agg, in, index, &norm, &why);
    r->update_norm = norm;
    if (st == VKT_OK && (st = reserve_client(agg)) != VKT_OK)
        why = VKT_FED_REFUSED_UNSUPPORTED;
    if (st != VKT_OK) {
        free(index);
        return fed_refuse(agg, r, why, st);
    }

    /* Accepted: nothing below can fail. */
    double n = agg->opt.equal_weights ? 1.0 : (double)in->example_count;
    for (int k = 0; k < in->count; k++)
        fed_sum_add(&agg->sum, index[k], in->tensors[k].values, agg->tensors[index[k]].numel, n * r->weight, n);
    free(index);
    agg->clients[agg->pending++] = in->client_id;
    agg->stats.accepted++;
    agg->stats.examples += in->example_count;
    agg->stats.bytes_accepted += packet_bytes;
    agg->client_norm_sum += norm;
    agg->staleness_sum += (double)r->staleness;
    if (r->staleness > agg->stats.max_staleness)
        agg->stats.max_staleness = r->staleness;
    r->refusal = VKT_FED_ACCEPTED;

    if (agg->opt.mode == VKT_FED_FEDBUFF && agg->pending >= agg->opt.buffer_size) {
        st = fed_apply(agg);
        if (st != VKT_OK) {
            fed_reset_pending(agg);
            return fed_refuse(agg, r, VKT_FED_REFUSED_NONFINITE, st);
        }
        r->applied = true;
    }
    return VKT_OK;
}

/* The receiver's refusals, by status (its round and model were set to
 * the packet's own, so VKT_ERR_STATE can only mean a replay). */
static vkt_fed_refusal receiver_refusal(vkt_status st)
{
    switch (st) {
    case VKT_ERR_NOT_FOUND: return VKT_FED_REFUSED_UNKNOWN_CLIENT;
    case VKT_ERR_STATE: return VKT_FED_REFUSED_REPLAY;
    case VKT_ERR_UNSUPPORTED: return VKT_FED_REFUSED_UNSUPPORTED;
    default: return VKT_FED_REFUSED_MALFORMED;
    }
}

static vkt_status collect_tensors(const vkt_update *u, vkt_update_tensor **out)
{
    int count = vkt_update_tensor_count(u);
    vkt_update_tensor *t = calloc((size_t)(count > 0 ? count : 1), sizeof *t);
    if (!t)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    for (int i = 0; i < count; i++)
        vkt_update_get_tensor(u, i, &t[i]);
    *out = t;
    return VKT_OK;
}

static vkt_status add_update(vkt_fed_aggregator *agg, const vkt_update *u, size_t packet_bytes, vkt_fed_receipt *r)
{
    vkt_update_info info;
    vkt_update_get_info(u, &info);
    vkt_update_tensor *t = NULL;
    vkt_status st = collect_tensors(u, &t);
    if (st != VKT_OK)
        return fed_refuse(agg, r, VKT_FED_REFUSED_UNSUPPORTED, st);
    fed_input in = {
        .client_id = info.client_id,
        .version = info.round_id,
        .example_count = info.example_count,
        .count = vkt_update_tensor_count(u),
        .tensors = t,
    };
    st = fed_add(agg, &in, packet_bytes, r);
    free(t);
    return st;
}

vkt_status vkt_fed_submit_packet(vkt_fed_aggregator *agg, const uint8_t *packet, size_t size,
                                 vkt_fed_receipt *receipt)
{
    vkt_fed_receipt scratch;
    vkt_fed_receipt *r = receipt ? receipt : &scratch;
    memset(r, 0, sizeof *r);
    r->packet_bytes = size;
    if (!agg || (!packet && size > 0))
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_submit_packet: NULL argument");
    agg->stats.bytes_received += size;
    if (!agg->rx)
        return fed_refuse(agg, r, VKT_FED_REFUSED_NO_KEYS,
                          rt_error(VKT_ERR_STATE, "this aggregator was created without keys: it cannot open packets"));

    /* The header names the version the client trained from; the receiver
     * then checks the packet against that version's model hash. */
    upd_header h;
    vkt_status st = upd_header_parse(packet ? packet : (const uint8_t *)"", size, &h);
    if (st != VKT_OK)
        return fed_refuse(agg, r, st == VKT_ERR_UNSUPPORTED ? VKT_FED_REFUSED_UNSUPPORTED : VKT_FED_REFUSED_MALFORMED,
                          st);
    r->client_id = h.client_id;
    r->version = h.round_id;
    vkt_fed_refusal why;
    if ((st = check_version(agg, h.round_id, &why)) != VKT_OK)
        return fed_refuse(agg, r, why, st);
    const fed_version *v = fed_window_find(agg, h.round_id);
    if (memcmp(v->hash, h.model_hash, VKT_MODEL_HASH_BYTES) != 0)
        return fed_refuse(agg, r, VKT_FED_REFUSED_FOREIGN_MODEL,
                          rt_error(VKT_ERR_STATE, "update packet from client %llu: trained from another model than "
                                   "version %llu (model hash differs)",
                                   (unsigned long long)h.client_id, (unsigned long long)h.round_id));

    vkt_update *u = NULL;
    st = vkt_update_receiver_set_round(agg->rx, v->version, v->hash);
    if (st == VKT_OK)
        st = vkt_update_receive(agg->rx, packet, size, &u);
    if (st != VKT_OK)
        return fed_refuse(agg, r, receiver_refusal(st), st);
    st = add_update(agg, u, size, r);
    vkt_update_destroy(u);
    return st;
}

vkt_status vkt_fed_submit_update(vkt_fed_aggregator *agg, const vkt_update *update, vkt_fed_receipt *receipt)
{
    vkt_fed_receipt scratch;
    vkt_fed_receipt *r = receipt ? receipt : &scratch;
    memset(r, 0, sizeof *r);
    if (!agg || !update)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_submit_update: NULL argument");
    return add_update(agg, update, 0, r);
}

vkt_status vkt_fed_submit_delta(vkt_fed_aggregator *agg, const vkt_fed_delta_info *info,
                                const vkt_update_tensor *delta, int count, vkt_fed_receipt *receipt)
{
    vkt_fed_receipt scratch;
    vkt_fed_receipt *r = receipt ? receipt : &scratch;
    memset(r, 0, sizeof *r);
    if (!agg || !info || !delta || count < 1)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_submit_delta: NULL argument or no tensors");
    fed_input in = {
        .client_id = info->client_id,
        .version = info->version,
        .example_count = info->example_count,
        .count = count,
        .tensors = delta,
    };
    return fed_add(agg, &in, 0, r);
}
