/* IDX reader (the MNIST / Fashion-MNIST format): a big-endian header of
 * magic and dimensions, then unsigned bytes. Files are read through
 * zlib's gz* interface, which recognises the gzip magic (1f 8b) and reads
 * plain files as they are, so .gz and raw files take the same path.
 *
 * The header is untrusted, and for gzip the decompressed size is unknown
 * up front, so buffers grow as data actually arrives instead of trusting
 * the promised size; a file that ends early or runs on past its promise
 * is a format error. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "dataset_internal.h"
#include "runtime/rt_error.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned bytes, 1 dimension */
#define GZ_BUFFER_BYTES (128u << 10)
#define READ_CHUNK_BYTES (16u << 20)
#define FIRST_ALLOC_BYTES (4u << 20)

/* Map a failed gzread to a status with a message naming the file. */
static vkt_status gz_failure(gzFile gz, const char *path)
{
    int code = Z_OK;
    const char *msg = gzerror(gz, &code);
    switch (code) {
    case Z_ERRNO:
        return rt_error(VKT_ERR_IO, "reading '%s' failed: %s", path, strerror(errno));
    case Z_MEM_ERROR:
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory decompressing", path);
    case Z_BUF_ERROR:
        return rt_error(VKT_ERR_FORMAT, "'%s': compressed data is truncated", path);
    default:
        return rt_error(VKT_ERR_FORMAT, "'%s': corrupt compressed data (%s)", path, msg);
    }
}

/* Read up to n bytes; *got says how many arrived before end of file. */
static vkt_status read_some(gzFile gz, const char *path, uint8_t *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > READ_CHUNK_BYTES)
            want = READ_CHUNK_BYTES;
        int r = gzread(gz, dst + *got, (unsigned)want);
        if (r < 0)
            return gz_failure(gz, path);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    /* gzread can hand over the data it had and report a truncated stream
     * only on the next call; catch that here. */
    int code = Z_OK;
    gzerror(gz, &code);
    if (code != Z_OK && code != Z_STREAM_END)
        return gz_failure(gz, path);
    return VKT_OK;
}

static vkt_status read_exact(gzFile gz, const char *path, uint8_t *dst, size_t n, const char *what)
{
    size_t got;
    vkt_status st = read_some(gz, path, dst, n, &got);
    if (st == VKT_OK && got != n)
        st = rt_error(VKT_ERR_FORMAT, "'%s': truncated %s (%zu of %zu bytes)", path, what, got, n);
    return st;
}

/* Read exactly n bytes into a new buffer that grows with the data, so a
 * lying header cannot make us allocate more than the file holds. */
static vkt_status read_payload(gzFile gz, const char *path, size_t n, const char *what, uint8_t **out)
{
    *out = NULL;
    size_t cap = n < FIRST_ALLOC_BYTES ? n : FIRST_ALLOC_BYTES;
    uint8_t *buf = malloc(cap ? cap : 1);
    size_t have = 0;
    while (buf) {
        size_t got;
        vkt_status st = read_some(gz, path, buf + have, cap - have, &got);
        have += got;
        if (st == VKT_OK && have < cap)
            st = rt_error(VKT_ERR_FORMAT, "'%s': truncated %s (%zu of %zu bytes)", path, what, have, n);
        if (st != VKT_OK) {
            free(buf);
            return st;
        }
        if (have == n) {
            *out = buf;
            return VKT_OK;
        }
        cap = cap > n / 2 ? n : cap * 2;
        uint8_t *bigger = realloc(buf, cap);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory for %zu bytes of %s", path, n, what);
}

/* Anything after the promised data is an error: it means the header and
 * the file disagree. Reading on also makes zlib verify the gzip CRC. */
static vkt_status expect_end(gzFile gz, const char *path)
{
    uint8_t extra;
    size_t got;
    vkt_status st = read_some(gz, path, &extra, 1, &got);
    if (st == VKT_OK && got != 0)
        st = rt_error(VKT_ERR_FORMAT, "'%s': unexpected data after the last item", path);
    return st;
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Magic number and `ndims` dimensions, each in 1..INT_MAX. */
static vkt_status read_header(gzFile gz, const char *path, uint32_t magic, int ndims, int *dims)
{
    /* The magic first, so a wrong kind of file is named as such even
     * when it is too short for the header we expected. */
    uint8_t header[4 * 3];
    vkt_status st = read_exact(gz, path, header, 4, "header");
    if (st != VKT_OK)
        return st;
    uint32_t found = load_be32(header);
    if (found != magic)
        return rt_error(VKT_ERR_FORMAT, "'%s': magic number 0x%08x, expected 0x%08x for IDX %s", path,
                        (unsigned)found, (unsigned)magic, ndims == 1 ? "labels" : "images");
    st = read_exact(gz, path, header, 4 * (size_t)ndims, "header");
    if (st != VKT_OK)
        return st;
    for (int i = 0; i < ndims; i++) {
        uint32_t d = load_be32(header + 4 * i);
        if (d == 0 || d > INT_MAX)
            return rt_error(VKT_ERR_FORMAT, "'%s': dimension %d is %u (must be 1..%d)", path, i, (unsigned)d,
                            INT_MAX);
        dims[i] = (int)d;
    }
    return VKT_OK;
}

static vkt_status open_gz(const char *path, gzFile *out)
{
    *out = NULL;
    if (!path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_load_idx: missing path");
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return rt_error(errno == ENOMEM ? VKT_ERR_NO_MEMORY : VKT_ERR_IO, "cannot open '%s': %s", path,
                        errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, GZ_BUFFER_BYTES);
    *out = gz;
    return VKT_OK;
}

static vkt_status read_images(const char *path, int dims[3], uint8_t **pixels)
{
    gzFile gz;
    vkt_status st = open_gz(path, &gz);
    if (st != VKT_OK)
        return st;
    st = read_header(gz, path, IDX_IMAGES_MAGIC, 3, dims);
    size_t count = st == VKT_OK ? (size_t)dims[0] : 0;
    size_t pixels_per_image = st == VKT_OK ? (size_t)dims[1] * (size_t)dims[2] : 0;
    if (st == VKT_OK && pixels_per_image > SIZE_MAX / count)
        st = rt_error(VKT_ERR_FORMAT, "'%s': %zu images of %d x %d pixels is too large", path, count, dims[1],
                      dims[2]);
    if (st == VKT_OK)
        st = read_payload(gz, path, count * pixels_per_image, "pixel data", pixels);
    if (st == VKT_OK) {
        st = expect_end(gz, path);
        if (st != VKT_OK) {
            free(*pixels);
            *pixels = NULL;
        }
    }
    gzclose(gz);
    return st;
}

static vkt_status read_labels(const char *path, int *count, uint8_t **labels)
{
    gzFile gz;
    vkt_status st = open_gz(path, &gz);
    if (st != VKT_OK)
        return st;
    st = read_header(gz, path, IDX_LABELS_MAGIC, 1, count);
    if (st == VKT_OK)
        st = read_payload(gz, path, (size_t)*count, "labels", labels);
    if (st == VKT_OK) {
        st = expect_end(gz, path);
        if (st != VKT_OK) {
            free(*labels);
            *labels = NULL;
        }
    }
    gzclose(gz);
    return st;
}

vkt_status vkt_dataset_load_idx(const char *images_path, const char *labels_path, vkt_dataset **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_load_idx: no output pointer");
    *out = NULL;

    int image_dims[3];
    uint8_t *pixels = NULL;
    vkt_status st = read_images(images_path, image_dims, &pixels);
    if (st != VKT_OK)
        return st;

    int label_count = 0;
    uint8_t *label_bytes = NULL;
    st = read_labels(labels_path, &label_count, &label_bytes);
    if (st == VKT_OK && label_count != image_dims[0])
        st = rt_error(VKT_ERR_FORMAT, "'%s' has %d labels but '%s' has %d images", labels_path, label_count,
                      images_path, image_dims[0]);

    vkt_dataset *ds = NULL;
    if (st == VKT_OK) {
        const int sample_dims[3] = {1, image_dims[1], image_dims[2]};
        st = ds_create(DS_STORAGE_U8, 0, 3, sample_dims, &ds);
    }
    int32_t *labels = NULL;
    if (st == VKT_OK) {
        labels = malloc((size_t)label_count * sizeof *labels);
        if (!labels)
            st = rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory for labels", labels_path);
    }
    if (st != VKT_OK) {
        vkt_dataset_destroy(ds);
        free(pixels);
        free(label_bytes);
        return st;
    }

    for (int i = 0; i < label_count; i++)
        labels[i] = label_bytes[i];
    free(label_bytes);
    ds->count = (size_t)label_count;
    ds->pixels = pixels;
    ds->labels = labels;
    ds_update_num_classes(ds);
    *out = ds;
    return VKT_OK;
}
