/* vkt_dataset_subset: a dataset made of chosen samples of another, e.g.
 * one federated client's share. */
#include <string.h>

#include "dataset_internal.h"
#include "runtime/rt_error.h"

vkt_status vkt_dataset_subset(const vkt_dataset *ds, const size_t *indices, size_t count, vkt_dataset **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_subset: no output pointer");
    *out = NULL;
    if (!ds || (!indices && count > 0))
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_subset: no dataset or no indices");
    for (size_t i = 0; i < count; i++)
        if (indices[i] >= ds->count)
            return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_subset: index %zu is past the %zu samples", indices[i],
                            ds->count);

    vkt_dataset *sub;
    vkt_status st = ds_create(ds->storage, count, ds->rank, ds->dims, &sub);
    if (st != VKT_OK)
        return st;
    size_t n = ds->sample_numel;
    for (size_t i = 0; i < count; i++) {
        size_t from = indices[i];
        if (ds->storage == DS_STORAGE_U8)
            memcpy(sub->pixels + i * n, ds->pixels + from * n, n);
        else
            memcpy(sub->features + i * n, ds->features + from * n, n * sizeof(float));
        sub->labels[i] = ds->labels[from];
    }
    ds_update_num_classes(sub);
    *out = sub;
    return VKT_OK;
}
