/* safetensors reading and writing: the weight-file format shared with
 * PyTorch (safetensors.torch.save_file / load_file).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON (an object
 * mapping tensor names to {"dtype", "shape", "data_offsets"}, plus an
 * optional "__metadata__" string->string map), then the data region.
 * Offsets are relative to the start of the data region.
 *
 * Files are untrusted: every length, offset and shape is checked before
 * it is used, and the tensors must tile the data region exactly (no
 * overlap, no gap), as the reference implementation demands. Tensors are
 * kept sorted by name so lookups are binary searches. */
#include "safetensors.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "atomic_file.h"
#include "runtime/rt_error.h"

#define HEADER_LEN_BYTES 8
#define HEADER_ALIGN 8
#define METADATA_KEY "__metadata__"
/* Sanity cap on a whole file; the real limit is the memory available. */
#define ST_MAX_FILE_BYTES ((uint64_t)64 << 30)

/* ---- dtypes ---------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};

static bool dtype_valid(st_dtype d)
{
    return (int)d >= 0 && d < ST_DTYPE_COUNT;
}

size_t st_dtype_size(st_dtype d)
{
    return dtype_valid(d) ? dtype_info[d].size : 0;
}

const char *st_dtype_name(st_dtype d)
{
    return dtype_valid(d) ? dtype_info[d].name : "?";
}

static bool dtype_from_name(const char *name, st_dtype *out)
{
    for (int d = 0; d < ST_DTYPE_COUNT; d++) {
        if (strcmp(dtype_info[d].name, name) == 0) {
            *out = (st_dtype)d;
            return true;
        }
    }
    return false;
}

/* ---- little-endian loads (the data may be unaligned) ------------------ */

static uint16_t load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)load_le32(p) | ((uint64_t)load_le32(p + 4) << 32);
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static double double_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* IEEE half (1 sign, 5 exponent, 10 mantissa bits) to float, exactly:
 * every half value, subnormals included, is representable as a float. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;

    if (exponent == 0x1f) /* inf, or nan with its payload kept */
        return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        if (mantissa == 0)
            return float_from_bits(sign);
        /* Subnormal: shift the leading 1 into the implicit bit. */
        uint32_t float_exponent = 127 - 14;
        while (!(mantissa & 0x400)) {
            mantissa <<= 1;
            float_exponent--;
        }
        return float_from_bits(sign | (float_exponent << 23) | ((mantissa & 0x3ff) << 13));
    }
    return float_from_bits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

/* bfloat16 is the top half of a float. */
static float bf16_to_float(uint16_t b)
{
    return float_from_bits((uint32_t)b << 16);
}

vkt_status st_tensor_to_f32(const st_tensor *t, float *dst, uint64_t count)
{
    if (!t || (!dst && count > 0))
        return rt_error(VKT_ERR_INVALID_ARG, "st_tensor_to_f32: missing tensor or destination");
    if (count != t->numel)
        return rt_error(VKT_ERR_INVALID_ARG, "st_tensor_to_f32: tensor '%s' has %llu elements, not %llu",
                        t->name ? t->name : "?", (unsigned long long)t->numel, (unsigned long long)count);
    if (!dtype_valid(t->dtype) || t->nbytes / dtype_info[t->dtype].size != count)
        return rt_error(VKT_ERR_INVALID_ARG, "st_tensor_to_f32: tensor '%s' is inconsistent",
                        t->name ? t->name : "?");

    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F64:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)double_from_bits(load_le64(p + 8 * i));
        break;
    case ST_F32:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = float_from_bits(load_le32(p + 4 * i));
        break;
    case ST_F16:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = half_to_float(load_le16(p + 2 * i));
        break;
    case ST_BF16:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = bf16_to_float(load_le16(p + 2 * i));
        break;
    case ST_I64:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)(int64_t)load_le64(p + 8 * i);
        break;
    case ST_I32:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)(int32_t)load_le32(p + 4 * i);
        break;
    case ST_I16:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)(int16_t)load_le16(p + 2 * i);
        break;
    case ST_I8:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)(int8_t)p[i];
        break;
    case ST_U8:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = (float)p[i];
        break;
    case ST_BOOL:
        for (uint64_t i = 0; i < count; i++)
            dst[i] = p[i] ? 1.0f : 0.0f;
        break;
    default:
        return rt_error(VKT_ERR_INVALID_ARG, "st_tensor_to_f32: bad dtype");
    }
    return VKT_OK;
}

/* ---- freeing and lookup ---------------------------------------------- */

void st_free(st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->bytes);
    free(f);
}

static int compare_tensor_names(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int compare_name_to_tensor(const void *name, const void *tensor)
{
    return strcmp(name, ((const st_tensor *)tensor)->name);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f || !name || f->count == 0)
        return NULL;
    return bsearch(name, f->tensors, (size_t)f->count, sizeof *f->tensors, compare_name_to_tensor);
}

const char *st_meta_get(const st_file *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct parser {
    const char *source; /* names the file in error messages */
    st_file *file;
    const uint8_t *data; /* start of the data region */
    size_t data_size;
} parser;

static vkt_status parse_metadata(parser *ps, json_t *obj)
{
    if (!json_is_object(obj))
        return rt_error(VKT_ERR_FORMAT, "%s: \"%s\" is not an object", ps->source, METADATA_KEY);
    size_t n = json_object_size(obj);
    if (n == 0)
        return VKT_OK;
    st_file *f = ps->file;
    f->meta = calloc(n, sizeof *f->meta);
    if (!f->meta)
        return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory for metadata", ps->source);

    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        if (!json_is_string(value))
            return rt_error(VKT_ERR_FORMAT, "%s: metadata value for \"%s\" is not a string", ps->source, key);
        st_kv *kv = &f->meta[f->meta_count];
        kv->key = strdup(key);
        kv->value = strdup(json_string_value(value));
        f->meta_count++;
        if (!kv->key || !kv->value)
            return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory for metadata", ps->source);
    }
    return VKT_OK;
}

/* A non-negative JSON integer, or false. */
static bool get_count(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static vkt_status parse_shape(parser *ps, const char *name, json_t *shape, st_tensor *t)
{
    if (!json_is_array(shape))
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing or not an array", ps->source, name);
    size_t rank = json_array_size(shape);
    if (rank > ST_MAX_RANK)
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': rank %zu exceeds the maximum %d", ps->source, name, rank,
                        ST_MAX_RANK);

    bool any_zero = false;
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < rank; i++) {
        uint64_t d;
        if (!get_count(json_array_get(shape, i), &d))
            return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", ps->source,
                            name, i);
        t->shape[i] = (int64_t)d;
        if (d == 0)
            any_zero = true;
        else if (numel > UINT64_MAX / d)
            overflow = true;
        else
            numel *= d;
    }
    if (any_zero)
        numel = 0;
    else if (overflow)
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': element count overflows", ps->source, name);
    t->rank = (int)rank;
    t->numel = numel;
    return VKT_OK;
}

static vkt_status parse_offsets(parser *ps, const char *name, json_t *offsets, uint64_t *begin, uint64_t *end)
{
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 || !get_count(json_array_get(offsets, 0), begin) ||
        !get_count(json_array_get(offsets, 1), end))
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be [begin, end] of non-negative integers",
                        ps->source, name);
    if (*begin > *end || *end > ps->data_size)
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the %zu-byte data region",
                        ps->source, name, (unsigned long long)*begin, (unsigned long long)*end, ps->data_size);
    return VKT_OK;
}

static vkt_status parse_tensor(parser *ps, const char *name, json_t *entry, st_tensor *t)
{
    if (!json_is_object(entry))
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': entry is not an object", ps->source, name);

    json_t *dtype = json_object_get(entry, "dtype");
    if (!json_is_string(dtype))
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string", ps->source, name);
    if (!dtype_from_name(json_string_value(dtype), &t->dtype))
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': unknown or unsupported dtype \"%s\"", ps->source, name,
                        json_string_value(dtype));

    vkt_status st = parse_shape(ps, name, json_object_get(entry, "shape"), t);
    if (st != VKT_OK)
        return st;

    uint64_t begin = 0, end = 0;
    st = parse_offsets(ps, name, json_object_get(entry, "data_offsets"), &begin, &end);
    if (st != VKT_OK)
        return st;

    size_t elem = dtype_info[t->dtype].size;
    if (t->numel > UINT64_MAX / elem)
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': byte size overflows", ps->source, name);
    if (t->numel * elem != end - begin)
        return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s': %llu elements of %s need %llu bytes, data_offsets span %llu",
                        ps->source, name, (unsigned long long)t->numel, dtype_info[t->dtype].name,
                        (unsigned long long)(t->numel * elem), (unsigned long long)(end - begin));
    t->data = ps->data + begin;
    t->nbytes = (size_t)(end - begin);
    return VKT_OK;
}

static int compare_by_data_start(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a;
    const st_tensor *y = *(const st_tensor *const *)b;
    if (x->data != y->data)
        return x->data < y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The tensors must tile the data region: sorted by start, each begins
 * where the previous one ended and the last ends at the region's end. */
static vkt_status check_layout(parser *ps)
{
    st_file *f = ps->file;
    if (f->count == 0) {
        if (ps->data_size != 0)
            return rt_error(VKT_ERR_FORMAT, "%s: %zu data bytes but no tensors", ps->source, ps->data_size);
        return VKT_OK;
    }
    const st_tensor **by_start = malloc((size_t)f->count * sizeof *by_start);
    if (!by_start)
        return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory", ps->source);
    for (int i = 0; i < f->count; i++)
        by_start[i] = &f->tensors[i];
    qsort(by_start, (size_t)f->count, sizeof *by_start, compare_by_data_start);

    vkt_status st = VKT_OK;
    size_t expected = 0;
    for (int i = 0; i < f->count && st == VKT_OK; i++) {
        size_t begin = (size_t)(by_start[i]->data - ps->data);
        if (begin < expected)
            st = rt_error(VKT_ERR_FORMAT, "%s: tensor '%s' overlaps tensor '%s'", ps->source, by_start[i]->name,
                          by_start[i - 1]->name);
        else if (begin > expected)
            st = rt_error(VKT_ERR_FORMAT, "%s: unused gap in the data region before tensor '%s'", ps->source,
                          by_start[i]->name);
        expected = begin + by_start[i]->nbytes;
    }
    if (st == VKT_OK && expected != ps->data_size)
        st = rt_error(VKT_ERR_FORMAT, "%s: %zu unused bytes at the end of the data region", ps->source,
                      ps->data_size - expected);
    free(by_start);
    return st;
}

static vkt_status parse_entries(parser *ps, json_t *root)
{
    st_file *f = ps->file;
    size_t n = json_object_size(root);
    if (n > INT_MAX)
        return rt_error(VKT_ERR_FORMAT, "%s: too many tensors", ps->source);
    if (n > 0) {
        f->tensors = calloc(n, sizeof *f->tensors);
        if (!f->tensors)
            return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory for %zu tensors", ps->source, n);
    }

    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        vkt_status st;
        if (strcmp(key, METADATA_KEY) == 0) {
            st = parse_metadata(ps, value);
        } else {
            st_tensor *t = &f->tensors[f->count];
            t->name = strdup(key);
            if (!t->name)
                return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory", ps->source);
            f->count++;
            st = parse_tensor(ps, key, value, t);
        }
        if (st != VKT_OK)
            return st;
    }

    if (f->count > 1)
        qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, compare_tensor_names);
    for (int i = 1; i < f->count; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0)
            return rt_error(VKT_ERR_FORMAT, "%s: tensor '%s' appears twice", ps->source, f->tensors[i].name);
    return check_layout(ps);
}

static vkt_status parse_header(parser *ps, const uint8_t *header, size_t header_len)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)header, header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rt_error(VKT_ERR_FORMAT, "%s: bad JSON header at line %d column %d: %s", ps->source, jerr.line,
                        jerr.column, jerr.text);
    vkt_status st;
    if (!json_is_object(root))
        st = rt_error(VKT_ERR_FORMAT, "%s: JSON header is not an object", ps->source);
    else
        st = parse_entries(ps, root);
    json_decref(root);
    return st;
}

/* Parse `bytes`, taking ownership of them (freed on failure too). */
static vkt_status parse_owned(uint8_t *bytes, size_t size, const char *source, st_file **out)
{
    *out = NULL;
    if (size < HEADER_LEN_BYTES) {
        free(bytes);
        return rt_error(VKT_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file", source, size);
    }
    uint64_t header_len = load_le64(bytes);
    if (header_len > ST_MAX_HEADER_BYTES || header_len > size - HEADER_LEN_BYTES) {
        free(bytes);
        return rt_error(VKT_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes) or the limit", source,
                        (unsigned long long)header_len, size);
    }

    st_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(bytes);
        return rt_error(VKT_ERR_NO_MEMORY, "%s: out of memory", source);
    }
    f->bytes = bytes;
    f->size = size;

    parser ps = {
        .source = source,
        .file = f,
        .data = bytes + HEADER_LEN_BYTES + header_len,
        .data_size = size - HEADER_LEN_BYTES - (size_t)header_len,
    };
    vkt_status st = parse_header(&ps, bytes + HEADER_LEN_BYTES, (size_t)header_len);
    if (st != VKT_OK) {
        st_free(f);
        return st;
    }
    *out = f;
    return VKT_OK;
}

vkt_status st_parse(const uint8_t *bytes, size_t size, st_file **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "st_parse: no output pointer");
    *out = NULL;
    if (!bytes && size > 0)
        return rt_error(VKT_ERR_INVALID_ARG, "st_parse: no bytes");
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return rt_error(VKT_ERR_NO_MEMORY, "st_parse: out of memory for %zu bytes", size);
    if (size)
        memcpy(copy, bytes, size);
    return parse_owned(copy, size, "safetensors buffer", out);
}

static vkt_status read_whole_file(const char *path, uint8_t **bytes, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rt_error(VKT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));

    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return rt_error(VKT_ERR_IO, "'%s' is not a readable regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > ST_MAX_FILE_BYTES || (uint64_t)st.st_size > SIZE_MAX) {
        fclose(fp);
        return rt_error(VKT_ERR_FORMAT, "'%s': file size %lld is beyond the supported limit", path,
                        (long long)st.st_size);
    }

    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(fp);
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory for %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, fp);
    bool failed = ferror(fp);
    fclose(fp);
    if (got != n) {
        free(buf);
        return rt_error(VKT_ERR_IO, "reading '%s' failed%s", path, failed ? "" : ": file shrank while reading");
    }
    *bytes = buf;
    *size = n;
    return VKT_OK;
}

vkt_status st_read(const char *path, st_file **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "st_read: no output pointer");
    *out = NULL;
    if (!path)
        return rt_error(VKT_ERR_INVALID_ARG, "st_read: no path");
    uint8_t *bytes = NULL;
    size_t size = 0;
    vkt_status st = read_whole_file(path, &bytes, &size);
    if (st != VKT_OK)
        return st;

    /* Quote the path for messages; keep it short enough to leave room. */
    char source[300];
    snprintf(source, sizeof source, "'%s'", path);
    return parse_owned(bytes, size, source, out);
}

/* ---- writing ---------------------------------------------------------- */

/* Strict UTF-8 check (no overlongs, no surrogates), since JSON strings
 * must be valid UTF-8. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (*p & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
    }
    return true;
}

static vkt_status entry_nbytes(const st_entry *e, uint64_t *nbytes)
{
    uint64_t numel = 1;
    bool overflow = false;
    for (int d = 0; d < e->rank; d++) {
        if (e->shape[d] < 0)
            return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' has negative dimension %lld", e->name,
                            (long long)e->shape[d]);
        uint64_t dim = (uint64_t)e->shape[d];
        if (dim == 0)
            numel = 0;
        else if (numel > UINT64_MAX / dim)
            overflow = true;
        else
            numel *= dim;
    }
    size_t elem = dtype_info[e->dtype].size;
    if (numel != 0 && (overflow || numel > (uint64_t)INT64_MAX / elem))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' is too large", e->name);
    *nbytes = numel * elem;
    return VKT_OK;
}

static vkt_status validate_entry(const st_entry *e, uint64_t *nbytes)
{
    if (!e->name || !utf8_valid(e->name))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor name missing or not valid UTF-8");
    if (strcmp(e->name, METADATA_KEY) == 0)
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: \"%s\" is reserved and cannot name a tensor", METADATA_KEY);
    if (!dtype_valid(e->dtype))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' has an invalid dtype", e->name);
    if (e->rank < 0 || e->rank > ST_MAX_RANK || (e->rank > 0 && !e->shape))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' has rank %d (0..%d with a shape)", e->name,
                        e->rank, ST_MAX_RANK);
    vkt_status st = entry_nbytes(e, nbytes);
    if (st == VKT_OK && *nbytes > 0 && !e->data)
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' has no data", e->name);
    return st;
}

static vkt_status validate_metadata(const st_kv *meta, int meta_count)
{
    if (meta_count < 0 || (meta_count > 0 && !meta))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: bad metadata list");
    for (int i = 0; i < meta_count; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
            return rt_error(VKT_ERR_INVALID_ARG, "st_write: metadata entry %d missing or not valid UTF-8", i);
        for (int j = 0; j < i; j++)
            if (strcmp(meta[i].key, meta[j].key) == 0)
                return rt_error(VKT_ERR_INVALID_ARG, "st_write: metadata key \"%s\" given twice", meta[i].key);
    }
    return VKT_OK;
}

static int compare_entry_names(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

/* Validate everything and return the entries in name order. */
static vkt_status sorted_entries(const st_entry *entries, int count, const st_entry ***out)
{
    *out = NULL;
    if (count < 0 || (count > 0 && !entries))
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: bad tensor list");
    const st_entry **sorted = malloc((size_t)(count ? count : 1) * sizeof *sorted);
    if (!sorted)
        return rt_error(VKT_ERR_NO_MEMORY, "st_write: out of memory");
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        uint64_t nbytes;
        vkt_status st = validate_entry(&entries[i], &nbytes);
        if (st == VKT_OK && nbytes > (uint64_t)INT64_MAX - total)
            st = rt_error(VKT_ERR_INVALID_ARG, "st_write: total data size is too large");
        if (st != VKT_OK) {
            free(sorted);
            return st;
        }
        total += nbytes;
        sorted[i] = &entries[i];
    }
    qsort(sorted, (size_t)count, sizeof *sorted, compare_entry_names);
    for (int i = 1; i < count; i++) {
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            vkt_status st = rt_error(VKT_ERR_INVALID_ARG, "st_write: tensor '%s' given twice", sorted[i]->name);
            free(sorted);
            return st;
        }
    }
    *out = sorted;
    return VKT_OK;
}

/* json_object_set_new() and friends steal references; a NULL value makes
 * them fail, so one check per built object catches any allocation
 * failure. */
static json_t *tensor_json(const st_entry *e, uint64_t begin, uint64_t end)
{
    json_t *shape = json_array();
    for (int d = 0; shape && d < e->rank; d++) {
        if (json_array_append_new(shape, json_integer((json_int_t)e->shape[d])) != 0) {
            json_decref(shape);
            shape = NULL;
        }
    }
    json_t *offsets = json_pack("[II]", (json_int_t)begin, (json_int_t)end);
    json_t *obj = json_object();
    if (!shape || !offsets || !obj || json_object_set_new(obj, "dtype", json_string(dtype_info[e->dtype].name)) ||
        json_object_set(obj, "shape", shape) || json_object_set(obj, "data_offsets", offsets)) {
        json_decref(obj);
        obj = NULL;
    }
    json_decref(shape);
    json_decref(offsets);
    return obj;
}

static json_t *metadata_json(const st_kv *meta, int meta_count)
{
    json_t *obj = json_object();
    for (int i = 0; obj && i < meta_count; i++) {
        if (json_object_set_new(obj, meta[i].key, json_string(meta[i].value)) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

/* The header JSON, compact, padded with spaces to a multiple of 8 bytes
 * so the data region starts aligned. */
static char *build_header(const st_entry *const *sorted, int count, const st_kv *meta, int meta_count,
                          size_t *header_len)
{
    json_t *root = json_object();
    if (root && meta_count > 0 && json_object_set_new(root, METADATA_KEY, metadata_json(meta, meta_count)) != 0) {
        json_decref(root);
        return NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; root && i < count; i++) {
        uint64_t nbytes;
        entry_nbytes(sorted[i], &nbytes); /* validated already */
        if (json_object_set_new(root, sorted[i]->name, tensor_json(sorted[i], offset, offset + nbytes)) != 0) {
            json_decref(root);
            return NULL;
        }
        offset += nbytes;
    }
    if (!root)
        return NULL;

    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    size_t padded = (len + HEADER_ALIGN - 1) / HEADER_ALIGN * HEADER_ALIGN;
    char *header = malloc(padded + 1);
    if (header) {
        memcpy(header, text, len);
        memset(header + len, ' ', padded - len);
        header[padded] = '\0';
        *header_len = padded;
    }
    free(text);
    return header;
}

static bool write_all(FILE *fp, const void *data, size_t n)
{
    return n == 0 || fwrite(data, 1, n, fp) == n;
}

static vkt_status write_file(const char *path, const char *header, size_t header_len, const st_entry *const *sorted,
                             int count)
{
    atomic_file af;
    vkt_status st = atomic_file_open(&af, path);
    if (st != VKT_OK)
        return st;

    uint8_t len_bytes[HEADER_LEN_BYTES];
    store_le64(len_bytes, header_len);
    bool ok = write_all(af.fp, len_bytes, sizeof len_bytes) && write_all(af.fp, header, header_len);
    for (int i = 0; ok && i < count; i++) {
        uint64_t nbytes;
        entry_nbytes(sorted[i], &nbytes);
        ok = write_all(af.fp, sorted[i]->data, (size_t)nbytes);
    }
    if (!ok) {
        st = rt_error(VKT_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
        atomic_file_abort(&af);
        return st;
    }
    return atomic_file_commit(&af);
}

vkt_status st_write(const char *path, const st_entry *entries, int count, const st_kv *meta, int meta_count)
{
    if (!path || !path[0])
        return rt_error(VKT_ERR_INVALID_ARG, "st_write: no path");
    vkt_status st = validate_metadata(meta, meta_count);
    if (st != VKT_OK)
        return st;
    const st_entry **sorted;
    st = sorted_entries(entries, count, &sorted);
    if (st != VKT_OK)
        return st;

    size_t header_len = 0;
    char *header = build_header(sorted, count, meta, meta_count, &header_len);
    if (!header) {
        free(sorted);
        return rt_error(VKT_ERR_NO_MEMORY, "st_write: out of memory building the header for '%s'", path);
    }
    st = write_file(path, header, header_len, sorted, count);
    free(header);
    free(sorted);
    return st;
}
