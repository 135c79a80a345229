/* vktrain — datasets and batch loading.
 *
 * Datasets are kept compactly (IDX images stay bytes) and converted to
 * float32 per batch. Every file read is untrusted: a truncated or
 * corrupt file gives VKT_ERR_FORMAT naming the problem. */
#ifndef VKTRAIN_DATA_H
#define VKTRAIN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkt_dataset vkt_dataset;
typedef struct vkt_loader vkt_loader;

/* IDX (MNIST format) image and label files, raw or gzip-compressed
 * (detected from the content). Pixels are scaled to [0, 1]. Images
 * become samples of shape [1, H, W]. */
vkt_status vkt_dataset_load_idx(const char *images_path, const char *labels_path, vkt_dataset **out);

/* Numeric CSV, one sample per line; `label_column` (0-based, negative
 * counts from the end) holds an integer class label, the other columns
 * are features. A first line that is not numeric is taken as a header. */
vkt_status vkt_dataset_load_csv(const char *path, int label_column, vkt_dataset **out);

void vkt_dataset_destroy(vkt_dataset *ds);
size_t vkt_dataset_count(const vkt_dataset *ds);
/* Per-sample feature shape; returns the rank. */
int vkt_dataset_sample_shape(const vkt_dataset *ds, int dims[4]);
size_t vkt_dataset_sample_numel(const vkt_dataset *ds);
/* 1 + the largest label. */
int vkt_dataset_num_classes(const vkt_dataset *ds);
int32_t vkt_dataset_label(const vkt_dataset *ds, size_t index);
/* A new dataset holding the samples whose label is in [lo, hi]. */
vkt_status vkt_dataset_filter_labels(const vkt_dataset *ds, int32_t lo, int32_t hi, vkt_dataset **out);
/* A new dataset holding samples indices[0..count) of ds, in that order
 * (an index may repeat): a client's share of a dataset, a test subset. */
vkt_status vkt_dataset_subset(const vkt_dataset *ds, const size_t *indices, size_t count, vkt_dataset **out);

/* Batches over a dataset. With shuffle, the order of epoch e is a
 * permutation drawn from (seed, e) alone, so a run can resume at any
 * (epoch, batch). Without shuffle, batches follow file order. The last
 * batch of an epoch may be partial. */
vkt_status vkt_loader_create(const vkt_dataset *ds, int batch_size, bool shuffle, uint64_t seed, vkt_loader **out);
void vkt_loader_destroy(vkt_loader *ld);
size_t vkt_loader_batches_per_epoch(const vkt_loader *ld);
/* Position the loader at batch `batch` of epoch `epoch`. */
vkt_status vkt_loader_seek(vkt_loader *ld, int64_t epoch, size_t batch);
/* Fill x (batch_size * sample_numel floats) and labels (batch_size) with
 * the next batch; *count gets its size, 0 at the end of the epoch (after
 * which the loader moves to the next epoch). */
vkt_status vkt_loader_next(vkt_loader *ld, float *x, int32_t *labels, int *count);
int64_t vkt_loader_epoch(const vkt_loader *ld);
size_t vkt_loader_batch_index(const vkt_loader *ld);

#ifdef __cplusplus
}
#endif
#endif
