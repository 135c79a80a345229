/* vkbench: entry point. Expands the device list, runs every model x
 * policy on each device, prints the tables and writes the JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_DEVICES 64

void bench_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("vkbench: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static void print_library_warning(vkt_log_level level, const char *message, void *user)
{
    (void)user;
    if (level >= VKT_LOG_WARN)
        fprintf(stderr, "vkbench: warning: %s\n", message);
}

typedef struct device_spec {
    char spec[32];
    int threads;
} device_spec;

static int add_spec(device_spec *out, int n, const char *spec, int threads)
{
    if (n < MAX_DEVICES) {
        snprintf(out[n].spec, sizeof out[n].spec, "%s", spec);
        out[n].threads = threads;
        n++;
    }
    return n;
}

/* CPU once per thread count; "all" is the CPU plus every Vulkan device. */
static int expand_devices(const bench_options *o, device_spec *out)
{
    int n = 0;
    for (int i = 0; i < o->device_count; i++) {
        const char *d = o->devices[i];
        bool all = strcmp(d, "all") == 0;
        if (all || strcmp(d, "cpu") == 0)
            for (int t = 0; t < o->thread_count; t++)
                n = add_spec(out, n, "cpu", o->threads[t]);
        if (!all) {
            if (strcmp(d, "cpu") != 0)
                n = add_spec(out, n, d, 1);
            continue;
        }
        vkt_device_info devs[16];
        int count = 0;
        if (vkt_list_devices(devs, 16, &count) != VKT_OK)
            continue; /* no Vulkan: "all" is the CPU */
        for (int k = 0; k < count && k < 16; k++) {
            char spec[32];
            snprintf(spec, sizeof spec, "vulkan:%d", k);
            n = add_spec(out, n, spec, 1);
        }
    }
    return n;
}

static void report(const bench_result *r, const bench_options *o)
{
    bench_print_result(r);
    if (o->per_op)
        bench_print_ops(r);
    fflush(stdout);
}

/* Every policy of one model, one repeat of each in turn. */
static void measure_interleaved(const bench_device *d, const bench_options *o, model_kind model,
                                bench_result *results)
{
    bench_run *runs[BENCH_MAX_LIST];
    for (int p = 0; p < o->policy_count; p++)
        runs[p] = bench_run_begin(d, o, model, o->policies[p], &results[p]);
    for (int rep = 0; rep < o->repeats; rep++)
        for (int p = 0; p < o->policy_count; p++)
            if (runs[p] && !bench_run_repeat(runs[p], rep))
                runs[p] = NULL;
    for (int p = 0; p < o->policy_count; p++) {
        if (runs[p])
            bench_run_end(runs[p]);
        report(&results[p], o);
    }
}

static void print_config(const bench_options *o)
{
    printf("vkbench %s: batch %d, %d timed + %d profiled steps after %d warm-up, %s%s%s%s, synthetic inputs, "
           "mnv2 at 3x%dx%d\n",
           vkt_version(), o->batch, o->repeats, o->repeats, o->warmup,
           o->optimizer == VKT_OPT_SGD ? "SGD momentum 0.9" : "AdamW", o->fp16 ? ", fp16 activations" : "",
           o->recompute ? ", recompute" : "", o->freeze_bn ? ", frozen BN statistics" : "", o->image_size,
           o->image_size);
    if (o->frozen_chunk != 0)
        printf("frozen prefix chunk: %d\n", o->frozen_chunk);
    if (o->micro_batch != 0)
        printf("micro-batch: %d samples\n", o->micro_batch);
    printf("step: ordinary step waited for (median [min .. max]); fwd/bwd/opt: per-launch timed steps; "
           "memory: planned (vkt_trainer_memory)%s\n",
           o->interleave ? "; policies interleaved, peak RSS of the process" : "");
}

/* Parsing splits lists in place: it gets copies, the JSON the original. */
static char **copy_args(int argc, char **argv)
{
    char **copy = calloc((size_t)argc + 1, sizeof *copy);
    for (int i = 0; copy && i < argc; i++)
        if (!(copy[i] = strdup(argv[i])))
            return NULL; /* exits at once: nothing to free */
    return copy;
}

static void free_args(int argc, char **args)
{
    for (int i = 0; args && i < argc; i++)
        free(args[i]);
    free(args);
}

static int run(int argc, char **argv, char **args)
{
    bench_options o;
    bench_parse_result pr = bench_parse_options(argc - 1, args + 1, &o);
    if (pr != BENCH_PARSE_OK)
        return pr == BENCH_PARSE_HELP ? 0 : 1;
    vkt_set_log_callback(print_library_warning, NULL);

    device_spec specs[MAX_DEVICES];
    int nd = expand_devices(&o, specs);
    bench_device *devices = calloc((size_t)nd + 1, sizeof *devices);
    size_t max_results = (size_t)nd * (size_t)o.model_count * (size_t)o.policy_count + 1;
    bench_result *results = calloc(max_results, sizeof *results);
    if (!devices || !results) {
        bench_error("out of memory");
        return 1;
    }
    print_config(&o);
    int nr = 0;
    for (int i = 0; i < nd; i++) {
        bench_device *d = &devices[i];
        bench_device_open(d, specs[i].spec, specs[i].threads);
        bench_print_banner(d, &o);
        if (!d->ok)
            continue;
        bench_print_header();
        for (int m = 0; m < o.model_count; m++) {
            if (o.interleave) {
                measure_interleaved(d, &o, o.models[m], &results[nr]);
                nr += o.policy_count;
                continue;
            }
            for (int p = 0; p < o.policy_count; p++) {
                bench_result *r = &results[nr++];
                bench_measure(d, &o, o.models[m], o.policies[p], r);
                report(r, &o);
            }
        }
        bench_device_close(d);
    }
    bool ok = !o.json_path || bench_write_json(o.json_path, argc - 1, argv + 1, &o, devices, nd, results, nr);
    for (int i = 0; i < nr; i++)
        bench_result_free(&results[i]);
    free(results);
    free(devices);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    char **args = copy_args(argc, argv);
    if (!args) {
        bench_error("out of memory");
        return 1;
    }
    int status = run(argc, argv, args);
    free_args(argc, args);
    return status;
}
