/* The aggregator object: a copy of the global model, its version and the
 * window of recent versions (with their model hashes) whose updates are
 * still accepted, and the packet receiver. */
#include <stdlib.h>
#include <string.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"
#include "src/update/tensors.h"

#define DEFAULT_BUFFER_SIZE 10
#define DEFAULT_MAX_STALENESS 16

static vkt_status fill_defaults(const vkt_fed_options *in, vkt_fed_options *o)
{
    *o = in ? *in : (vkt_fed_options){0};
    if (o->mode != VKT_FED_FEDAVG && o->mode != VKT_FED_FEDBUFF)
        return rt_error(VKT_ERR_INVALID_ARG, "aggregator: unknown mode %d", (int)o->mode);
    if (!(o->server_lr >= 0.0f && o->server_lr <= 1e6f))
        return rt_error(VKT_ERR_INVALID_ARG, "aggregator: server_lr must be finite and >= 0");
    if (o->server_lr == 0.0f)
        o->server_lr = 1.0f;
    if (o->min_clients < 0 || o->buffer_size < 0 || o->max_staleness < 0 ||
        o->max_staleness > FED_MAX_STALENESS_LIMIT)
        return rt_error(VKT_ERR_INVALID_ARG,
                        "aggregator: min_clients and buffer_size must be >= 0, max_staleness 0..%d",
                        FED_MAX_STALENESS_LIMIT);
    if (o->min_clients == 0)
        o->min_clients = 1;
    if (o->buffer_size == 0)
        o->buffer_size = DEFAULT_BUFFER_SIZE;
    if (o->max_staleness == 0)
        o->max_staleness = DEFAULT_MAX_STALENESS;
    if (o->mode == VKT_FED_FEDAVG)
        o->max_staleness = 0; /* FedAvg: the current version only */
    if (!(o->max_update_norm >= 0.0))
        return rt_error(VKT_ERR_INVALID_ARG, "aggregator: max_update_norm must be >= 0");
    const vkt_fed_staleness *s = &o->staleness;
    if (s->kind != VKT_FED_STALENESS_POLYNOMIAL && s->kind != VKT_FED_STALENESS_CONSTANT &&
        s->kind != VKT_FED_STALENESS_HINGE)
        return rt_error(VKT_ERR_INVALID_ARG, "aggregator: unknown staleness function %d", (int)s->kind);
    if (!(s->a >= 0.0f && s->b >= 0.0f))
        return rt_error(VKT_ERR_INVALID_ARG, "aggregator: staleness parameters must be >= 0");
    return VKT_OK;
}

void vkt_fed_aggregator_destroy(vkt_fed_aggregator *agg)
{
    if (!agg)
        return;
    for (int i = 0; agg->tensors && i < agg->count; i++) {
        free(agg->tensors[i].name);
        free(agg->tensors[i].values);
    }
    free(agg->tensors);
    free(agg->window);
    free(agg->clients);
    fed_sum_free(&agg->sum);
    vkt_update_receiver_destroy(agg->rx);
    free(agg);
}

static vkt_status copy_tensor(const vkt_update_tensor *src, int index, fed_tensor *dst)
{
    uint32_t numel;
    vkt_status st = upd_tensor_check(src, "model tensor", index, &numel);
    if (st != VKT_OK)
        return st;
    dst->name = strdup(src->name);
    dst->values = malloc((size_t)numel * sizeof(float));
    if (!dst->name || !dst->values)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory copying the model");
    dst->rank = src->rank;
    for (int d = 0; d < src->rank; d++)
        dst->dims[d] = src->dims[d];
    dst->numel = numel;
    memcpy(dst->values, src->values, (size_t)numel * sizeof(float));
    return VKT_OK;
}

static vkt_status check_model(const vkt_update_tensor *model, int count)
{
    int *order = malloc((size_t)count * sizeof *order);
    if (!order)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    vkt_status st = upd_sort_by_name(model, count, order);
    free(order);
    return st;
}

vkt_status vkt_fed_aggregator_create(const vkt_update_tensor *model, int count, const vkt_keypair *aggregator_keys,
                                     const vkt_fed_options *options, vkt_fed_aggregator **out)
{
    if (out)
        *out = NULL;
    if (!model || count < 1 || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_create: no model or no output");
    vkt_fed_options opt;
    vkt_status st = fill_defaults(options, &opt);
    if (st == VKT_OK)
        st = check_model(model, count);
    if (st != VKT_OK)
        return st;

    vkt_fed_aggregator *agg = calloc(1, sizeof *agg);
    if (!agg)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    agg->opt = opt;
    agg->version = opt.first_version;
    agg->tensors = calloc((size_t)count, sizeof *agg->tensors);
    agg->window_cap = opt.max_staleness + 1;
    agg->window = calloc((size_t)agg->window_cap, sizeof *agg->window);
    if (!agg->tensors || !agg->window)
        st = rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    for (int i = 0; st == VKT_OK && i < count; i++) {
        st = copy_tensor(&model[i], i, &agg->tensors[i]);
        agg->count = i + 1; /* what destroy must free */
    }
    size_t *numel = st == VKT_OK ? malloc((size_t)count * sizeof *numel) : NULL;
    if (st == VKT_OK && !numel)
        st = rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    for (int i = 0; numel && i < count; i++)
        numel[i] = agg->tensors[i].numel;
    if (st == VKT_OK)
        st = fed_sum_init(&agg->sum, count, numel);
    free(numel);
    if (st == VKT_OK && aggregator_keys)
        st = vkt_update_receiver_create(aggregator_keys, &opt.receiver, &agg->rx);
    uint8_t hash[VKT_MODEL_HASH_BYTES];
    if (st == VKT_OK)
        st = fed_model_hash(agg, NULL, hash);
    if (st != VKT_OK) {
        vkt_fed_aggregator_destroy(agg);
        return st;
    }
    fed_window_push(agg, hash);
    fed_reset_pending(agg);
    *out = agg;
    return VKT_OK;
}

static void free_graph_tensors(vkt_update_tensor *t, int count)
{
    for (int i = 0; t && i < count; i++)
        free((float *)t[i].values);
    free(t);
}

vkt_status vkt_fed_aggregator_create_from_graph(const vkt_graph *g, const vkt_keypair *aggregator_keys,
                                                const vkt_fed_options *options, vkt_fed_aggregator **out)
{
    if (out)
        *out = NULL;
    if (!g || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_create_from_graph: NULL argument");
    int count = vkt_graph_param_count(g);
    if (count < 1)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_create_from_graph: the graph has no parameters");
    vkt_update_tensor *t = calloc((size_t)count, sizeof *t);
    if (!t)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    vkt_status st = VKT_OK;
    for (int i = 0; st == VKT_OK && i < count; i++) {
        vkt_param_info info;
        st = vkt_graph_param_info(g, i, &info);
        if (st != VKT_OK)
            break;
        float *values = malloc((info.numel ? info.numel : 1) * sizeof *values);
        t[i] = (vkt_update_tensor){.name = info.name, .rank = info.rank, .values = values};
        for (int d = 0; d < info.rank; d++)
            t[i].dims[d] = info.dims[d];
        st = values ? vkt_graph_param_get(g, info.name, values, info.numel)
                    : rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    }
    if (st == VKT_OK)
        st = vkt_fed_aggregator_create(t, count, aggregator_keys, options, out);
    free_graph_tensors(t, count);
    return st;
}

vkt_status vkt_fed_aggregator_add_client(vkt_fed_aggregator *agg, uint64_t client_id,
                                         const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], uint64_t last_sequence)
{
    if (!agg)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_add_client: no aggregator");
    if (!agg->rx)
        return rt_error(VKT_ERR_STATE, "vkt_fed_aggregator_add_client: the aggregator has no keys to receive packets");
    return vkt_update_receiver_add_client(agg->rx, client_id, public_key, last_sequence);
}

uint64_t vkt_fed_aggregator_version(const vkt_fed_aggregator *agg)
{
    return agg ? agg->version : 0;
}

void vkt_fed_aggregator_model_hash(const vkt_fed_aggregator *agg, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    if (agg && out)
        memcpy(out, agg->window[0].hash, VKT_MODEL_HASH_BYTES);
}

int vkt_fed_aggregator_tensor_count(const vkt_fed_aggregator *agg)
{
    return agg ? agg->count : 0;
}

vkt_status vkt_fed_aggregator_get_tensor(const vkt_fed_aggregator *agg, int index, vkt_update_tensor *out)
{
    if (!agg || !out || index < 0 || index >= agg->count)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_get_tensor: index %d out of range", index);
    const fed_tensor *t = &agg->tensors[index];
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->rank = t->rank;
    for (int d = 0; d < t->rank; d++)
        out->dims[d] = t->dims[d];
    out->values = t->values;
    return VKT_OK;
}

int fed_find_tensor(const vkt_fed_aggregator *agg, const char *name)
{
    for (int i = 0; i < agg->count; i++)
        if (strcmp(agg->tensors[i].name, name) == 0)
            return i;
    return -1;
}

const fed_version *fed_window_find(const vkt_fed_aggregator *agg, uint64_t version)
{
    for (int i = 0; i < agg->window_len; i++)
        if (agg->window[i].version == version)
            return &agg->window[i];
    return NULL;
}

vkt_status fed_model_hash(const vkt_fed_aggregator *agg, float *const *replace, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    vkt_update_tensor *t = calloc((size_t)agg->count, sizeof *t);
    if (!t)
        return rt_error(VKT_ERR_NO_MEMORY, "aggregator: out of memory");
    for (int i = 0; i < agg->count; i++) {
        vkt_fed_aggregator_get_tensor(agg, i, &t[i]);
        if (replace && replace[i])
            t[i].values = replace[i];
    }
    vkt_status st = vkt_model_hash(t, agg->count, out);
    free(t);
    return st;
}

void fed_window_push(vkt_fed_aggregator *agg, const uint8_t hash[VKT_MODEL_HASH_BYTES])
{
    int keep = agg->window_len < agg->window_cap ? agg->window_len : agg->window_cap - 1;
    memmove(&agg->window[1], &agg->window[0], (size_t)keep * sizeof *agg->window);
    agg->window[0].version = agg->version;
    memcpy(agg->window[0].hash, hash, VKT_MODEL_HASH_BYTES);
    agg->window_len = keep + 1;
}
