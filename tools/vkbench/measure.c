/* One benchmark run: a model trained with one policy on one device.
 *
 * Whole-step time comes from ordinary steps (vkt_trainer_step, one
 * pre-recorded program), each followed by a metrics read so the time
 * covers the device finishing it. Forward, backward and optimizer time
 * come from as many profiled steps (vkt_trainer_profile_step), which
 * time every launch; they alternate with the ordinary ones so both see
 * the same caches and clocks. Runs are driven one repeat at a time so
 * that main.c can also alternate between runs (--interleave). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Linux resets the peak RSS (VmHWM) when "5" is written to clear_refs. */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static uint64_t peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    if (kib)
        return kib * 1024u;
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of n values (n >= 1); sorts `v` in place. */
static bench_stat stat_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return (bench_stat){median, v[0], v[n - 1]};
}

/* Seeded synthetic batch: images uniform in [-1, 1), labels uniform. */
static void fill_inputs(float *x, size_t nx, int32_t *y, int n, int classes, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < nx; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (2.0 / 16777216.0) - 1.0);
    }
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        y[i] = (int32_t)((s >> 33) % (uint64_t)classes);
    }
}

typedef struct run_state {
    vkt_graph *g;
    vkt_trainer *tr;
    float *x;
    int32_t *y;
    double *samples; /* repeats x (step, fwd, bwd, opt, total) */
    double *op_samples; /* repeats x ops x 3 */
    vkt_op_time *op_buf;
    const void *in[2];  /* the batch: x, y */
} run_state;

static void run_free(run_state *s)
{
    vkt_trainer_destroy(s->tr);
    vkt_graph_destroy(s->g);
    free(s->x);
    free(s->y);
    free(s->samples);
    free(s->op_samples);
    free(s->op_buf);
}

static bool fail(bench_result *r, const char *what)
{
    snprintf(r->reason, sizeof r->reason, "%s: %s", what, vkt_last_error());
    return false;
}

/* One ordinary step, waited for; its wall time in ms. */
static bool timed_step(run_state *s, const void *const *in, int batch, double *ms, bench_result *r)
{
    vkt_metrics m;
    double t0 = now_ms();
    if (vkt_trainer_step(s->tr, in, batch) != VKT_OK)
        return fail(r, "step");
    if (vkt_trainer_read_train_metrics(s->tr, &m) != VKT_OK)
        return fail(r, "reading the step's metrics");
    *ms = now_ms() - t0;
    return true;
}

/* The first profiled step: decides whether the device can time
 * launches at all, and sizes the per-op buffers. */
static bool first_profile(run_state *s, const void *const *in, const bench_options *o, bench_result *r)
{
    vkt_step_profile p;
    int n = 0;
    vkt_status st = vkt_trainer_profile_step(s->tr, in, o->batch, &p, NULL, 0, &n);
    if (st == VKT_ERR_UNSUPPORTED) {
        snprintf(r->phases_reason, sizeof r->phases_reason, "%s", vkt_last_error());
        return true;
    }
    if (st != VKT_OK)
        return fail(r, "profiled step");
    r->phases_ok = true;
    r->launches = p.launches;
    if (!o->per_op)
        return true;
    s->op_buf = calloc((size_t)n + 1, sizeof *s->op_buf);
    s->op_samples = calloc((size_t)o->repeats * (size_t)n * 3 + 1, sizeof *s->op_samples);
    r->ops = calloc((size_t)n + 1, sizeof *r->ops);
    if (!s->op_buf || !s->op_samples || !r->ops) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return false;
    }
    r->op_count = n;
    return true;
}

static bool profiled_step(run_state *s, const void *const *in, const bench_options *o, int rep, bench_result *r)
{
    vkt_step_profile p;
    int n = 0;
    if (vkt_trainer_profile_step(s->tr, in, o->batch, &p, s->op_buf, r->op_count, &n) != VKT_OK)
        return fail(r, "profiled step");
    double *v = &s->samples[rep * 5];
    v[1] = (double)p.forward_ns * 1e-6;
    v[2] = (double)p.backward_ns * 1e-6;
    v[3] = (double)p.optimizer_ns * 1e-6;
    v[4] = (double)p.total_ns * 1e-6;
    for (int i = 0; i < r->op_count && i < n; i++) {
        double *w = &s->op_samples[((size_t)i * o->repeats + rep) * 3];
        w[0] = (double)s->op_buf[i].forward_ns * 1e-6;
        w[1] = (double)s->op_buf[i].backward_ns * 1e-6;
        w[2] = (double)s->op_buf[i].optimizer_ns * 1e-6;
        if (rep == 0) {
            bench_op *op = &r->ops[i];
            op->node = s->op_buf[i].node;
            op->launches = s->op_buf[i].launches;
            snprintf(op->op, sizeof op->op, "%s", s->op_buf[i].op);
            snprintf(op->name, sizeof op->name, "%s", s->op_buf[i].name);
        }
    }
    return true;
}

static void summarise(run_state *s, const bench_options *o, bench_result *r)
{
    int n = o->repeats;
    double *col = malloc((size_t)n * sizeof *col);
    if (!col)
        return;
    bench_stat *targets[5] = {&r->step, &r->forward, &r->backward, &r->optimizer, &r->launch_total};
    for (int c = 0; c < (r->phases_ok ? 5 : 1); c++) {
        for (int i = 0; i < n; i++)
            col[i] = s->samples[i * 5 + c];
        *targets[c] = stat_of(col, n);
    }
    for (int k = 0; k < r->op_count; k++)
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < n; i++)
                col[i] = s->op_samples[((size_t)k * n + i) * 3 + c];
            bench_stat st = stat_of(col, n);
            *(c == 0 ? &r->ops[k].forward : c == 1 ? &r->ops[k].backward : &r->ops[k].optimizer) = st;
        }
    free(col);
    r->samples_per_s = r->step.median > 0 ? o->batch / (r->step.median * 1e-3) : 0;
}

/* Model, trainer, warm-up and the first profiled step. */
static bool setup(run_state *s, const bench_device *d, const bench_options *o, model_kind model, const char *policy,
                  bench_result *r)
{
    vkt_trainable_set set;
    if (vkt_trainable_parse(policy, &set) != VKT_OK)
        return fail(r, "policy");
    model_config mc = model_defaults(model);
    if (model == MODEL_MNV2)
        mc.image_size = o->image_size;
    mc.seed = o->seed;
    vkt_tensor loss;
    if (!model_build(&mc, &s->g, &loss, r->reason, sizeof r->reason))
        return false;
    /* LoRA trains adapters: one on every eligible layer (linear, 1x1
     * conv), scaled alpha / rank with alpha = 2 * rank as vktrain does. */
    if (set.policy == VKT_TRAIN_LORA &&
        vkt_graph_add_lora_all(s->g, set.lora_rank, 2.0f * (float)set.lora_rank, NULL) != VKT_OK)
        return fail(r, "adding LoRA adapters");
    vkt_trainer_options to = {.trainable = &set, .batch_size = o->batch, .seed = o->seed,
                              .fp16_activations = o->fp16, .recompute = o->recompute,
                              .freeze_bn_stats = o->freeze_bn, .frozen_chunk = o->frozen_chunk,
                              .micro_batch = o->micro_batch};
    to.optimizer = o->optimizer == VKT_OPT_SGD
                       ? (vkt_optimizer_config){.kind = VKT_OPT_SGD, .lr = 0.01f, .momentum = 0.9f}
                       : (vkt_optimizer_config){.kind = VKT_OPT_ADAMW, .lr = 0.001f, .weight_decay = 0.01f};
    /* Interleaved runs are all alive at once: their peak is shared. */
    r->rss_per_run = !o->interleave && reset_peak_rss();
    double t0 = now_ms();
    if (vkt_trainer_create(d->ctx, s->g, loss, &to, &s->tr) != VKT_OK)
        return fail(r, "trainer");
    if (vkt_trainer_memory(s->tr, &r->memory) != VKT_OK) /* compiles the step */
        return fail(r, "planning the step");
    r->setup_ms = now_ms() - t0;
    r->trainable = r->memory.trained_params;

    int dims[3];
    model_input_shape(&mc, dims);
    size_t nx = (size_t)o->batch * (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2];
    s->x = malloc(nx * sizeof *s->x);
    s->y = malloc((size_t)o->batch * sizeof *s->y);
    s->samples = calloc((size_t)o->repeats * 5, sizeof *s->samples);
    if (!s->x || !s->y || !s->samples) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return false;
    }
    fill_inputs(s->x, nx, s->y, o->batch, mc.classes, o->seed);
    s->in[0] = s->x;
    s->in[1] = s->y;
    double ms;
    for (int i = 0; i < o->warmup; i++)
        if (!timed_step(s, s->in, o->batch, &ms, r))
            return false;
    return first_profile(s, s->in, o, r);
}

struct bench_run {
    run_state s;
    const bench_options *o;
    bench_result *r;
};

static void end_failed(bench_run *run)
{
    run->r->ok = false;
    run_free(&run->s);
    free(run);
}

bench_run *bench_run_begin(const bench_device *d, const bench_options *o, model_kind model, const char *policy,
                           bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->device = d;
    r->model = model;
    snprintf(r->policy, sizeof r->policy, "%s", policy);
    bench_run *run = calloc(1, sizeof *run);
    if (!run) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return NULL;
    }
    run->o = o;
    run->r = r;
    if (!setup(&run->s, d, o, model, policy, r)) {
        end_failed(run);
        return NULL;
    }
    return run;
}

bool bench_run_repeat(bench_run *run, int rep)
{
    run_state *s = &run->s;
    bench_result *r = run->r;
    if (timed_step(s, s->in, run->o->batch, &s->samples[rep * 5], r) &&
        (!r->phases_ok || profiled_step(s, s->in, run->o, rep, r)))
        return true;
    end_failed(run);
    return false;
}

void bench_run_end(bench_run *run)
{
    summarise(&run->s, run->o, run->r);
    run->r->peak_rss = peak_rss_bytes();
    run->r->ok = true;
    run_free(&run->s);
    free(run);
}

void bench_measure(const bench_device *d, const bench_options *o, model_kind model, const char *policy,
                   bench_result *r)
{
    bench_run *run = bench_run_begin(d, o, model, policy, r);
    for (int rep = 0; run && rep < o->repeats; rep++)
        if (!bench_run_repeat(run, rep))
            run = NULL;
    if (run)
        bench_run_end(run);
}

void bench_result_free(bench_result *r)
{
    free(r->ops);
    r->ops = NULL;
    r->op_count = 0;
}
