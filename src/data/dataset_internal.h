/* The in-memory dataset shared by the IDX and CSV readers, the label
 * filter and the batch loader. Samples stay in their compact file form
 * (bytes for images) and are converted to float32 one batch at a time. */
#ifndef VKT_DATASET_INTERNAL_H
#define VKT_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/data.h>

#define DS_MAX_RANK 4
/* Largest class label accepted from any file (keeps num_classes sane). */
#define DS_MAX_LABEL ((1 << 24) - 1)
#define DS_MAX_LABEL_TEXT "16777215"

typedef enum ds_storage {
    DS_STORAGE_U8,  /* pixels; become value / 255 */
    DS_STORAGE_F32, /* features, used as is */
} ds_storage;

struct vkt_dataset {
    size_t count;        /* samples */
    int rank;            /* of one sample */
    int dims[DS_MAX_RANK];
    size_t sample_numel; /* product of dims */
    ds_storage storage;
    uint8_t *pixels;     /* count * sample_numel, DS_STORAGE_U8 */
    float *features;     /* count * sample_numel, DS_STORAGE_F32 */
    int32_t *labels;     /* count, each in [0, DS_MAX_LABEL] */
    int num_classes;     /* 1 + the largest label, 0 when empty */
};

/* An empty dataset of the given storage and sample shape, with room for
 * `count` samples and labels. */
vkt_status ds_create(ds_storage storage, size_t count, int rank, const int *dims, vkt_dataset **out);

/* Set num_classes from the labels. */
void ds_update_num_classes(vkt_dataset *ds);

/* Write sample `index` as sample_numel floats. */
void ds_sample_to_f32(const vkt_dataset *ds, size_t index, float *dst);

#endif
