/* Dataset and loader tests: IDX (raw and gzip) and CSV readers on tiny
 * files written here, their rejection of truncated or inconsistent files,
 * the label filter, and the loader's batch order, shuffling and seeking. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <vktrain/data.h>

#include "runtime/rt_error.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- helpers ------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX file image: magic, dims, payload. */
static uint8_t *idx_bytes(uint32_t magic, int ndims, const uint32_t *dims, const uint8_t *payload, size_t n,
                          size_t *size)
{
    *size = 4 + 4 * (size_t)ndims + n;
    uint8_t *buf = malloc(*size);
    assert_non_null(buf);
    put_be32(buf, magic);
    for (int i = 0; i < ndims; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    if (n)
        memcpy(buf + 4 + 4 * ndims, payload, n);
    return buf;
}

static void write_gzip(const char *path, const void *data, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_bytes(const char *path, const void *data, size_t n, int gzip)
{
    if (gzip)
        write_gzip(path, data, n);
    else
        assert_int_equal(tu_write_file(path, data, n), 0);
}

/* Five 2x3 images and their labels. */
#define N_IMAGES 5
#define ROWS 2
#define COLS 3
static const uint8_t tiny_labels[N_IMAGES] = {0, 3, 9, 3, 1};

static uint8_t tiny_pixel(int image, int i)
{
    return (uint8_t)(image == 0 ? 255 * (i % 2) : image * 50 + i);
}

static uint8_t *tiny_images_file(size_t *size)
{
    uint8_t pixels[N_IMAGES * ROWS * COLS];
    for (int im = 0; im < N_IMAGES; im++)
        for (int i = 0; i < ROWS * COLS; i++)
            pixels[im * ROWS * COLS + i] = tiny_pixel(im, i);
    const uint32_t dims[3] = {N_IMAGES, ROWS, COLS};
    return idx_bytes(0x803, 3, dims, pixels, sizeof pixels, size);
}

static uint8_t *tiny_labels_file(size_t *size)
{
    const uint32_t dims[1] = {N_IMAGES};
    return idx_bytes(0x801, 1, dims, tiny_labels, N_IMAGES, size);
}

/* Write the tiny image and label files; caller frees both paths. */
static void write_tiny_idx(int gzip, char **images, char **labels)
{
    size_t n;
    *images = tu_temp_path(gzip ? "img.idx.gz" : "img.idx");
    *labels = tu_temp_path(gzip ? "lbl.idx.gz" : "lbl.idx");
    uint8_t *b = tiny_images_file(&n);
    write_bytes(*images, b, n, gzip);
    free(b);
    b = tiny_labels_file(&n);
    write_bytes(*labels, b, n, gzip);
    free(b);
}

static void expect_idx_error(const char *images, const char *labels, vkt_status want, const char *needle)
{
    vkt_dataset *ds = (vkt_dataset *)0x1;
    vkt_status st = vkt_dataset_load_idx(images, labels, &ds);
    if (st != want || (needle && !strstr(rt_error_message(), needle)))
        fail_msg("status %d, message \"%s\"; wanted %d and \"%s\"", st, rt_error_message(), want,
                 needle ? needle : "");
    assert_null(ds);
}

static vkt_status load_csv_text(const char *text, int label_column, vkt_dataset **ds)
{
    char *path = tu_temp_path("data.csv");
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    vkt_status st = vkt_dataset_load_csv(path, label_column, ds);
    free(path);
    return st;
}

static void expect_csv_error(const char *text, int label_column, vkt_status want, const char *needle)
{
    vkt_dataset *ds = (vkt_dataset *)0x1;
    vkt_status st = load_csv_text(text, label_column, &ds);
    if (st != want || !strstr(rt_error_message(), needle))
        fail_msg("csv %s: status %d, message \"%s\"; wanted %d and \"%s\"", text, st, rt_error_message(), want,
                 needle);
    assert_null(ds);
}

/* n samples, each with 2 features (i, -i) and label i: a sample's label
 * names it, so loader orders can be read off the labels. */
static vkt_dataset *indexed_dataset(int n)
{
    size_t cap = (size_t)n * 32 + 32;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "x,y,label\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%d,%d\n", i, -i, i);
    vkt_dataset *ds = NULL;
    assert_int_equal(load_csv_text(text, -1, &ds), VKT_OK);
    free(text);
    return ds;
}

/* Labels of one whole epoch; checks each x matches its label. */
static void read_epoch(vkt_loader *ld, int n, int batch_size, int32_t *order)
{
    float *x = malloc((size_t)batch_size * 2 * sizeof *x);
    int32_t *labels = malloc((size_t)batch_size * sizeof *labels);
    int seen = 0, count = -1;
    for (;;) {
        assert_int_equal(vkt_loader_next(ld, x, labels, &count), VKT_OK);
        if (count == 0)
            break;
        for (int i = 0; i < count; i++) {
            assert_true(x[2 * i] == (float)labels[i] && x[2 * i + 1] == -(float)labels[i]);
            order[seen + i] = labels[i];
        }
        seen += count;
        assert_true(seen <= n);
    }
    assert_int_equal(seen, n);
    free(x);
    free(labels);
}

/* ---- IDX ------------------------------------------------------------------ */

static void check_tiny_dataset(const vkt_dataset *ds)
{
    assert_int_equal(vkt_dataset_count(ds), N_IMAGES);
    int dims[4];
    assert_int_equal(vkt_dataset_sample_shape(ds, dims), 3);
    assert_int_equal(dims[0], 1);
    assert_int_equal(dims[1], ROWS);
    assert_int_equal(dims[2], COLS);
    assert_int_equal(vkt_dataset_sample_numel(ds), ROWS * COLS);
    assert_int_equal(vkt_dataset_num_classes(ds), 10);
    for (int i = 0; i < N_IMAGES; i++)
        assert_int_equal(vkt_dataset_label(ds, (size_t)i), tiny_labels[i]);
    assert_int_equal(vkt_dataset_label(ds, N_IMAGES), -1);

    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, N_IMAGES, false, 0, &ld), VKT_OK);
    float x[N_IMAGES * ROWS * COLS];
    int32_t labels[N_IMAGES];
    int count = 0;
    assert_int_equal(vkt_loader_next(ld, x, labels, &count), VKT_OK);
    assert_int_equal(count, N_IMAGES);
    for (int im = 0; im < N_IMAGES; im++) {
        assert_int_equal(labels[im], tiny_labels[im]);
        for (int i = 0; i < ROWS * COLS; i++)
            assert_true(x[im * ROWS * COLS + i] == (float)tiny_pixel(im, i) / 255.0f);
    }
    assert_true(x[1] == 1.0f && x[0] == 0.0f);
    vkt_loader_destroy(ld);
}

static void test_idx_raw(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(0, &images, &labels);
    vkt_dataset *ds = NULL;
    assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
    check_tiny_dataset(ds);
    vkt_dataset_destroy(ds);
    free(images);
    free(labels);
}

static void test_idx_gzip(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(1, &images, &labels);
    size_t n;
    uint8_t *head = tu_read_file(images, &n);
    assert_true(n > 2 && head[0] == 0x1f && head[1] == 0x8b);
    free(head);
    vkt_dataset *ds = NULL;
    assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
    check_tiny_dataset(ds);
    vkt_dataset_destroy(ds);
    free(images);
    free(labels);
}

/* Cut `file` at every length and expect each prefix to be refused. */
static void check_every_prefix_rejected(const char *file, const char *images, const char *labels)
{
    size_t size;
    uint8_t *whole = tu_read_file(file, &size);
    assert_non_null(whole);
    for (size_t n = 0; n < size; n++) {
        assert_int_equal(tu_write_file(file, whole, n), 0);
        vkt_dataset *ds = (vkt_dataset *)0x1;
        vkt_status st = vkt_dataset_load_idx(images, labels, &ds);
        if (st != VKT_ERR_FORMAT)
            fail_msg("%s cut to %zu of %zu bytes: status %d (%s)", file, n, size, st, rt_error_message());
        assert_null(ds);
    }
    assert_int_equal(tu_write_file(file, whole, size), 0);
    free(whole);
}

static void test_idx_every_truncation_rejected(void **state)
{
    (void)state;
    for (int gzip = 0; gzip <= 1; gzip++) {
        char *images, *labels;
        write_tiny_idx(gzip, &images, &labels);
        check_every_prefix_rejected(images, images, labels);
        check_every_prefix_rejected(labels, images, labels);
        vkt_dataset *ds = NULL; /* restored intact */
        assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
        vkt_dataset_destroy(ds);
        free(images);
        free(labels);
    }
}

static void test_idx_trailing_data_rejected(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(0, &images, &labels);
    size_t n;
    uint8_t *b = tiny_images_file(&n);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 7;
    assert_int_equal(tu_write_file(images, longer, n + 1), 0);
    expect_idx_error(images, labels, VKT_ERR_FORMAT, "unexpected data");
    write_gzip(images, longer, n + 1);
    expect_idx_error(images, labels, VKT_ERR_FORMAT, "unexpected data");
    free(longer);
    free(b);
    free(images);
    free(labels);
}

static void test_idx_bad_headers(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(0, &images, &labels);
    char *other = tu_temp_path("other.idx");
    uint8_t px[12] = {0};
    size_t n;
    uint8_t *b;

    /* Labels passed as images and the other way round. */
    expect_idx_error(labels, labels, VKT_ERR_FORMAT, "magic number 0x00000801");
    expect_idx_error(images, images, VKT_ERR_FORMAT, "magic number 0x00000803");

    /* Float IDX (type 0x0d) is not supported. */
    const uint32_t dims[3] = {1, 2, 3};
    b = idx_bytes(0xd03, 3, dims, px, 12, &n);
    assert_int_equal(tu_write_file(other, b, n), 0);
    free(b);
    expect_idx_error(other, labels, VKT_ERR_FORMAT, "magic");

    /* A zero dimension. */
    const uint32_t zero_rows[3] = {1, 0, 3};
    b = idx_bytes(0x803, 3, zero_rows, px, 0, &n);
    assert_int_equal(tu_write_file(other, b, n), 0);
    free(b);
    expect_idx_error(other, labels, VKT_ERR_FORMAT, "dimension 1 is 0");

    /* Sizes whose product overflows. */
    const uint32_t huge[3] = {0x7fffffff, 0x7fffffff, 0x7fffffff};
    b = idx_bytes(0x803, 3, huge, px, 12, &n);
    assert_int_equal(tu_write_file(other, b, n), 0);
    free(b);
    expect_idx_error(other, labels, VKT_ERR_FORMAT, "too large");

    /* A header promising far more than the file holds. */
    const uint32_t big[3] = {1000000, 1000, 1000};
    b = idx_bytes(0x803, 3, big, px, 12, &n);
    assert_int_equal(tu_write_file(other, b, n), 0);
    free(b);
    expect_idx_error(other, labels, VKT_ERR_FORMAT, "truncated");

    /* A dimension beyond INT_MAX. */
    const uint32_t wide[3] = {1, 1, 0x80000000u};
    b = idx_bytes(0x803, 3, wide, px, 0, &n);
    assert_int_equal(tu_write_file(other, b, n), 0);
    free(b);
    expect_idx_error(other, labels, VKT_ERR_FORMAT, "dimension 2");

    free(other);
    free(images);
    free(labels);
}

static void test_idx_count_mismatch(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(0, &images, &labels);
    const uint32_t dims[1] = {N_IMAGES - 1};
    size_t n;
    uint8_t *b = idx_bytes(0x801, 1, dims, tiny_labels, N_IMAGES - 1, &n);
    assert_int_equal(tu_write_file(labels, b, n), 0);
    free(b);
    expect_idx_error(images, labels, VKT_ERR_FORMAT, "4 labels");
    free(images);
    free(labels);
}

static void test_idx_missing_file(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(0, &images, &labels);
    char *missing = tu_temp_path("missing.idx");
    expect_idx_error(missing, labels, VKT_ERR_IO, missing);
    expect_idx_error(images, missing, VKT_ERR_IO, missing);
    vkt_dataset *ds;
    assert_int_equal(vkt_dataset_load_idx(images, labels, NULL), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_dataset_load_idx(NULL, labels, &ds), VKT_ERR_INVALID_ARG);
    free(missing);
    free(images);
    free(labels);
}

static void test_idx_all_byte_labels(void **state)
{
    (void)state;
    char *images = tu_temp_path("wide-img.idx"), *labels = tu_temp_path("wide-lbl.idx");
    uint8_t px[2] = {1, 2}, lb[2] = {255, 254};
    const uint32_t idims[3] = {2, 1, 1}, ldims[1] = {2};
    size_t n;
    uint8_t *b = idx_bytes(0x803, 3, idims, px, 2, &n);
    write_bytes(images, b, n, 0);
    free(b);
    b = idx_bytes(0x801, 1, ldims, lb, 2, &n);
    write_bytes(labels, b, n, 0);
    free(b);
    vkt_dataset *ds = NULL;
    assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
    assert_int_equal(vkt_dataset_num_classes(ds), 256);
    assert_int_equal(vkt_dataset_label(ds, 0), 255);
    vkt_dataset_destroy(ds);
    free(images);
    free(labels);
}

static void test_fashion_mnist_if_present(void **state)
{
    (void)state;
    const char *images = FASHION_DIR "/t10k-images-idx3-ubyte.gz";
    const char *labels = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
    FILE *probe = fopen(images, "rb");
    if (!probe)
        skip();
    fclose(probe);
    vkt_dataset *ds = NULL;
    assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
    assert_int_equal(vkt_dataset_count(ds), 10000);
    int dims[4];
    assert_int_equal(vkt_dataset_sample_shape(ds, dims), 3);
    assert_int_equal(dims[1], 28);
    assert_int_equal(dims[2], 28);
    assert_int_equal(vkt_dataset_num_classes(ds), 10);
    vkt_dataset_destroy(ds);
}

/* ---- CSV ------------------------------------------------------------------ */

static void test_csv_with_header(void **state)
{
    (void)state;
    vkt_dataset *ds = NULL;
    assert_int_equal(load_csv_text("\xef\xbb\xbf" "a,b,label\n0.5,-1,2\r\n1e3, 2 ,0\n\n  \n", -1, &ds), VKT_OK);
    assert_int_equal(vkt_dataset_count(ds), 2);
    int dims[4];
    assert_int_equal(vkt_dataset_sample_shape(ds, dims), 1);
    assert_int_equal(dims[0], 2);
    assert_int_equal(vkt_dataset_sample_numel(ds), 2);
    assert_int_equal(vkt_dataset_num_classes(ds), 3);
    assert_int_equal(vkt_dataset_label(ds, 0), 2);
    assert_int_equal(vkt_dataset_label(ds, 1), 0);

    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, 8, false, 0, &ld), VKT_OK);
    float x[16];
    int32_t labels[8];
    int count = 0;
    assert_int_equal(vkt_loader_next(ld, x, labels, &count), VKT_OK);
    assert_int_equal(count, 2);
    assert_true(x[0] == 0.5f && x[1] == -1.0f && x[2] == 1000.0f && x[3] == 2.0f);
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(ds);
}

static void test_csv_without_header(void **state)
{
    (void)state;
    vkt_dataset *ds = NULL;
    assert_int_equal(load_csv_text("4,0.25,0.75\n3.0,1,2", 0, &ds), VKT_OK);
    assert_int_equal(vkt_dataset_count(ds), 2);
    assert_int_equal(vkt_dataset_label(ds, 0), 4);
    assert_int_equal(vkt_dataset_label(ds, 1), 3);
    assert_int_equal(vkt_dataset_num_classes(ds), 5);
    vkt_dataset_destroy(ds);

    /* A label column in the middle. */
    assert_int_equal(load_csv_text("1,7,2\n", 1, &ds), VKT_OK);
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, 1, false, 0, &ld), VKT_OK);
    float x[2];
    int32_t label;
    int count;
    assert_int_equal(vkt_loader_next(ld, x, &label, &count), VKT_OK);
    assert_true(count == 1 && label == 7 && x[0] == 1.0f && x[1] == 2.0f);
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(ds);
}

static void test_csv_errors(void **state)
{
    (void)state;
    expect_csv_error("a,b,c\n1,2,3\n4,5\n", -1, VKT_ERR_FORMAT, "line 3: 2 columns, expected 3");
    expect_csv_error("1,2,3\n1,2,3,4\n", -1, VKT_ERR_FORMAT, "line 2: 4 columns");
    expect_csv_error("a,b\n1,2\n1,x\n", -1, VKT_ERR_FORMAT, "line 3, column 2: label is not a number");
    expect_csv_error("h,h,h\n1,2,0\n1,zz,0\n", -1, VKT_ERR_FORMAT, "line 3, column 2: not a number (\"zz\")");
    expect_csv_error("1,2,0\n1,2,-1\n", -1, VKT_ERR_FORMAT, "line 2, column 3: label is not an integer");
    expect_csv_error("1,2,0\n1,2,1.5\n", -1, VKT_ERR_FORMAT, "line 2, column 3");
    expect_csv_error("1,2,0\n1,2,99999999\n", -1, VKT_ERR_FORMAT, "line 2, column 3");
    expect_csv_error("1,2,0\nnan,2,1\n", -1, VKT_ERR_FORMAT, "line 2, column 1: feature is not finite");
    expect_csv_error("1,2,0\n1,-inf,1\n", -1, VKT_ERR_FORMAT, "line 2, column 2: feature is not finite");
    expect_csv_error("1,2,0\n1,1e39,1\n", -1, VKT_ERR_FORMAT, "line 2, column 2: feature is not finite");
    expect_csv_error("1,2,0\n1,,1\n", -1, VKT_ERR_FORMAT, "line 2, column 2: empty field");
    expect_csv_error("1,2,0\n1,2,\n", -1, VKT_ERR_FORMAT, "line 2, column 3: empty label");
    expect_csv_error("1,2,0\n\n1,2,1\n", -1, VKT_ERR_FORMAT, "line 3: data after the blank line 2");
    expect_csv_error("a,b\nc,d\n", -1, VKT_ERR_FORMAT, "line 2, column 2: label is not a number");
    expect_csv_error("a,b,c\n", -1, VKT_ERR_FORMAT, "no data rows");
    expect_csv_error("", -1, VKT_ERR_FORMAT, "no data rows");
    expect_csv_error("1\n2\n", 0, VKT_ERR_FORMAT, "line 1: need a label");
    expect_csv_error("1,2,3\n", 3, VKT_ERR_INVALID_ARG, "label column 3");
    expect_csv_error("1,2,3\n", -4, VKT_ERR_INVALID_ARG, "label column -4");

    vkt_dataset *ds = (vkt_dataset *)0x1;
    char *missing = tu_temp_path("missing.csv");
    assert_int_equal(vkt_dataset_load_csv(missing, 0, &ds), VKT_ERR_IO);
    assert_null(ds);
    assert_non_null(strstr(rt_error_message(), missing));
    free(missing);
}

/* ---- filter ---------------------------------------------------------------- */

static void test_filter_labels(void **state)
{
    (void)state;
    vkt_dataset *ds = indexed_dataset(10);
    vkt_dataset *sub = NULL;
    assert_int_equal(vkt_dataset_filter_labels(ds, 3, 5, &sub), VKT_OK);
    assert_int_equal(vkt_dataset_count(sub), 3);
    assert_int_equal(vkt_dataset_num_classes(sub), 6);
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(sub, 2, false, 0, &ld), VKT_OK);
    int32_t order[3];
    read_epoch(ld, 3, 2, order); /* also checks features came along */
    assert_true(order[0] == 3 && order[1] == 4 && order[2] == 5);
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(sub);

    /* The copy does not depend on the original. */
    assert_int_equal(vkt_dataset_filter_labels(ds, 0, 0, &sub), VKT_OK);
    vkt_dataset_destroy(ds);
    assert_int_equal(vkt_dataset_count(sub), 1);
    assert_int_equal(vkt_dataset_label(sub, 0), 0);

    vkt_dataset *empty = NULL;
    assert_int_equal(vkt_dataset_filter_labels(sub, 5, 9, &empty), VKT_OK);
    assert_int_equal(vkt_dataset_count(empty), 0);
    assert_int_equal(vkt_dataset_num_classes(empty), 0);
    assert_int_equal(vkt_loader_create(empty, 4, false, 0, &ld), VKT_ERR_INVALID_ARG);
    assert_null(ld);
    vkt_dataset_destroy(empty);

    vkt_dataset *bad = (vkt_dataset *)0x1;
    assert_int_equal(vkt_dataset_filter_labels(sub, 2, 1, &bad), VKT_ERR_INVALID_ARG);
    assert_null(bad);
    vkt_dataset_destroy(sub);
}

static void test_filter_keeps_pixels(void **state)
{
    (void)state;
    char *images, *labels;
    write_tiny_idx(1, &images, &labels);
    vkt_dataset *ds = NULL, *sub = NULL;
    assert_int_equal(vkt_dataset_load_idx(images, labels, &ds), VKT_OK);
    assert_int_equal(vkt_dataset_filter_labels(ds, 3, 3, &sub), VKT_OK); /* images 1 and 3 */
    assert_int_equal(vkt_dataset_count(sub), 2);
    int dims[4];
    assert_int_equal(vkt_dataset_sample_shape(sub, dims), 3);
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(sub, 2, false, 0, &ld), VKT_OK);
    float x[2 * ROWS * COLS];
    int32_t lb[2];
    int count;
    assert_int_equal(vkt_loader_next(ld, x, lb, &count), VKT_OK);
    assert_int_equal(count, 2);
    for (int i = 0; i < ROWS * COLS; i++) {
        assert_true(x[i] == (float)tiny_pixel(1, i) / 255.0f);
        assert_true(x[ROWS * COLS + i] == (float)tiny_pixel(3, i) / 255.0f);
    }
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(sub);
    vkt_dataset_destroy(ds);
    free(images);
    free(labels);
}

/* ---- loader ------------------------------------------------------------------ */

static void test_loader_file_order_and_partial_batch(void **state)
{
    (void)state;
    vkt_dataset *ds = indexed_dataset(10);
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, 4, false, 123, &ld), VKT_OK);
    assert_int_equal(vkt_loader_batches_per_epoch(ld), 3);

    float x[8];
    int32_t labels[4];
    int count;
    const int expected_counts[3] = {4, 4, 2};
    for (int epoch = 0; epoch < 2; epoch++) {
        assert_int_equal(vkt_loader_epoch(ld), epoch);
        for (int b = 0; b < 3; b++) {
            assert_int_equal(vkt_loader_batch_index(ld), b);
            assert_int_equal(vkt_loader_next(ld, x, labels, &count), VKT_OK);
            assert_int_equal(count, expected_counts[b]);
            for (int i = 0; i < count; i++)
                assert_int_equal(labels[i], 4 * b + i);
        }
        assert_int_equal(vkt_loader_next(ld, x, labels, &count), VKT_OK);
        assert_int_equal(count, 0);
    }
    assert_int_equal(vkt_loader_epoch(ld), 2);
    assert_int_equal(vkt_loader_batch_index(ld), 0);
    assert_int_equal(vkt_loader_next(ld, x, NULL, &count), VKT_ERR_INVALID_ARG);
    vkt_loader_destroy(ld);

    assert_int_equal(vkt_loader_create(ds, 10, false, 0, &ld), VKT_OK);
    assert_int_equal(vkt_loader_batches_per_epoch(ld), 1);
    vkt_loader_destroy(ld);
    assert_int_equal(vkt_loader_create(ds, 0, false, 0, &ld), VKT_ERR_INVALID_ARG);
    assert_null(ld);
    assert_int_equal(vkt_loader_create(NULL, 4, false, 0, &ld), VKT_ERR_INVALID_ARG);
    vkt_dataset_destroy(ds);
}

#define SHUFFLE_N 50

static void shuffled_epoch(const vkt_dataset *ds, int batch_size, uint64_t seed, int64_t epoch, int32_t *order)
{
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, batch_size, true, seed, &ld), VKT_OK);
    assert_int_equal(vkt_loader_seek(ld, epoch, 0), VKT_OK);
    read_epoch(ld, SHUFFLE_N, batch_size, order);
    assert_int_equal(vkt_loader_epoch(ld), epoch + 1);
    vkt_loader_destroy(ld);
}

static void test_loader_shuffle(void **state)
{
    (void)state;
    vkt_dataset *ds = indexed_dataset(SHUFFLE_N);
    int32_t a[SHUFFLE_N], b[SHUFFLE_N];

    /* A permutation, and not the identity. */
    shuffled_epoch(ds, 7, 42, 0, a);
    int seen[SHUFFLE_N] = {0};
    int in_place = 0;
    for (int i = 0; i < SHUFFLE_N; i++) {
        assert_in_range(a[i], 0, SHUFFLE_N - 1);
        seen[a[i]]++;
        in_place += a[i] == i;
    }
    for (int i = 0; i < SHUFFLE_N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(in_place < SHUFFLE_N);

    /* Same (seed, epoch): same order, whatever the batch size. */
    shuffled_epoch(ds, 50, 42, 0, b);
    assert_memory_equal(a, b, sizeof a);
    shuffled_epoch(ds, 1, 42, 0, b);
    assert_memory_equal(a, b, sizeof a);

    /* Another epoch or another seed: another order. */
    shuffled_epoch(ds, 7, 42, 1, b);
    assert_memory_not_equal(a, b, sizeof a);
    shuffled_epoch(ds, 7, 43, 0, b);
    assert_memory_not_equal(a, b, sizeof a);

    /* Reading on from epoch 0 gives epoch 1's order too. */
    vkt_loader *ld = NULL;
    assert_int_equal(vkt_loader_create(ds, 7, true, 42, &ld), VKT_OK);
    read_epoch(ld, SHUFFLE_N, 7, b);
    assert_memory_equal(a, b, sizeof a);
    int32_t c[SHUFFLE_N];
    read_epoch(ld, SHUFFLE_N, 7, c);
    shuffled_epoch(ds, 7, 42, 1, b);
    assert_memory_equal(b, c, sizeof c);
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(ds);
}

static void test_loader_seek(void **state)
{
    (void)state;
    vkt_dataset *ds = indexed_dataset(SHUFFLE_N);
    const int bs = 8; /* 7 batches, the last of 2 */
    vkt_loader *ld = NULL, *resumed = NULL;
    assert_int_equal(vkt_loader_create(ds, bs, true, 9, &ld), VKT_OK);
    assert_int_equal(vkt_loader_create(ds, bs, true, 9, &resumed), VKT_OK);
    assert_int_equal(vkt_loader_batches_per_epoch(ld), 7);

    /* Run through epochs 0..2 and into epoch 3; remember batch 3 of 3. */
    float x[16], rx[16];
    int32_t lb[8], rlb[8];
    int count, rcount;
    int32_t order[SHUFFLE_N];
    for (int e = 0; e < 3; e++)
        read_epoch(ld, SHUFFLE_N, bs, order);
    for (int b = 0; b < 3; b++)
        assert_int_equal(vkt_loader_next(ld, x, lb, &count), VKT_OK);

    assert_int_equal(vkt_loader_seek(resumed, 3, 3), VKT_OK);
    assert_int_equal(vkt_loader_epoch(resumed), 3);
    assert_int_equal(vkt_loader_batch_index(resumed), 3);
    for (int b = 3; b <= 7; b++) {
        assert_int_equal(vkt_loader_next(ld, x, lb, &count), VKT_OK);
        assert_int_equal(vkt_loader_next(resumed, rx, rlb, &rcount), VKT_OK);
        assert_int_equal(count, rcount);
        assert_int_equal(count, b < 6 ? bs : b == 6 ? 2 : 0);
        assert_memory_equal(lb, rlb, (size_t)count * sizeof *lb);
        assert_memory_equal(x, rx, (size_t)count * 2 * sizeof *x);
    }
    assert_int_equal(vkt_loader_epoch(resumed), 4);

    /* Seeking to the end of an epoch leaves just the end marker. */
    assert_int_equal(vkt_loader_seek(resumed, 0, 7), VKT_OK);
    assert_int_equal(vkt_loader_next(resumed, rx, rlb, &rcount), VKT_OK);
    assert_int_equal(rcount, 0);
    assert_int_equal(vkt_loader_epoch(resumed), 1);

    assert_int_equal(vkt_loader_seek(resumed, 0, 8), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_loader_seek(resumed, -1, 0), VKT_ERR_INVALID_ARG);
    vkt_loader_destroy(resumed);
    vkt_loader_destroy(ld);
    vkt_dataset_destroy(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_raw),
        cmocka_unit_test(test_idx_gzip),
        cmocka_unit_test(test_idx_every_truncation_rejected),
        cmocka_unit_test(test_idx_trailing_data_rejected),
        cmocka_unit_test(test_idx_bad_headers),
        cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_missing_file),
        cmocka_unit_test(test_idx_all_byte_labels),
        cmocka_unit_test(test_fashion_mnist_if_present),
        cmocka_unit_test(test_csv_with_header),
        cmocka_unit_test(test_csv_without_header),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_filter_labels),
        cmocka_unit_test(test_filter_keeps_pixels),
        cmocka_unit_test(test_loader_file_order_and_partial_batch),
        cmocka_unit_test(test_loader_shuffle),
        cmocka_unit_test(test_loader_seek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
