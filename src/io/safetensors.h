/* safetensors reader and writer (the format of Hugging Face's
 * `safetensors`: u64 little-endian header length, a JSON header mapping
 * names to {dtype, shape, data_offsets} plus an optional "__metadata__"
 * string map, then the raw little-endian data).
 *
 * The reader treats the file as untrusted: header size bounded, JSON
 * parsed by jansson, every dtype/shape/offset checked (offsets in bounds,
 * size = numel * dtype size, no overlap, no duplicate names, data region
 * fully covered), errors name the offending tensor. */
#ifndef VKT_SAFETENSORS_H
#define VKT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/status.h>

#define ST_MAX_RANK 8
#define ST_MAX_HEADER_BYTES ((uint64_t)100 << 20)

typedef enum st_dtype {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_DTYPE_COUNT
} st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int rank;
    int64_t shape[ST_MAX_RANK];
    uint64_t numel;
    const uint8_t *data; /* points into the file's bytes */
    size_t nbytes;
} st_tensor;

typedef struct st_kv {
    char *key;
    char *value;
} st_kv;

typedef struct st_file {
    uint8_t *bytes; /* whole file */
    size_t size;
    st_tensor *tensors;
    int count;
    st_kv *meta;
    int meta_count;
} st_file;

vkt_status st_read(const char *path, st_file **out);
/* Parse from memory (takes a copy). */
vkt_status st_parse(const uint8_t *bytes, size_t size, st_file **out);
void st_free(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
/* Value of a metadata key, or NULL. */
const char *st_meta_get(const st_file *f, const char *key);

size_t st_dtype_size(st_dtype d);
const char *st_dtype_name(st_dtype d);

/* Convert a tensor to float32 (from F64/F32/F16/BF16/I64/I32/I16/I8/U8/
 * BOOL). count must equal t->numel. */
vkt_status st_tensor_to_f32(const st_tensor *t, float *dst, uint64_t count);

typedef struct st_entry {
    const char *name;
    st_dtype dtype; /* the dtype of `data`, written as is */
    int rank;
    const int64_t *shape;
    const void *data;
} st_entry;

/* Write atomically. Entries are stored in name order; metadata keys and
 * values are arbitrary strings. */
vkt_status st_write(const char *path, const st_entry *entries, int count, const st_kv *meta, int meta_count);

#endif
