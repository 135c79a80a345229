/* Updates from graphs, through the public graph API only: a snapshot of
 * the base model (vkt_update_base), the model hash of a graph, and the
 * update of a trained graph against a snapshot. */
#include <stdlib.h>
#include <string.h>

#include "encoder_internal.h"
#include "runtime/rt_error.h"

struct vkt_update_base {
    int count;
    vkt_update_tensor *tensors; /* names and values owned */
    uint8_t hash[VKT_MODEL_HASH_BYTES];
};

void vkt_update_base_destroy(vkt_update_base *base)
{
    if (!base)
        return;
    for (int i = 0; base->tensors && i < base->count; i++) {
        free((char *)base->tensors[i].name);
        free((float *)base->tensors[i].values);
    }
    free(base->tensors);
    free(base);
}

static vkt_status copy_param(const vkt_graph *g, int index, vkt_update_tensor *t)
{
    vkt_param_info info;
    vkt_status st = vkt_graph_param_info(g, index, &info);
    if (st != VKT_OK)
        return st;
    t->name = strdup(info.name);
    float *values = malloc((info.numel ? info.numel : 1) * sizeof(float));
    t->values = values;
    if (!t->name || !values)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_base_create: out of memory");
    t->rank = info.rank;
    for (int d = 0; d < info.rank; d++)
        t->dims[d] = info.dims[d];
    return vkt_graph_param_get(g, info.name, values, info.numel);
}

vkt_status vkt_update_base_create(const vkt_graph *g, vkt_update_base **out)
{
    if (out)
        *out = NULL;
    if (!g || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_base_create: NULL argument");
    int count = vkt_graph_param_count(g);
    if (count < 1)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_base_create: the graph has no parameters");
    vkt_update_base *b = calloc(1, sizeof *b);
    if (!b || !(b->tensors = calloc((size_t)count, sizeof *b->tensors))) {
        free(b);
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_base_create: out of memory");
    }
    b->count = count;
    vkt_status st = VKT_OK;
    for (int i = 0; i < count && st == VKT_OK; i++)
        st = copy_param(g, i, &b->tensors[i]);
    if (st == VKT_OK)
        st = vkt_model_hash(b->tensors, count, b->hash);
    if (st != VKT_OK) {
        vkt_update_base_destroy(b);
        return st;
    }
    *out = b;
    return VKT_OK;
}

void vkt_update_base_hash(const vkt_update_base *base, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    if (base && out)
        memcpy(out, base->hash, VKT_MODEL_HASH_BYTES);
}

vkt_status vkt_graph_model_hash(const vkt_graph *g, uint8_t out[VKT_MODEL_HASH_BYTES])
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_graph_model_hash: no output");
    vkt_update_base *b;
    vkt_status st = vkt_update_base_create(g, &b);
    if (st == VKT_OK)
        vkt_update_base_hash(b, out);
    vkt_update_base_destroy(b);
    return st;
}

static const vkt_update_tensor *base_find(const vkt_update_base *b, const char *name)
{
    for (int i = 0; i < b->count; i++)
        if (strcmp(b->tensors[i].name, name) == 0)
            return &b->tensors[i];
    return NULL;
}

/* The names to send: the caller's, or every parameter of the trained
 * graph that is not a state buffer. */
static vkt_status select_names(const vkt_graph *g, const char *const *names, int name_count,
                               const char ***out, int *count)
{
    int cap = names ? name_count : vkt_graph_param_count(g);
    const char **sel = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *sel);
    if (!sel)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encode_graph: out of memory");
    int n = 0;
    for (int i = 0; i < cap; i++) {
        vkt_param_info info;
        if (names)
            sel[n++] = names[i];
        else if (vkt_graph_param_info(g, i, &info) == VKT_OK && !info.is_state)
            sel[n++] = info.name;
    }
    *out = sel;
    *count = n;
    return VKT_OK;
}

static vkt_status trained_param(const vkt_graph *g, const vkt_update_tensor *base, vkt_update_tensor *t)
{
    *t = *base;
    t->values = NULL;
    size_t numel = 1;
    for (int d = 0; d < base->rank; d++)
        numel *= (size_t)base->dims[d];
    float *values = malloc(numel * sizeof(float));
    if (!values)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encode_graph: out of memory");
    t->values = values;
    /* Same element count as the base; a differing shape with equal count
     * is caught by comparing the graph's info below. */
    vkt_status st = vkt_graph_param_get(g, base->name, values, numel);
    for (int i = 0; st == VKT_OK && i < vkt_graph_param_count(g); i++) {
        vkt_param_info info;
        if (vkt_graph_param_info(g, i, &info) != VKT_OK || strcmp(info.name, base->name) != 0)
            continue;
        bool same = info.rank == base->rank;
        for (int d = 0; same && d < info.rank; d++)
            same = info.dims[d] == base->dims[d];
        if (!same)
            st = rt_error(VKT_ERR_SHAPE, "parameter '%s' has another shape than in the base model", base->name);
        break;
    }
    return st;
}

vkt_status vkt_update_encode_graph(vkt_update_encoder *enc, const vkt_update_round *round,
                                   const vkt_update_base *base, const vkt_graph *trained, const char *const *names,
                                   int name_count, uint8_t **packet, size_t *size)
{
    if (packet)
        *packet = NULL;
    if (!enc || !round || !base || !trained || !packet || !size || (names && name_count < 1))
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode_graph: NULL argument or empty name list");
    const char **sel = NULL;
    int n = 0;
    vkt_status st = select_names(trained, names, name_count, &sel, &n);
    if (st != VKT_OK)
        return st;
    vkt_update_tensor *b = calloc((size_t)(n ? n : 1), sizeof *b);
    vkt_update_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
    if (!b || !t)
        st = rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encode_graph: out of memory");
    if (st == VKT_OK && n == 0)
        st = rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode_graph: nothing to send");
    for (int i = 0; st == VKT_OK && i < n; i++) {
        const vkt_update_tensor *bt = sel[i] ? base_find(base, sel[i]) : NULL;
        if (!bt)
            st = rt_error(VKT_ERR_NOT_FOUND, "vkt_update_encode_graph: the base model has no parameter '%s'",
                          sel[i] ? sel[i] : "(null)");
        else
            b[i] = *bt, st = trained_param(trained, bt, &t[i]);
    }
    if (st == VKT_OK)
        st = upd_encode(enc, round, base->hash, b, t, n, packet, size);
    for (int i = 0; t && i < n; i++)
        free((float *)t[i].values);
    free(b);
    free(t);
    free(sel);
    return st;
}
