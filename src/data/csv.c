/* Numeric CSV reader: one sample per line, comma separated, one column
 * an integer class label and the rest float features.
 *
 * Numbers are parsed in the "C" locale whatever the application's locale
 * is, so "0.5" always means one half. Errors give the line (and column)
 * so a user can find the bad spot in a large file. Accepted leniencies:
 * a UTF-8 byte-order mark, CRLF line ends, spaces around numbers, labels
 * written as "3.0", and blank lines at the end of the file. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "runtime/rt_error.h"

#define FIRST_ROW_CAPACITY 256

typedef struct csv_reader {
    const char *path;
    int label_arg;       /* label_column as the caller gave it */
    locale_t c_locale;
    size_t line_no;      /* 1-based line being parsed */
    size_t blank_line;   /* first blank line seen, 0 if none */
    bool header_checked; /* the first non-blank line was looked at */
    int columns;         /* 0 until the first data row */
    int label_column;    /* resolved, 0-based */
    char **fields;       /* scratch: start of each field in the line */
    int fields_cap;
    float *row;          /* scratch: features of the row being parsed */
    vkt_dataset *ds;
    size_t capacity;     /* rows allocated in ds */
} csv_reader;

static bool is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* Drop the line end (LF or CRLF) and, on line 1, a UTF-8 BOM. */
static char *trim_line(char *line, ssize_t len, size_t line_no)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (line_no == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
        line += 3;
    return line;
}

/* Split at commas, in place; returns the field count or -1 on memory. */
static int split_fields(csv_reader *r, char *line)
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n == r->fields_cap) {
            if (r->fields_cap > INT_MAX / 2)
                return -1;
            int cap = r->fields_cap ? 2 * r->fields_cap : 16;
            char **bigger = realloc(r->fields, (size_t)cap * sizeof *bigger);
            if (!bigger)
                return -1;
            r->fields = bigger;
            r->fields_cap = cap;
        }
        r->fields[n++] = p;
        p = strchr(p, ',');
        if (!p)
            return n;
        *p = '\0';
    }
}

/* A whole field as a number, surrounding spaces allowed. */
static bool parse_number(const csv_reader *r, const char *field, double *out)
{
    char *end;
    double v = strtod_l(field, &end, r->c_locale);
    if (end == field || !is_blank(end))
        return false;
    *out = v;
    return true;
}

static bool row_is_numeric(const csv_reader *r, int nfields)
{
    double unused;
    for (int i = 0; i < nfields; i++)
        if (!parse_number(r, r->fields[i], &unused))
            return false;
    return true;
}

static vkt_status field_error(const csv_reader *r, int column, const char *problem)
{
    const char *text = r->fields[column];
    while (*text == ' ' || *text == '\t')
        text++;
    bool show = *text != '\0';
    return rt_error(VKT_ERR_FORMAT, "'%s' line %zu, column %d: %s%s%.40s%s", r->path, r->line_no, column + 1,
                    problem, show ? " (\"" : "", text, show ? "\")" : "");
}

static vkt_status parse_label(const csv_reader *r, int column, int32_t *label)
{
    double v;
    if (!parse_number(r, r->fields[column], &v))
        return field_error(r, column, is_blank(r->fields[column]) ? "empty label" : "label is not a number");
    if (!(v >= 0 && v <= DS_MAX_LABEL) || v != floor(v))
        return field_error(r, column, "label is not an integer in 0.." DS_MAX_LABEL_TEXT);
    *label = (int32_t)v;
    return VKT_OK;
}

static vkt_status parse_feature(const csv_reader *r, int column, float *value)
{
    const char *field = r->fields[column];
    char *end;
    float v = strtof_l(field, &end, r->c_locale);
    if (end == field || !is_blank(end))
        return field_error(r, column, is_blank(field) ? "empty field" : "not a number");
    if (!isfinite(v))
        return field_error(r, column, "feature is not finite");
    *value = v;
    return VKT_OK;
}

/* The first data row fixes the column count, the label column and the
 * dataset's sample shape. */
static vkt_status start_data(csv_reader *r, int nfields)
{
    if (nfields < 2)
        return rt_error(VKT_ERR_FORMAT, "'%s' line %zu: need a label and at least one feature, found %d column",
                        r->path, r->line_no, nfields);
    int label = r->label_arg < 0 ? nfields + r->label_arg : r->label_arg;
    if (label < 0 || label >= nfields)
        return rt_error(VKT_ERR_INVALID_ARG, "'%s': label column %d is out of range for %d columns", r->path,
                        r->label_arg, nfields);
    r->columns = nfields;
    r->label_column = label;
    r->row = malloc((size_t)(nfields - 1) * sizeof *r->row);
    if (!r->row)
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory", r->path);
    const int dims[1] = {nfields - 1};
    return ds_create(DS_STORAGE_F32, 0, 1, dims, &r->ds);
}

static vkt_status grow_rows(csv_reader *r)
{
    vkt_dataset *ds = r->ds;
    size_t cap = r->capacity ? 2 * r->capacity : FIRST_ROW_CAPACITY;
    if (cap < r->capacity || cap > SIZE_MAX / sizeof(float) / ds->sample_numel)
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': too many rows", r->path);
    float *features = realloc(ds->features, cap * ds->sample_numel * sizeof(float));
    if (features)
        ds->features = features;
    int32_t *labels = features ? realloc(ds->labels, cap * sizeof(int32_t)) : NULL;
    if (labels)
        ds->labels = labels;
    if (!features || !labels)
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory at line %zu", r->path, r->line_no);
    r->capacity = cap;
    return VKT_OK;
}

static vkt_status add_row(csv_reader *r, int nfields)
{
    if (nfields != r->columns)
        return rt_error(VKT_ERR_FORMAT, "'%s' line %zu: %d columns, expected %d as on the first data row", r->path,
                        r->line_no, nfields, r->columns);
    int32_t label = 0;
    vkt_status st = parse_label(r, r->label_column, &label);
    for (int c = 0, f = 0; st == VKT_OK && c < nfields; c++)
        if (c != r->label_column)
            st = parse_feature(r, c, &r->row[f++]);
    if (st == VKT_OK && r->ds->count == r->capacity)
        st = grow_rows(r);
    if (st != VKT_OK)
        return st;

    vkt_dataset *ds = r->ds;
    memcpy(ds->features + ds->count * ds->sample_numel, r->row, ds->sample_numel * sizeof(float));
    ds->labels[ds->count] = label;
    ds->count++;
    return VKT_OK;
}

static vkt_status parse_line(csv_reader *r, char *line)
{
    if (is_blank(line)) {
        if (!r->blank_line)
            r->blank_line = r->line_no;
        return VKT_OK;
    }
    if (r->blank_line)
        return rt_error(VKT_ERR_FORMAT, "'%s' line %zu: data after the blank line %zu", r->path, r->line_no,
                        r->blank_line);

    int nfields = split_fields(r, line);
    if (nfields < 0)
        return rt_error(VKT_ERR_NO_MEMORY, "'%s': out of memory at line %zu", r->path, r->line_no);
    if (!r->header_checked) {
        r->header_checked = true;
        if (!row_is_numeric(r, nfields))
            return VKT_OK; /* a header line */
    }
    vkt_status st = VKT_OK;
    if (r->columns == 0)
        st = start_data(r, nfields);
    if (st == VKT_OK)
        st = add_row(r, nfields);
    return st;
}

static vkt_status read_lines(csv_reader *r, FILE *fp)
{
    char *buf = NULL;
    size_t buf_cap = 0;
    vkt_status st = VKT_OK;
    while (st == VKT_OK) {
        errno = 0;
        ssize_t len = getline(&buf, &buf_cap, fp);
        if (len < 0)
            break;
        r->line_no++;
        st = parse_line(r, trim_line(buf, len, r->line_no));
    }
    if (st == VKT_OK && ferror(fp))
        st = rt_error(errno == ENOMEM ? VKT_ERR_NO_MEMORY : VKT_ERR_IO, "reading '%s' failed: %s", r->path,
                      strerror(errno ? errno : EIO));
    free(buf);
    return st;
}

/* Give back the unused row capacity; failing to is harmless. */
static void shrink_to_fit(vkt_dataset *ds)
{
    float *features = realloc(ds->features, ds->count * ds->sample_numel * sizeof(float));
    if (features)
        ds->features = features;
    int32_t *labels = realloc(ds->labels, ds->count * sizeof(int32_t));
    if (labels)
        ds->labels = labels;
}

vkt_status vkt_dataset_load_csv(const char *path, int label_column, vkt_dataset **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_load_csv: no output pointer");
    *out = NULL;
    if (!path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_dataset_load_csv: no path");

    FILE *fp = fopen(path, "r");
    if (!fp)
        return rt_error(VKT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    csv_reader r = {.path = path, .label_arg = label_column};
    r.c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    vkt_status st = r.c_locale ? read_lines(&r, fp) : rt_error(VKT_ERR_NO_MEMORY, "out of memory for a C locale");
    fclose(fp);

    if (st == VKT_OK && (!r.ds || r.ds->count == 0))
        st = rt_error(VKT_ERR_FORMAT, "'%s': no data rows", path);
    if (r.c_locale)
        freelocale(r.c_locale);
    free(r.fields);
    free(r.row);
    if (st != VKT_OK) {
        vkt_dataset_destroy(r.ds);
        return st;
    }
    shrink_to_fit(r.ds);
    ds_update_num_classes(r.ds);
    *out = r.ds;
    return VKT_OK;
}
