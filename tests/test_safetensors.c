/* safetensors reader/writer tests: round trips, the PyTorch-written
 * fixture, rejection of every kind of malformed file, half/bfloat16
 * conversion, and atomic replacement. */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_error.h"
#include "src/io/safetensors.h"

#ifndef VKT_TEST_DATA_DIR
#define VKT_TEST_DATA_DIR "tests/data"
#endif

/* ---- helpers ------------------------------------------------------------ */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A file image: 8-byte length (header_len_field, or the true length when
 * it is UINT64_MAX), the header text, then data_size bytes 0xab. */
static uint8_t *make_image(const char *header, uint64_t header_len_field, size_t data_size, size_t *size)
{
    size_t hl = strlen(header);
    *size = 8 + hl + data_size;
    uint8_t *buf = malloc(*size);
    assert_non_null(buf);
    put_le64(buf, header_len_field == UINT64_MAX ? hl : header_len_field);
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, 0xab, data_size);
    return buf;
}

/* Parse a crafted file and expect a format error mentioning `needle`. */
static void expect_format_error(const char *header, size_t data_size, const char *needle)
{
    size_t size;
    uint8_t *buf = make_image(header, UINT64_MAX, data_size, &size);
    st_file *f = (st_file *)0x1;
    vkt_status st = st_parse(buf, size, &f);
    if (st != VKT_ERR_FORMAT || !strstr(rt_error_message(), needle))
        fail_msg("header %s: status %d, message \"%s\", wanted \"%s\"", header, st, rt_error_message(), needle);
    assert_null(f);
    free(buf);
}

static int count_temp_files(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(dir);
    return n;
}

static char *dir_of(const char *path)
{
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    return dir;
}

/* ---- round trip ------------------------------------------------------------ */

static const float rt_f32[6] = {0.f, -1.5f, 3.25f, 1e-30f, -7.f, 65504.f};
static const uint16_t rt_f16[3] = {0x3c00, 0xc000, 0x0001};
static const uint16_t rt_bf16[2] = {0x3f80, 0xbfc0};
static const int64_t rt_i64[1] = {-123456789012345LL};
static const int32_t rt_i32[2] = {-5, 2147483647};
static const uint8_t rt_u8[4] = {0, 1, 128, 255};
static const uint8_t rt_bool[3] = {1, 0, 1};
static const double rt_f64[1] = {0.1};

static const int64_t shape_2x3[] = {2, 3}, shape_3[] = {3}, shape_2[] = {2}, shape_4[] = {4}, shape_1[] = {1},
                     shape_0x3[] = {0, 3};

/* Deliberately not in name order. */
static const st_entry rt_entries[] = {
    {"z.f32", ST_F32, 2, shape_2x3, rt_f32},   {"a.f16", ST_F16, 1, shape_3, rt_f16},
    {"m.bf16", ST_BF16, 1, shape_2, rt_bf16},  {"scalar.i64", ST_I64, 0, NULL, rt_i64},
    {"b.i32", ST_I32, 1, shape_2, rt_i32},     {"c.u8", ST_U8, 1, shape_4, rt_u8},
    {"d.bool", ST_BOOL, 1, shape_3, rt_bool},  {"e.f64", ST_F64, 1, shape_1, rt_f64},
    {"empty", ST_F32, 2, shape_0x3, NULL},
};
#define RT_COUNT ((int)(sizeof rt_entries / sizeof rt_entries[0]))

static const st_kv rt_meta[] = {{"format", "pt"}, {"epoch", "12"}};

static char *write_round_trip_file(const char *name)
{
    char *path = tu_temp_path(name);
    assert_int_equal(st_write(path, rt_entries, RT_COUNT, rt_meta, 2), VKT_OK);
    return path;
}

static void test_round_trip(void **state)
{
    (void)state;
    char *path = write_round_trip_file("rt.safetensors");
    st_file *f = NULL;
    assert_int_equal(st_read(path, &f), VKT_OK);
    assert_non_null(f);
    assert_int_equal(f->count, RT_COUNT);

    for (int i = 0; i < RT_COUNT; i++) {
        const st_entry *e = &rt_entries[i];
        const st_tensor *t = st_find(f, e->name);
        assert_non_null(t);
        assert_string_equal(t->name, e->name);
        assert_int_equal(t->dtype, e->dtype);
        assert_int_equal(t->rank, e->rank);
        uint64_t numel = 1;
        for (int d = 0; d < e->rank; d++) {
            assert_int_equal(t->shape[d], e->shape[d]);
            numel *= (uint64_t)e->shape[d];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, numel * st_dtype_size(e->dtype));
        if (t->nbytes)
            assert_memory_equal(t->data, e->data, t->nbytes);
    }
    assert_null(st_find(f, "missing"));
    assert_string_equal(st_meta_get(f, "format"), "pt");
    assert_string_equal(st_meta_get(f, "epoch"), "12");
    assert_null(st_meta_get(f, "nope"));

    /* Header padded to 8 bytes; data laid out in name order. */
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | f->bytes[i];
    assert_int_equal(header_len % 8, 0);
    const uint8_t *data = f->bytes + 8 + header_len;
    assert_ptr_equal(st_find(f, "a.f16")->data, data);
    assert_true(st_find(f, "b.i32")->data < st_find(f, "z.f32")->data);
    assert_ptr_equal(st_find(f, "z.f32")->data + 24, f->bytes + f->size);
    /* The tensor list itself is in name order. */
    for (int i = 1; i < f->count; i++)
        assert_true(strcmp(f->tensors[i - 1].name, f->tensors[i].name) < 0);

    st_free(f);
    free(path);
}

static void test_empty_file_round_trip(void **state)
{
    (void)state;
    char *path = tu_temp_path("empty.safetensors");
    assert_int_equal(st_write(path, NULL, 0, NULL, 0), VKT_OK);
    st_file *f = NULL;
    assert_int_equal(st_read(path, &f), VKT_OK);
    assert_int_equal(f->count, 0);
    assert_int_equal(f->meta_count, 0);
    st_free(f);
    free(path);
}

/* ---- the PyTorch fixture --------------------------------------------------- */

static void test_torch_fixture(void **state)
{
    (void)state;
    st_file *f = NULL;
    assert_int_equal(st_read(VKT_TEST_DATA_DIR "/torch_small.safetensors", &f), VKT_OK);
    assert_int_equal(f->count, 4);
    assert_string_equal(st_meta_get(f, "format"), "pt");
    assert_string_equal(st_meta_get(f, "note"), "vktrain fixture");

    float v[6];
    const st_tensor *w0 = st_find(f, "0.weight");
    assert_non_null(w0);
    assert_int_equal(w0->dtype, ST_F32);
    assert_int_equal(w0->rank, 2);
    assert_int_equal(w0->shape[0], 2);
    assert_int_equal(w0->shape[1], 3);
    assert_int_equal(st_tensor_to_f32(w0, v, 6), VKT_OK);
    for (int i = 0; i < 6; i++)
        assert_true(v[i] == 0.5f * (float)i);

    const st_tensor *b0 = st_find(f, "0.bias");
    assert_int_equal(b0->dtype, ST_F16);
    assert_int_equal(st_tensor_to_f32(b0, v, 4), VKT_OK);
    assert_true(v[0] == 1.0f);
    assert_true(v[1] == ldexpf(1.0f, -24));
    assert_true(isinf(v[2]) && v[2] > 0);
    assert_true(v[3] == -2.0f);

    const st_tensor *w1 = st_find(f, "1.weight");
    assert_int_equal(w1->dtype, ST_BF16);
    assert_int_equal(st_tensor_to_f32(w1, v, 4), VKT_OK);
    assert_true(v[0] == 1.5f && v[1] == -0.25f && v[2] == 256.0f && v[3] == 3.0f);

    const st_tensor *steps = st_find(f, "1.steps");
    assert_int_equal(steps->dtype, ST_I64);
    assert_int_equal(steps->rank, 1);
    assert_int_equal(st_tensor_to_f32(steps, v, 3), VKT_OK);
    assert_true(v[0] == 7.0f && v[1] == -3.0f && v[2] == ldexpf(1.0f, 40));
    st_free(f);
}

/* ---- malformed files -------------------------------------------------------- */

static void test_every_truncation_rejected(void **state)
{
    (void)state;
    char *path = write_round_trip_file("trunc.safetensors");
    size_t size = 0;
    uint8_t *bytes = tu_read_file(path, &size);
    assert_non_null(bytes);

    st_file *f = NULL;
    assert_int_equal(st_parse(bytes, size, &f), VKT_OK);
    st_free(f);
    for (size_t n = 0; n < size; n++) {
        f = (st_file *)0x1;
        vkt_status st = st_parse(bytes, n, &f);
        if (st != VKT_ERR_FORMAT)
            fail_msg("prefix of %zu/%zu bytes: status %d", n, size, st);
        assert_null(f);
    }
    free(bytes);
    free(path);
}

static void test_header_length_checks(void **state)
{
    (void)state;
    const char *hdr = "{}";
    size_t size;
    st_file *f = (st_file *)0x1;

    uint8_t *buf = make_image(hdr, 3, 0, &size); /* one byte past the end */
    assert_int_equal(st_parse(buf, size, &f), VKT_ERR_FORMAT);
    assert_null(f);
    assert_non_null(strstr(rt_error_message(), "header length"));
    free(buf);

    buf = make_image(hdr, UINT64_MAX - 1, 0, &size);
    assert_int_equal(st_parse(buf, size, &f), VKT_ERR_FORMAT);
    free(buf);

    buf = make_image(hdr, ST_MAX_HEADER_BYTES + 1, 0, &size);
    assert_int_equal(st_parse(buf, size, &f), VKT_ERR_FORMAT);
    free(buf);

    /* "{}" followed by the space padding writers add is fine. */
    buf = make_image("{}      ", UINT64_MAX, 0, &size);
    assert_int_equal(st_parse(buf, size, &f), VKT_OK);
    assert_int_equal(f->count, 0);
    st_free(f);
    free(buf);
}

static void test_bad_headers_rejected(void **state)
{
    (void)state;
    expect_format_error("", 0, "JSON");
    expect_format_error("{\"a\":", 0, "JSON");
    expect_format_error("{\"a\":{}} x", 0, "JSON");
    expect_format_error("[1,2]", 0, "JSON");
    expect_format_error("{\"a\":5}", 0, "'a': entry is not an object");
    expect_format_error("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is missing");
    expect_format_error("{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype \"F31\"");
    expect_format_error("{\"a\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "dtype \"U16\"");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "\"shape\"");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "shape[0]");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                        "rank 9");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
                        "overflows");
    expect_format_error("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8,
                        "byte size overflows");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, "outside");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "outside");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "need 8 bytes");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        8, "overlaps");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        8, "JSON");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
    expect_format_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "unused bytes");
    expect_format_error("{}", 4, "no tensors");
    expect_format_error("{\"__metadata__\":{\"k\":1}}", 0, "metadata value for \"k\"");
    expect_format_error("{\"__metadata__\":[\"k\"]}", 0, "not an object");
}

static void test_read_errors(void **state)
{
    (void)state;
    st_file *f = (st_file *)0x1;
    char *missing = tu_temp_path("does-not-exist.safetensors");
    assert_int_equal(st_read(missing, &f), VKT_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(rt_error_message(), missing));

    char *dir = dir_of(missing);
    assert_int_equal(st_read(dir, &f), VKT_ERR_IO);
    assert_null(f);

    /* Format errors from st_read name the file. */
    char *bad = tu_temp_path("bad.safetensors");
    assert_int_equal(tu_write_file(bad, "\x02\0\0\0\0\0\0\0[]", 10), 0);
    assert_int_equal(st_read(bad, &f), VKT_ERR_FORMAT);
    assert_non_null(strstr(rt_error_message(), bad));

    assert_int_equal(st_read(bad, NULL), VKT_ERR_INVALID_ARG);
    assert_int_equal(st_read(NULL, &f), VKT_ERR_INVALID_ARG);
    free(bad);
    free(dir);
    free(missing);
}

/* ---- conversions -------------------------------------------------------------- */

static float convert_one(st_dtype dtype, const void *bytes)
{
    st_tensor t = {.name = "x", .dtype = dtype, .rank = 0, .numel = 1, .data = bytes,
                   .nbytes = st_dtype_size(dtype)};
    float out = -12345.f;
    assert_int_equal(st_tensor_to_f32(&t, &out, 1), VKT_OK);
    return out;
}

static float half(uint16_t bits)
{
    uint8_t b[2] = {(uint8_t)bits, (uint8_t)(bits >> 8)};
    return convert_one(ST_F16, b);
}

static float bf16(uint16_t bits)
{
    uint8_t b[2] = {(uint8_t)bits, (uint8_t)(bits >> 8)};
    return convert_one(ST_BF16, b);
}

/* Reference value of a half from its definition. */
static double half_reference(uint16_t h)
{
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double v = exponent == 0 ? ldexp(mantissa, -24) : ldexp(1024 + mantissa, exponent - 25);
    return sign ? -v : v;
}

static void test_half_conversion(void **state)
{
    (void)state;
    assert_true(half(0x3c00) == 1.0f);
    assert_true(half(0xc000) == -2.0f);
    assert_true(half(0x7bff) == 65504.0f);
    assert_true(half(0x0400) == ldexpf(1.0f, -14));  /* smallest normal */
    assert_true(half(0x0001) == ldexpf(1.0f, -24));  /* smallest subnormal */
    assert_true(half(0x03ff) == ldexpf(1023.0f, -24)); /* largest subnormal */
    assert_true(half(0x8001) == -ldexpf(1.0f, -24));
    float nz = half(0x8000);
    assert_true(nz == 0.0f && signbit(nz));
    assert_true(isinf(half(0x7c00)) && half(0x7c00) > 0);
    assert_true(isinf(half(0xfc00)) && half(0xfc00) < 0);
    assert_true(isnan(half(0x7e00)));
    assert_true(isnan(half(0xfc01)));

    /* Every finite half, against the definition. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (((h >> 10) & 0x1f) == 0x1f)
            continue;
        if ((double)half((uint16_t)h) != half_reference((uint16_t)h))
            fail_msg("half 0x%04x -> %g, expected %g", h, half((uint16_t)h), half_reference((uint16_t)h));
    }
}

static void test_bf16_conversion(void **state)
{
    (void)state;
    assert_true(bf16(0x3f80) == 1.0f);
    assert_true(bf16(0xc0a0) == -5.0f);
    assert_true(bf16(0x0001) == ldexpf(1.0f, -133)); /* subnormal */
    assert_true(isinf(bf16(0x7f80)) && bf16(0x7f80) > 0);
    assert_true(isinf(bf16(0xff80)) && bf16(0xff80) < 0);
    assert_true(isnan(bf16(0x7fc0)));
    float nz = bf16(0x8000);
    assert_true(nz == 0.0f && signbit(nz));
}

static void test_integer_and_other_conversions(void **state)
{
    (void)state;
    int8_t i8 = -7;
    assert_true(convert_one(ST_I8, &i8) == -7.0f);
    uint8_t u8 = 200;
    assert_true(convert_one(ST_U8, &u8) == 200.0f);
    uint8_t b = 3;
    assert_true(convert_one(ST_BOOL, &b) == 1.0f);
    uint8_t i16[2] = {0x00, 0x80}; /* -32768 little-endian */
    assert_true(convert_one(ST_I16, i16) == -32768.0f);
    uint8_t i32[4] = {0xfe, 0xff, 0xff, 0xff};
    assert_true(convert_one(ST_I32, i32) == -2.0f);
    double d = -0.375;
    assert_true(convert_one(ST_F64, &d) == -0.375f);

    float out[2];
    st_tensor t = {.name = "x", .dtype = ST_F32, .numel = 2, .data = (const uint8_t *)rt_f32, .nbytes = 8};
    assert_int_equal(st_tensor_to_f32(&t, out, 3), VKT_ERR_INVALID_ARG);
    assert_int_equal(st_tensor_to_f32(&t, NULL, 2), VKT_ERR_INVALID_ARG);
    assert_int_equal(st_tensor_to_f32(&t, out, 2), VKT_OK);
    assert_true(out[1] == -1.5f);
}

/* ---- writer arguments and atomicity ------------------------------------------- */

static void test_write_rejects_bad_input(void **state)
{
    (void)state;
    char *path = tu_temp_path("bad-input.safetensors");
    const int64_t neg[] = {-2};
    const float data[2] = {1, 2};
    st_entry e[2] = {{"w", ST_F32, 1, shape_2, data}, {"w", ST_F32, 1, shape_2, data}};
    assert_int_equal(st_write(path, e, 2, NULL, 0), VKT_ERR_INVALID_ARG); /* duplicate */
    e[0].shape = neg;
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].shape = shape_2;
    e[0].data = NULL;
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].data = data;
    e[0].name = "__metadata__";
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].name = "\xff\xfe";
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].name = "w";
    e[0].rank = ST_MAX_RANK + 1;
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].rank = 1;
    e[0].dtype = ST_DTYPE_COUNT;
    assert_int_equal(st_write(path, e, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    e[0].dtype = ST_F32;
    st_kv dup_meta[2] = {{"k", "1"}, {"k", "2"}};
    assert_int_equal(st_write(path, e, 1, dup_meta, 2), VKT_ERR_INVALID_ARG);
    st_kv null_meta[1] = {{"k", NULL}};
    assert_int_equal(st_write(path, e, 1, null_meta, 1), VKT_ERR_INVALID_ARG);
    assert_int_equal(st_write(path, e, -1, NULL, 0), VKT_ERR_INVALID_ARG);

    size_t n;
    void *nothing = tu_read_file(path, &n);
    assert_null(nothing); /* nothing was created */
    free(path);
}

static void test_atomic_write_keeps_old_file(void **state)
{
    (void)state;
    char *path = write_round_trip_file("atomic.safetensors");
    size_t before_size = 0;
    uint8_t *before = tu_read_file(path, &before_size);
    assert_non_null(before);

    /* Bad input: the existing file is left alone. */
    const int64_t neg[] = {-1};
    st_entry bad = {"w", ST_F32, 1, neg, rt_f32};
    assert_int_equal(st_write(path, &bad, 1, NULL, 0), VKT_ERR_INVALID_ARG);
    size_t after_size = 0;
    uint8_t *after = tu_read_file(path, &after_size);
    assert_non_null(after);
    assert_int_equal(after_size, before_size);
    assert_memory_equal(after, before, before_size);
    free(after);

    /* Missing target directory: an I/O error naming the path. */
    char *nodir = tu_temp_path("no-such-dir/x.safetensors");
    assert_int_equal(st_write(nodir, rt_entries, RT_COUNT, NULL, 0), VKT_ERR_IO);
    assert_non_null(strstr(rt_error_message(), nodir));

    /* A good write replaces it whole, leaving no temporary behind. */
    st_entry one = {"only", ST_F32, 1, shape_2, rt_f32};
    assert_int_equal(st_write(path, &one, 1, NULL, 0), VKT_OK);
    st_file *f = NULL;
    assert_int_equal(st_read(path, &f), VKT_OK);
    assert_int_equal(f->count, 1);
    assert_non_null(st_find(f, "only"));
    st_free(f);
    char *dir = dir_of(path);
    assert_int_equal(count_temp_files(dir), 0);

    free(dir);
    free(nodir);
    free(before);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_file_round_trip),
        cmocka_unit_test(test_torch_fixture),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_header_length_checks),
        cmocka_unit_test(test_bad_headers_rejected),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_half_conversion),
        cmocka_unit_test(test_bf16_conversion),
        cmocka_unit_test(test_integer_and_other_conversions),
        cmocka_unit_test(test_write_rejects_bad_input),
        cmocka_unit_test(test_atomic_write_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
