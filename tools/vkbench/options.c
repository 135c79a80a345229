/* vkbench command line: lists are comma-separated, numbers strict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char usage[] =
    "usage: vkbench [options]\n"
    "\n"
    "Times training steps of the built-in models on each device and trainable\n"
    "policy: forward, backward, optimizer and whole-step time (median, min, max\n"
    "over repeats), samples/s, planned memory by category and peak RSS.\n"
    "\n"
    "  --model LIST     mlp, cnn, mnv2, transformer or all (default all)\n"
    "  --device LIST    cpu, vulkan, vulkan:N or all (default cpu)\n"
    "  --threads LIST   CPU worker threads, one run each (default 0: all cores)\n"
    "  --policy LIST    full, bias, last:K, channels:FRAC, lora:R (default full;\n"
    "                   lora:R adds an adapter to every linear and 1x1 conv)\n"
    "  --batch N        samples per step (default 64)\n"
    "  --repeats N      timed steps, and as many profiled ones (default 20)\n"
    "  --warmup N       untimed steps first (default 3)\n"
    "  --size N         mnv2 input side: 32 or 64 (default 32)\n"
    "  --optimizer NAME sgd (momentum 0.9) or adamw (default sgd)\n"
    "  --seed N         weights and synthetic data (default 1)\n"
    "  --fp16           keep saved activations in fp16 (trainer option)\n"
    "  --recompute      recompute cheap layers in backward (trainer option)\n"
    "  --freeze-bn      frozen batch norm layers use running statistics (trainer option)\n"
    "  --frozen-chunk N samples per chunk of the frozen prefix: 0 picks (default), -1 off\n"
    "  --micro-batch N  forward and backward N samples at a time, gradients summed\n"
    "  --per-op         also a table per graph node\n"
    "  --interleave     alternate a model's policies step by step, so that load\n"
    "                   changes hit all alike (peak RSS is then the process's)\n"
    "  --json FILE      also write every figure as JSON\n"
    "\n"
    "Inputs are synthetic (seeded uniform images, random labels). A policy a\n"
    "model cannot use is reported as skipped with the reason.\n";

static bool parse_int(const char *opt, const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        bench_error("invalid value '%s' for %s (expected an integer in %ld..%ld)", text, opt, min, max);
        return false;
    }
    *out = (int)v;
    return true;
}

/* Split a comma list in place (the strings stay in argv). */
static int split_list(char *text, const char **items, int max, const char *opt)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            bench_error("%s: at most %d entries", opt, max);
            return -1;
        }
        items[n++] = tok;
    }
    if (n == 0)
        bench_error("%s: empty list", opt);
    return n ? n : -1;
}

static bool parse_models(char *text, bench_options *o)
{
    const char *items[BENCH_MAX_LIST];
    int n = split_list(text, items, BENCH_MAX_LIST, "--model");
    o->model_count = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(items[i], "all") == 0) {
            for (int k = 0; k < MODEL_KIND_COUNT; k++)
                o->models[o->model_count++] = (model_kind)k;
            continue;
        }
        model_kind kind;
        if (!model_from_name(items[i], &kind)) {
            bench_error("unknown model '%s' (expected mlp, cnn, mnv2, transformer or all)", items[i]);
            return false;
        }
        if (o->model_count == BENCH_MAX_LIST) {
            bench_error("--model: too many entries");
            return false;
        }
        o->models[o->model_count++] = kind;
    }
    return n > 0;
}

static bool parse_devices(char *text, bench_options *o)
{
    int n = split_list(text, o->devices, BENCH_MAX_LIST, "--device");
    if (n < 0)
        return false;
    o->device_count = n;
    for (int i = 0; i < n; i++) {
        const char *d = o->devices[i];
        if (strcmp(d, "cpu") != 0 && strcmp(d, "vulkan") != 0 && strcmp(d, "all") != 0 &&
            strncmp(d, "vulkan:", 7) != 0) {
            bench_error("unknown device '%s' (expected cpu, vulkan, vulkan:N or all)", d);
            return false;
        }
    }
    return true;
}

static bool parse_threads(char *text, bench_options *o)
{
    const char *items[BENCH_MAX_LIST];
    int n = split_list(text, items, BENCH_MAX_LIST, "--threads");
    for (int i = 0; i < n; i++)
        if (!parse_int("--threads", items[i], 0, 256, &o->threads[i]))
            return false;
    o->thread_count = n;
    return n > 0;
}

static bool parse_policies(char *text, bench_options *o)
{
    int n = split_list(text, o->policies, BENCH_MAX_LIST, "--policy");
    o->policy_count = n > 0 ? n : 0;
    return n > 0; /* each is checked by vkt_trainable_parse when it runs */
}

bench_parse_result bench_parse_options(int argc, char **argv, bench_options *o)
{
    memset(o, 0, sizeof *o);
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        o->models[o->model_count++] = (model_kind)k;
    static const char *const default_device = "cpu", *const default_policy = "full";
    o->devices[0] = default_device;
    o->device_count = 1;
    o->thread_count = 1;
    o->policies[0] = default_policy;
    o->policy_count = 1;
    o->batch = 64;
    o->repeats = 20;
    o->warmup = 3;
    o->image_size = 32;
    o->optimizer = VKT_OPT_SGD;
    o->seed = 1;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return BENCH_PARSE_HELP;
        }
        bool *flag = strcmp(a, "--per-op") == 0     ? &o->per_op
                     : strcmp(a, "--fp16") == 0      ? &o->fp16
                     : strcmp(a, "--recompute") == 0 ? &o->recompute
                     : strcmp(a, "--freeze-bn") == 0 ? &o->freeze_bn
                     : strcmp(a, "--interleave") == 0 ? &o->interleave
                                                      : NULL;
        if (flag) {
            *flag = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            bench_error("unexpected argument '%s' (see vkbench --help)", a);
            return BENCH_PARSE_ERROR;
        }
        if (i + 1 >= argc) {
            bench_error("%s needs a value", a);
            return BENCH_PARSE_ERROR;
        }
        char *v = argv[++i];
        int seed = 0;
        bool ok;
        if (strcmp(a, "--model") == 0)
            ok = parse_models(v, o);
        else if (strcmp(a, "--device") == 0)
            ok = parse_devices(v, o);
        else if (strcmp(a, "--threads") == 0)
            ok = parse_threads(v, o);
        else if (strcmp(a, "--policy") == 0)
            ok = parse_policies(v, o);
        else if (strcmp(a, "--batch") == 0)
            ok = parse_int(a, v, 1, 65536, &o->batch);
        else if (strcmp(a, "--frozen-chunk") == 0)
            ok = parse_int(a, v, -1, 65536, &o->frozen_chunk);
        else if (strcmp(a, "--micro-batch") == 0)
            ok = parse_int(a, v, 0, 65536, &o->micro_batch);
        else if (strcmp(a, "--repeats") == 0)
            ok = parse_int(a, v, 1, 100000, &o->repeats);
        else if (strcmp(a, "--warmup") == 0)
            ok = parse_int(a, v, 0, 100000, &o->warmup);
        else if (strcmp(a, "--size") == 0) {
            ok = parse_int(a, v, 32, 64, &o->image_size);
            if (ok && o->image_size != 32 && o->image_size != 64) {
                bench_error("--size must be 32 or 64");
                ok = false;
            }
        } else if (strcmp(a, "--seed") == 0) {
            ok = parse_int(a, v, 0, 2147483647, &seed);
            o->seed = (uint64_t)seed;
        } else if (strcmp(a, "--optimizer") == 0) {
            ok = strcmp(v, "sgd") == 0 || strcmp(v, "adamw") == 0;
            o->optimizer = strcmp(v, "adamw") == 0 ? VKT_OPT_ADAMW : VKT_OPT_SGD;
            if (!ok)
                bench_error("invalid value '%s' for --optimizer (expected sgd or adamw)", v);
        } else if (strcmp(a, "--json") == 0) {
            o->json_path = v;
            ok = v[0] != '\0';
            if (!ok)
                bench_error("--json needs a file name");
        } else {
            bench_error("unknown option '%s' (see vkbench --help)", a);
            ok = false;
        }
        if (!ok)
            return BENCH_PARSE_ERROR;
    }
    return BENCH_PARSE_OK;
}
