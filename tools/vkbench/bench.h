/* vkbench: training-step benchmarks per model, trainable policy and
 * device, through the public API only (<vktrain/vktrain.h>), like any
 * app. What its files share. */
#ifndef VKBENCH_H
#define VKBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/vktrain.h>

#include "../common/models.h"

#define BENCH_MAX_LIST 16

typedef struct bench_options {
    model_kind models[BENCH_MAX_LIST];
    int model_count;
    const char *devices[BENCH_MAX_LIST]; /* "cpu", "vulkan", "vulkan:N" ("all" expanded) */
    int device_count;
    int threads[BENCH_MAX_LIST]; /* CPU: one run per entry (0: all cores) */
    int thread_count;
    const char *policies[BENCH_MAX_LIST]; /* as vkt_trainable_parse reads them */
    int policy_count;
    int batch;
    int repeats;   /* timed steps (and as many profiled ones) */
    int warmup;    /* untimed steps first: plans compile, caches fill */
    int image_size; /* mnv2 input side (32 or 64) */
    vkt_optimizer_kind optimizer;
    uint64_t seed;
    bool fp16;      /* trainer option fp16_activations */
    bool recompute; /* trainer option recompute */
    bool freeze_bn; /* trainer option freeze_bn_stats */
    int frozen_chunk; /* trainer option frozen_chunk */
    int micro_batch;  /* trainer option micro_batch */
    bool per_op;
    /* Alternate the policies of a model repeat by repeat (all trainers
     * alive at once), so load changes hit every policy alike; peak RSS
     * is then the process's. */
    bool interleave;
    const char *json_path;
} bench_options;

/* ---- options.c ---- */

typedef enum bench_parse_result { BENCH_PARSE_OK, BENCH_PARSE_HELP, BENCH_PARSE_ERROR } bench_parse_result;
bench_parse_result bench_parse_options(int argc, char **argv, bench_options *out);

/* ---- main.c ---- */

/* "vkbench: error: ..." on stderr. */
void bench_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- device.c: one device (or CPU thread count) to run on ---- */

typedef struct bench_device {
    char spec[32];      /* what vkt_context_create was given, e.g. "vulkan:0" */
    char id[48];        /* how results name it, e.g. "cpu:2t" or "vulkan:0" */
    bool ok;
    char reason[512];   /* why it could not be opened */
    int threads_asked;
    vkt_context *ctx;
    vkt_context_info info;
    char label[300];    /* vkt_context_device_name */
    char cpu_model[128]; /* the host CPU (from /proc/cpuinfo), "" if unknown */
} bench_device;

void bench_device_open(bench_device *d, const char *spec, int threads);
void bench_device_close(bench_device *d);
/* The host CPU's model name, "" if unknown. */
void bench_cpu_model(char *buf, size_t size);

/* ---- measure.c: one model x policy on one device ---- */

typedef struct bench_stat {
    double median, min, max; /* milliseconds */
} bench_stat;

typedef struct bench_op {
    int node;
    char op[32];
    char name[96];
    bench_stat forward, backward, optimizer;
    int launches;
} bench_op;

typedef struct bench_result {
    const bench_device *device;
    model_kind model;
    char policy[32];
    bool ok;             /* false: skipped, `reason` says why */
    char reason[512];
    double setup_ms;     /* trainer creation and step compilation */
    bench_stat step;     /* ordinary steps, each waited for */
    double samples_per_s; /* batch / median step */
    bool phases_ok;      /* per-launch timing worked */
    char phases_reason[512];
    bench_stat forward, backward, optimizer, launch_total;
    int launches;
    vkt_memory_report memory;
    size_t trainable;    /* parameter values the step updates */
    uint64_t peak_rss;   /* bytes */
    bool rss_per_run;    /* peak reset before this run; else since process start */
    bench_op *ops;       /* per_op only */
    int op_count;
} bench_result;

/* The whole run, fills *out (ok false: skipped, with the reason). */
void bench_measure(const bench_device *d, const bench_options *o, model_kind model, const char *policy,
                   bench_result *out);
/* The same in steps: begin (model, trainer, warm-up; NULL when the run
 * is skipped, *out saying why), one repeat at a time (false: it failed,
 * *out says why and the run is gone), end (statistics into *out). */
typedef struct bench_run bench_run;
bench_run *bench_run_begin(const bench_device *d, const bench_options *o, model_kind model, const char *policy,
                           bench_result *out);
bool bench_run_repeat(bench_run *run, int rep);
void bench_run_end(bench_run *run);
void bench_result_free(bench_result *r);

/* ---- report.c: the readable tables ---- */

void bench_print_banner(const bench_device *d, const bench_options *o);
void bench_print_header(void);
void bench_print_result(const bench_result *r);
void bench_print_ops(const bench_result *r);

/* ---- json_out.c ---- */

/* One object: the command, configuration, devices and every result.
 * Written atomically enough for a tool: temp file, then rename. */
bool bench_write_json(const char *path, int argc, char **argv, const bench_options *o, const bench_device *devices,
                      int device_count, const bench_result *results, int result_count);

#endif
