/* Dataset object: allocation, accessors, per-sample float conversion and
 * the label filter. The file readers live in idx.c and csv.c. */
#include "dataset_internal.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/rt_error.h"

static size_t storage_elem_size(ds_storage storage)
{
    return storage == DS_STORAGE_U8 ? sizeof(uint8_t) : sizeof(float);
}

/* Product of the dims, or 0 when one is not positive or it overflows. */
static size_t shape_numel(int rank, const int *dims)
{
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] <= 0 || numel > SIZE_MAX / (size_t)dims[i])
            return 0;
        numel *= (size_t)dims[i];
    }
    return numel;
}

vkt_status ds_create(ds_storage storage, size_t count, int rank, const int *dims, vkt_dataset **out)
{
    *out = NULL;
    if (rank < 1 || rank > DS_MAX_RANK || !dims)
        return rt_error(VKT_ERR_INVALID_ARG, "dataset: sample rank %d is not in 1..%d", rank, DS_MAX_RANK);
    size_t numel = shape_numel(rank, dims);
    size_t elem = storage_elem_size(storage);
    if (numel == 0 || (count > 0 && numel > SIZE_MAX / elem / count) || count > SIZE_MAX / sizeof(int32_t))
        return rt_error(VKT_ERR_INVALID_ARG, "dataset: %zu samples of that shape do not fit in memory", count);

    vkt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return rt_error(VKT_ERR_NO_MEMORY, "dataset: out of memory");
    ds->count = count;
    ds->rank = rank;
    memcpy(ds->dims, dims, (size_t)rank * sizeof *dims);
    ds->sample_numel = numel;
    ds->storage = storage;

    if (count > 0) {
        void *samples = malloc(count * numel * elem);
        ds->labels = malloc(count * sizeof *ds->labels);
        if (storage == DS_STORAGE_U8)
            ds->pixels = samples;
        else
            ds->features = samples;
        if (!samples || !ds->labels) {
            vkt_dataset_destroy(ds);
            return rt_error(VKT_ERR_NO_MEMORY, "dataset: out of memory for %zu samples", count);
        }
    }
    *out = ds;
    return VKT_OK;
}

void ds_update_num_classes(vkt_dataset *ds)
{
    int32_t largest = -1;
    for (size_t i = 0; i < ds->count; i++)
        if (ds->labels[i] > largest)
            largest = ds->labels[i];
    ds->num_classes = (int)largest + 1;
}

void ds_sample_to_f32(const vkt_dataset *ds, size_t index, float *dst)
{
    size_t n = ds->sample_numel;
    if (ds->storage == DS_STORAGE_U8) {
        const uint8_t *src = ds->pixels + index * n;
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)src[i] / 255.0f;
    } else {
        memcpy(dst, ds->features + index * n, n * sizeof *dst);
    }
}

void vkt_dataset_destroy(vkt_dataset *ds)
{
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->features);
    free(ds->labels);
    free(ds);
}

size_t vkt_dataset_count(const vkt_dataset *ds)
{
    return ds ? ds->count : 0;
}

int vkt_dataset_sample_shape(const vkt_dataset *ds, int dims[4])
{
    if (!ds || !dims)
        return 0;
    for (int i = 0; i < DS_MAX_RANK; i++)
        dims[i] = i < ds->rank ? ds->dims[i] : 0;
    return ds->rank;
}

size_t vkt_dataset_sample_numel(const vkt_dataset *ds)
{
    return ds ? ds->sample_numel : 0;
}

int vkt_dataset_num_classes(const vkt_dataset *ds)
{
    return ds ? ds->num_classes : 0;
}

/* -1 for an index out of range. */
int32_t vkt_dataset_label(const vkt_dataset *ds, size_t index)
{
    return ds && index < ds->count ? ds->labels[index] : -1;
}

static void copy_sample(vkt_dataset *dst, size_t to, const vkt_dataset *src, size_t from)
{
    size_t n = src->sample_numel;
    if (src->storage == DS_STORAGE_U8)
        memcpy(dst->pixels + to * n, src->pixels + from * n, n);
    else
        memcpy(dst->features + to * n, src->features + from * n, n * sizeof(float));
    dst->labels[to] = src->labels[from];
}

vkt_status vkt_dataset_filter_labels(const vkt_dataset *ds, int32_t lo, int32_t hi, vkt_dataset **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_filter_labels: no output pointer");
    *out = NULL;
    if (!ds)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_filter_labels: no dataset");
    if (lo > hi)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_filter_labels: empty label range [%d, %d]", (int)lo, (int)hi);

    size_t kept = 0;
    for (size_t i = 0; i < ds->count; i++)
        if (ds->labels[i] >= lo && ds->labels[i] <= hi)
            kept++;

    vkt_dataset *sub;
    vkt_status st = ds_create(ds->storage, kept, ds->rank, ds->dims, &sub);
    if (st != VKT_OK)
        return st;
    size_t to = 0;
    for (size_t i = 0; i < ds->count; i++)
        if (ds->labels[i] >= lo && ds->labels[i] <= hi)
            copy_sample(sub, to++, ds, i);
    ds_update_num_classes(sub);
    *out = sub;
    return VKT_OK;
}
