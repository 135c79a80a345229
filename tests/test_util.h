/* Shared helpers for the cmocka tests. */
#ifndef VKT_TEST_UTIL_H
#define VKT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Deterministic pseudo-random floats in [lo, hi). */
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Largest |a - b| / max(1, |b|) over n elements. */
double tu_max_rel_diff(const float *a, const float *b, size_t n);
/* A fresh path under a per-process temp directory (caller frees). */
char *tu_temp_path(const char *name);
/* Write bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t n);
/* Read a whole file (caller frees); NULL on failure. */
void *tu_read_file(const char *path, size_t *n);

#endif
