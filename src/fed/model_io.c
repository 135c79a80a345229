/* The global model out of the aggregator: into a graph, or as a
 * safetensors file written atomically (st_write), which
 * vkt_graph_load_safetensors reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed_internal.h"
#include "runtime/rt_error.h"
#include "src/io/safetensors.h"

static vkt_status check_graph_param(const vkt_graph *g, const fed_tensor *t)
{
    for (int i = 0; i < vkt_graph_param_count(g); i++) {
        vkt_param_info info;
        if (vkt_graph_param_info(g, i, &info) != VKT_OK || strcmp(info.name, t->name) != 0)
            continue;
        bool same = info.rank == t->rank;
        for (int d = 0; same && d < t->rank; d++)
            same = info.dims[d] == t->dims[d];
        if (!same)
            return rt_error(VKT_ERR_SHAPE, "the graph's parameter '%s' has another shape than the aggregator's",
                            t->name);
        return VKT_OK;
    }
    return rt_error(VKT_ERR_NOT_FOUND, "the graph has no parameter '%s'", t->name);
}

vkt_status vkt_fed_aggregator_copy_to_graph(const vkt_fed_aggregator *agg, vkt_graph *g)
{
    if (!agg || !g)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_copy_to_graph: NULL argument");
    for (int i = 0; i < agg->count; i++) {
        vkt_status st = check_graph_param(g, &agg->tensors[i]);
        if (st != VKT_OK)
            return st;
    }
    for (int i = 0; i < agg->count; i++) {
        const fed_tensor *t = &agg->tensors[i];
        vkt_status st = vkt_graph_param_set(g, t->name, t->values, t->numel);
        if (st != VKT_OK)
            return st; /* cannot happen after the checks above */
    }
    return VKT_OK;
}

vkt_status vkt_fed_aggregator_save(const vkt_fed_aggregator *agg, const char *path)
{
    if (!agg || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_aggregator_save: NULL argument");
    st_entry *entries = calloc((size_t)agg->count, sizeof *entries);
    if (!entries)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory saving %s", path);
    for (int i = 0; i < agg->count; i++) {
        const fed_tensor *t = &agg->tensors[i];
        entries[i] = (st_entry){t->name, ST_F32, t->rank, t->dims, t->values};
    }
    char version[24];
    snprintf(version, sizeof version, "%llu", (unsigned long long)agg->version);
    st_kv meta[2] = {{(char *)"format", (char *)"pt"}, {(char *)"vktrain.fed.version", version}};
    vkt_status st = st_write(path, entries, agg->count, meta, 2);
    free(entries);
    return st;
}
