/* Graph weights <-> safetensors with PyTorch's names and layouts.
 * Loading validates and converts everything into scratch memory first
 * and only then overwrites the graph, so a bad file changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/weights.h>

#include "../graph/graph_internal.h"
#include "runtime/rt_error.h"
#include "safetensors.h"
#include "weights_internal.h"

static bool shape_matches(const param *p, const st_tensor *t)
{
    if (t->rank != p->rank)
        return false;
    for (int i = 0; i < p->rank; i++)
        if (t->shape[i] != p->dims[i])
            return false;
    return true;
}

static void shape_text(int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %lld" : "%lld", (long long)dims[i]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
}

vkt_status weights_read_params(const vkt_graph *g, const st_file *f, const char *path, float **values)
{
    for (int i = 0; i < g->param_count; i++)
        values[i] = NULL;
    for (int i = 0; i < g->param_count; i++) {
        const param *p = &g->params[i];
        const st_tensor *t = st_find(f, p->name);
        if (!t && p->is_adapter)
            continue; /* keeps its value: values[i] stays NULL */
        if (!t)
            return rt_error(VKT_ERR_NOT_FOUND, "%s: no tensor '%s' (the model needs it)", path, p->name);
        if (!shape_matches(p, t)) {
            char want[96], got[96];
            int64_t tdims[ST_MAX_RANK];
            for (int k = 0; k < t->rank; k++)
                tdims[k] = t->shape[k];
            shape_text(p->rank, p->dims, want, sizeof want);
            shape_text(t->rank, tdims, got, sizeof got);
            return rt_error(VKT_ERR_SHAPE, "%s: tensor '%s' has shape %s, the model expects %s", path, p->name, got,
                            want);
        }
        values[i] = malloc(p->numel * sizeof(float));
        if (!values[i])
            return rt_error(VKT_ERR_NO_MEMORY, "out of memory loading '%s'", p->name);
        vkt_status st = st_tensor_to_f32(t, values[i], p->numel);
        if (st != VKT_OK)
            return rt_error(st, "%s: tensor '%s': %s", path, p->name, rt_error_message());
    }
    return VKT_OK;
}

void weights_free_values(const vkt_graph *g, float **values)
{
    for (int i = 0; i < g->param_count; i++)
        free(values[i]);
    free(values);
}

vkt_status vkt_graph_load_safetensors(vkt_graph *g, const char *path, bool allow_extra)
{
    if (!g || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "graph and path are required");
    st_file *f;
    vkt_status st = st_read(path, &f);
    if (st != VKT_OK)
        return st;
    float **values = calloc((size_t)g->param_count + 1, sizeof *values);
    if (!values) {
        st_free(f);
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory loading %s", path);
    }
    st = weights_read_params(g, f, path, values);
    for (int k = 0; st == VKT_OK && !allow_extra && k < f->count; k++)
        if (graph_param_find(g, f->tensors[k].name) < 0)
            st = rt_error(VKT_ERR_FORMAT, "%s: tensor '%s' is not a parameter of this model", path,
                          f->tensors[k].name);
    if (st == VKT_OK)
        for (int i = 0; i < g->param_count; i++)
            if (values[i])
                memcpy(g->params[i].data, values[i], g->params[i].numel * sizeof(float));
    weights_free_values(g, values);
    st_free(f);
    return st;
}

vkt_status weights_entries(const vkt_graph *g, st_entry *entries, int64_t *counters)
{
    for (int i = 0; i < g->param_count; i++) {
        const param *p = &g->params[i];
        entries[i] = (st_entry){p->name, ST_F32, p->rank, p->dims, p->data};
        if (p->is_counter) {
            counters[i] = (int64_t)p->data[0];
            entries[i].dtype = ST_I64;
            entries[i].data = &counters[i];
        }
    }
    return VKT_OK;
}

vkt_status vkt_graph_save_safetensors(const vkt_graph *g, const char *path)
{
    if (!g || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "graph and path are required");
    st_entry *entries = calloc((size_t)g->param_count + 1, sizeof *entries);
    int64_t *counters = calloc((size_t)g->param_count + 1, sizeof *counters);
    vkt_status st = VKT_OK;
    if (!entries || !counters)
        st = rt_error(VKT_ERR_NO_MEMORY, "out of memory saving %s", path);
    if (st == VKT_OK)
        st = weights_entries(g, entries, counters);
    if (st == VKT_OK) {
        st_kv meta[1] = {{(char *)"format", (char *)"pt"}};
        st = st_write(path, entries, g->param_count, meta, 1);
    }
    free(entries);
    free(counters);
    return st;
}

/* W + s * B A of an adapted layer, in double to keep the merge exact to
 * float rounding. */
static float *merged_weight(const vkt_graph *g, const node *n)
{
    const param *w = &g->params[n->params[0]], *a = &g->params[n->lora_a], *b = &g->params[n->lora_b];
    size_t out = (size_t)w->dims[0], in = w->numel / out, r = (size_t)n->lora_rank;
    float *m = malloc(w->numel * sizeof *m);
    if (!m)
        return NULL;
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++) {
            double acc = 0.0;
            for (size_t k = 0; k < r; k++)
                acc += (double)b->data[o * r + k] * a->data[k * in + i];
            m[o * in + i] = (float)(w->data[o * in + i] + n->lora_scale * acc);
        }
    return m;
}

vkt_status vkt_graph_save_merged_safetensors(const vkt_graph *g, const char *path)
{
    if (!g || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "graph and path are required");
    size_t np = (size_t)g->param_count + 1;
    st_entry *all = calloc(np, sizeof *all), *kept = calloc(np, sizeof *kept);
    int64_t *counters = calloc(np, sizeof *counters);
    float **merged = calloc(np, sizeof *merged);
    vkt_status st = VKT_OK;
    if (!all || !kept || !counters || !merged)
        st = rt_error(VKT_ERR_NO_MEMORY, "out of memory saving %s", path);
    if (st == VKT_OK)
        st = weights_entries(g, all, counters);
    for (int id = 0; st == VKT_OK && id < g->node_count; id++) {
        const node *n = &g->nodes[id];
        if (!n->lora_rank)
            continue;
        int w = n->params[0];
        merged[w] = merged_weight(g, n);
        if (!merged[w])
            st = rt_error(VKT_ERR_NO_MEMORY, "out of memory merging adapters for %s", path);
        else
            all[w].data = merged[w];
    }
    int count = 0;
    for (int i = 0; st == VKT_OK && i < g->param_count; i++)
        if (!g->params[i].is_adapter)
            kept[count++] = all[i];
    if (st == VKT_OK) {
        st_kv meta[1] = {{(char *)"format", (char *)"pt"}};
        st = st_write(path, kept, count, meta, 1);
    }
    for (int i = 0; merged && i < g->param_count; i++)
        free(merged[i]);
    free(merged);
    free(all);
    free(kept);
    free(counters);
    return st;
}
