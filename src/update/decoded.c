/* Accessors of a decoded update (vkt_update). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "payload.h"
#include "runtime/rt_error.h"

void vkt_update_destroy(vkt_update *u)
{
    if (!u)
        return;
    for (int i = 0; u->tensors && i < u->count; i++)
        free(u->tensors[i].name);
    free(u->tensors);
    if (u->storage)
        sodium_memzero(u->storage, (size_t)u->info.elements * sizeof(float));
    free(u->storage);
    free(u);
}

void vkt_update_get_info(const vkt_update *u, vkt_update_info *out)
{
    if (out)
        *out = u ? u->info : (vkt_update_info){0};
}

int vkt_update_tensor_count(const vkt_update *u)
{
    return u ? u->count : 0;
}

static void fill(const upd_tensor *t, vkt_update_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->rank = t->rank;
    for (int d = 0; d < t->rank; d++)
        out->dims[d] = t->dims[d];
    out->values = t->values;
}

vkt_status vkt_update_get_tensor(const vkt_update *u, int index, vkt_update_tensor *out)
{
    if (!u || !out || index < 0 || index >= u->count)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_get_tensor: index %d out of range", index);
    fill(&u->tensors[index], out);
    return VKT_OK;
}

vkt_status vkt_update_find_tensor(const vkt_update *u, const char *name, vkt_update_tensor *out)
{
    if (!u || !name || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_find_tensor: NULL argument");
    int lo = 0, hi = u->count; /* tensors are in strictly increasing name order */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(u->tensors[mid].name, name);
        if (c == 0) {
            fill(&u->tensors[mid], out);
            return VKT_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return rt_error(VKT_ERR_NOT_FOUND, "the update has no tensor named '%s'", name);
}
