/* Validation and name ordering of caller-supplied tensor lists. */
#include "tensors.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "payload.h"
#include "runtime/rt_error.h"

vkt_status upd_tensor_check(const vkt_update_tensor *t, const char *what, int index, uint32_t *numel)
{
    if (!t->name || !upd_name_valid(t->name, strlen(t->name)))
        return rt_error(VKT_ERR_INVALID_ARG,
                        "%s %d: name must be 1..%d bytes of printable ASCII without spaces", what, index,
                        UPD_MAX_NAME);
    if (t->rank < 0 || t->rank > VKT_MAX_RANK)
        return rt_error(VKT_ERR_INVALID_ARG, "%s '%s': rank %d outside 0..%d", what, t->name, t->rank, VKT_MAX_RANK);
    uint64_t n = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 1 || t->dims[d] > (int64_t)UPD_MAX_NUMEL)
            return rt_error(VKT_ERR_INVALID_ARG, "%s '%s': dimension %d is %lld", what, t->name, d,
                            (long long)t->dims[d]);
        n *= (uint64_t)t->dims[d];
        if (n > UPD_MAX_NUMEL)
            return rt_error(VKT_ERR_INVALID_ARG, "%s '%s': more than %u elements", what, t->name, UPD_MAX_NUMEL);
    }
    if (!t->values)
        return rt_error(VKT_ERR_INVALID_ARG, "%s '%s': no values", what, t->name);
    *numel = (uint32_t)n;
    return VKT_OK;
}

typedef struct named_index {
    const char *name;
    int index;
} named_index;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named_index *)a)->name, ((const named_index *)b)->name);
}

vkt_status upd_sort_by_name(const vkt_update_tensor *t, int count, int *order)
{
    named_index *tmp = malloc((size_t)(count > 0 ? count : 1) * sizeof *tmp);
    if (!tmp)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory sorting %d tensors", count);
    for (int i = 0; i < count; i++)
        tmp[i] = (named_index){t[i].name, i};
    qsort(tmp, (size_t)count, sizeof *tmp, by_name);
    vkt_status st = VKT_OK;
    for (int i = 0; i < count; i++) {
        order[i] = tmp[i].index;
        if (i > 0 && strcmp(tmp[i - 1].name, tmp[i].name) == 0 && st == VKT_OK)
            st = rt_error(VKT_ERR_INVALID_ARG, "tensor name '%s' appears twice", tmp[i].name);
    }
    free(tmp);
    return st;
}

vkt_status upd_sodium_init(void)
{
    if (sodium_init() < 0)
        return rt_error(VKT_ERR_UNSUPPORTED, "libsodium failed to initialise");
    return VKT_OK;
}
