/* Graph container: nodes, parameters, sticky build errors, queries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "runtime/rt_error.h"

vkt_status vkt_graph_create(uint64_t seed, vkt_graph **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_graph_create: out is NULL");
    vkt_graph *g = calloc(1, sizeof *g);
    if (!g)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a graph");
    g->seed = seed;
    g->rng = seed ^ 0x6a09e667f3bcc908ull;
    *out = g;
    return VKT_OK;
}

void vkt_graph_destroy(vkt_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->node_count; i++)
        free(g->nodes[i].name);
    for (int i = 0; i < g->param_count; i++) {
        free(g->params[i].name);
        free(g->params[i].data);
    }
    free(g->nodes);
    free(g->params);
    free(g);
}

vkt_status vkt_graph_status(const vkt_graph *g)
{
    return g ? g->error : VKT_ERR_INVALID_ARG;
}

vkt_tensor graph_fail(vkt_graph *g, vkt_status st, const char *fmt, ...)
{
    if (g && g->error == VKT_OK) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        g->error = st;
        rt_error(st, "%s", msg);
    }
    return VKT_NO_TENSOR;
}

bool graph_check(vkt_graph *g, vkt_tensor t, const char *op)
{
    if (!g)
        return false;
    if (g->error != VKT_OK)
        return false;
    if (t < 0 || t >= g->node_count) {
        graph_fail(g, VKT_ERR_INVALID_ARG, "%s: tensor id %d is not a tensor of this graph", op, t);
        return false;
    }
    return true;
}

size_t shape_numel(int rank, const int *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

/* Bounds that keep every size computation far from overflow. */
#define MAX_DIM (1 << 24)
#define MAX_NUMEL ((size_t)1 << 31)

vkt_tensor graph_add_node(vkt_graph *g, const node *n)
{
    if (g->error != VKT_OK)
        return VKT_NO_TENSOR;
    if (n->rank < 0 || n->rank > VKT_MAX_RANK)
        return graph_fail(g, VKT_ERR_SHAPE, "rank %d out of range", n->rank);
    for (int i = 0; i < n->rank; i++)
        if (n->dims[i] < 1 || n->dims[i] > MAX_DIM)
            return graph_fail(g, VKT_ERR_SHAPE, "dimension %d of a %d-d result is %d (must be 1..%d)", i,
                              n->rank, n->dims[i], MAX_DIM);
    size_t numel = 1;
    for (int i = 0; i < n->rank; i++) {
        numel *= (size_t)n->dims[i];
        if (numel > MAX_NUMEL)
            return graph_fail(g, VKT_ERR_SHAPE, "tensor too large (over %zu elements per sample)", MAX_NUMEL);
    }
    if (g->node_count == g->node_cap) {
        int cap = g->node_cap ? g->node_cap * 2 : 32;
        node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes)
            return graph_fail(g, VKT_ERR_NO_MEMORY, "out of memory adding a node");
        g->nodes = nodes;
        g->node_cap = cap;
    }
    node *dst = &g->nodes[g->node_count];
    *dst = *n;
    dst->numel = numel;
    dst->name = NULL;
    if (n->name) {
        dst->name = strdup(n->name);
        if (!dst->name)
            return graph_fail(g, VKT_ERR_NO_MEMORY, "out of memory adding a node");
    }
    return g->node_count++;
}

int graph_param_find(const vkt_graph *g, const char *name)
{
    for (int i = 0; i < g->param_count; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return i;
    return -1;
}

int graph_add_param(vkt_graph *g, const char *layer, const char *suffix, int rank, const int64_t *dims, bool is_state)
{
    if (g->error != VKT_OK)
        return -1;
    if (!layer || !layer[0]) {
        graph_fail(g, VKT_ERR_INVALID_ARG, "a layer with parameters needs a name");
        return -1;
    }
    char name[256];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", layer, suffix) >= sizeof name) {
        graph_fail(g, VKT_ERR_INVALID_ARG, "layer name '%s' too long", layer);
        return -1;
    }
    if (graph_param_find(g, name) >= 0) {
        graph_fail(g, VKT_ERR_INVALID_ARG, "parameter name '%s' used twice (layer names must be unique)", name);
        return -1;
    }
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > MAX_DIM) {
            graph_fail(g, VKT_ERR_SHAPE, "parameter '%s' has dimension %lld", name, (long long)dims[i]);
            return -1;
        }
        numel *= (size_t)dims[i];
        if (numel > MAX_NUMEL) {
            graph_fail(g, VKT_ERR_SHAPE, "parameter '%s' too large", name);
            return -1;
        }
    }
    if (g->param_count == g->param_cap) {
        int cap = g->param_cap ? g->param_cap * 2 : 16;
        param *ps = realloc(g->params, (size_t)cap * sizeof *ps);
        if (!ps) {
            graph_fail(g, VKT_ERR_NO_MEMORY, "out of memory adding a parameter");
            return -1;
        }
        g->params = ps;
        g->param_cap = cap;
    }
    param *p = &g->params[g->param_count];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->data = calloc(numel, sizeof(float));
    if (!p->name || !p->data) {
        free(p->name);
        free(p->data);
        graph_fail(g, VKT_ERR_NO_MEMORY, "out of memory for parameter '%s'", name);
        return -1;
    }
    p->rank = rank;
    for (int i = 0; i < rank; i++)
        p->dims[i] = dims[i];
    p->numel = numel;
    p->is_state = is_state;
    p->node = g->node_count; /* the node added next owns it */
    return g->param_count++;
}

const node *graph_node(const vkt_graph *g, int id)
{
    return (id >= 0 && id < g->node_count) ? &g->nodes[id] : NULL;
}

int vkt_tensor_shape(const vkt_graph *g, vkt_tensor t, int dims[VKT_MAX_RANK])
{
    if (!g || t < 0 || t >= g->node_count)
        return -1;
    const node *n = &g->nodes[t];
    for (int i = 0; i < n->rank; i++)
        dims[i] = n->dims[i];
    return n->rank;
}

int vkt_graph_param_count(const vkt_graph *g)
{
    return g ? g->param_count : 0;
}

vkt_status vkt_graph_param_info(const vkt_graph *g, int index, vkt_param_info *out)
{
    if (!g || !out || index < 0 || index >= g->param_count)
        return rt_error(VKT_ERR_INVALID_ARG, "parameter index %d out of range", index);
    const param *p = &g->params[index];
    out->name = p->name;
    out->rank = p->rank;
    for (int i = 0; i < VKT_MAX_RANK; i++)
        out->dims[i] = i < p->rank ? p->dims[i] : 0;
    out->numel = p->numel;
    out->is_state = p->is_state;
    out->is_adapter = p->is_adapter;
    return VKT_OK;
}

static vkt_status find_sized(const vkt_graph *g, const char *name, size_t count, int *index)
{
    if (!g || !name)
        return rt_error(VKT_ERR_INVALID_ARG, "graph or parameter name is NULL");
    int i = graph_param_find(g, name);
    if (i < 0)
        return rt_error(VKT_ERR_NOT_FOUND, "no parameter named '%s'", name);
    if (g->params[i].numel != count)
        return rt_error(VKT_ERR_SHAPE, "parameter '%s' has %zu elements, not %zu", name, g->params[i].numel, count);
    *index = i;
    return VKT_OK;
}

vkt_status vkt_graph_param_get(const vkt_graph *g, const char *name, float *dst, size_t count)
{
    int i = -1;
    vkt_status st = find_sized(g, name, count, &i);
    if (st == VKT_OK)
        memcpy(dst, g->params[i].data, count * sizeof(float));
    return st;
}

vkt_status vkt_graph_param_set(vkt_graph *g, const char *name, const float *src, size_t count)
{
    int i = -1;
    vkt_status st = find_sized(g, name, count, &i);
    if (st == VKT_OK)
        memcpy(g->params[i].data, src, count * sizeof(float));
    return st;
}

size_t vkt_graph_trainable_numel(const vkt_graph *g)
{
    size_t n = 0;
    for (int i = 0; g && i < g->param_count; i++)
        if (!g->params[i].is_state)
            n += g->params[i].numel;
    return n;
}
