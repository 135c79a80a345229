/* Batch loader: walks a dataset in batches, converting each batch to
 * float32 as it goes.
 *
 * With shuffle, epoch e visits the samples in a Fisher-Yates permutation
 * driven by a splitmix64 stream seeded from hash(seed, e). The order
 * depends on nothing else (not on the batch size, not on what happened
 * before), so training can resume at any (epoch, batch) exactly. */
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "runtime/rt_error.h"

struct vkt_loader {
    const vkt_dataset *ds;
    size_t batch_size;
    bool shuffle;
    uint64_t seed;
    int64_t epoch;
    size_t batch;        /* next batch to hand out in `epoch` */
    size_t *order;       /* shuffle: permutation for order_epoch */
    int64_t order_epoch; /* -1 when `order` is not filled yet */
};

static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Mix seed and epoch so nearby seeds or epochs give unrelated streams. */
static uint64_t epoch_stream_seed(uint64_t seed, int64_t epoch)
{
    uint64_t s = seed;
    uint64_t a = splitmix64_next(&s);
    uint64_t e = (uint64_t)epoch ^ a;
    return splitmix64_next(&e);
}

/* Uniform in [0, bound) without modulo bias: reject the few low draws
 * that would make some residues more likely. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = splitmix64_next(state);
        if (r >= threshold)
            return r % bound;
    }
}

static void fill_permutation(size_t *order, size_t n, uint64_t seed, int64_t epoch)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t state = epoch_stream_seed(seed, epoch);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)uniform_below(&state, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

static size_t sample_at(vkt_loader *ld, size_t position)
{
    if (!ld->shuffle)
        return position;
    if (ld->order_epoch != ld->epoch) {
        fill_permutation(ld->order, ld->ds->count, ld->seed, ld->epoch);
        ld->order_epoch = ld->epoch;
    }
    return ld->order[position];
}

vkt_status vkt_loader_create(const vkt_dataset *ds, int batch_size, bool shuffle, uint64_t seed, vkt_loader **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_create: no output pointer");
    *out = NULL;
    if (!ds)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_create: no dataset");
    if (ds->count == 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_create: the dataset is empty");
    if (batch_size <= 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_create: batch size %d must be positive", batch_size);

    vkt_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_loader_create: out of memory");
    ld->ds = ds;
    ld->batch_size = (size_t)batch_size;
    ld->shuffle = shuffle;
    ld->seed = seed;
    ld->order_epoch = -1;
    if (shuffle) {
        ld->order = ds->count <= SIZE_MAX / sizeof *ld->order ? malloc(ds->count * sizeof *ld->order) : NULL;
        if (!ld->order) {
            free(ld);
            return rt_error(VKT_ERR_NO_MEMORY, "vkt_loader_create: out of memory for %zu indices", ds->count);
        }
    }
    *out = ld;
    return VKT_OK;
}

void vkt_loader_destroy(vkt_loader *ld)
{
    if (!ld)
        return;
    free(ld->order);
    free(ld);
}

size_t vkt_loader_batches_per_epoch(const vkt_loader *ld)
{
    if (!ld)
        return 0;
    return ld->ds->count / ld->batch_size + (ld->ds->count % ld->batch_size != 0);
}

vkt_status vkt_loader_seek(vkt_loader *ld, int64_t epoch, size_t batch)
{
    if (!ld)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_seek: no loader");
    if (epoch < 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_seek: negative epoch %lld", (long long)epoch);
    size_t batches = vkt_loader_batches_per_epoch(ld);
    if (batch > batches)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_seek: batch %zu is past the %zu batches of an epoch", batch,
                        batches);
    ld->epoch = epoch;
    ld->batch = batch;
    return VKT_OK;
}

vkt_status vkt_loader_next(vkt_loader *ld, float *x, int32_t *labels, int *count)
{
    if (count)
        *count = 0;
    if (!ld || !x || !labels || !count)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_loader_next: missing loader or output buffer");

    size_t n = ld->ds->count;
    size_t first = ld->batch * ld->batch_size;
    if (first >= n) {
        if (ld->epoch == INT64_MAX)
            return rt_error(VKT_ERR_STATE, "vkt_loader_next: epoch counter exhausted");
        ld->epoch++;
        ld->batch = 0;
        return VKT_OK;
    }

    size_t take = n - first < ld->batch_size ? n - first : ld->batch_size;
    size_t numel = ld->ds->sample_numel;
    for (size_t i = 0; i < take; i++) {
        size_t s = sample_at(ld, first + i);
        ds_sample_to_f32(ld->ds, s, x + i * numel);
        labels[i] = ld->ds->labels[s];
    }
    ld->batch++;
    *count = (int)take;
    return VKT_OK;
}

int64_t vkt_loader_epoch(const vkt_loader *ld)
{
    return ld ? ld->epoch : 0;
}

size_t vkt_loader_batch_index(const vkt_loader *ld)
{
    return ld ? ld->batch : 0;
}
