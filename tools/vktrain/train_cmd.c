/* vktrain train: the training loop around the public API.
 *
 * The run keeps its data position as (epoch, batch) and re-seeks the
 * loader at the start of every epoch, so a fresh start, a --steps stop in
 * the middle of an epoch and a --resume all go through the same path.
 * Training throughput is timed over the step loop alone (not dataset
 * loading or evaluation), ending after the metrics read that waits for
 * the device, so asynchronous backends are not flattered. */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEGABYTE 1e6

static volatile sig_atomic_t interrupt_requested;

static void request_interrupt(int signal_number)
{
    (void)signal_number;
    interrupt_requested = 1;
}

/* Ctrl-C lets the current step finish; a second one kills at once. */
static void catch_interrupt(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = request_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &action, NULL);
}

static void release_interrupt(void)
{
    signal(SIGINT, SIG_DFL);
}

typedef struct train_run {
    const cli_options *opt;
    vkt_dataset *train_set, *test_set;
    vkt_graph *graph;
    vkt_tensor loss;
    vkt_context *context;
    vkt_context *fallback_context; /* the CPU, after a GPU failed */
    vkt_memory_report memory;      /* the compiled training step's plan */
    double setup_seconds;          /* device, trainer and step compile */
    vkt_trainer *trainer;
    vkt_trainable_set trainable;   /* --policy */
    vkt_loader *train_loader, *test_loader;
    float *x;
    int32_t *labels;
    FILE *log;
    cli_progress_style progress_style;

    uint64_t data_seed; /* shuffling seed: the checkpoint's when resuming */
    size_t batches_per_epoch;
    int64_t epoch_limit;     /* INT64_MAX when --steps decides */
    int64_t step_limit;      /* INT64_MAX when --epochs decides */
    int64_t epoch;           /* position of the next batch... */
    size_t batch;            /* ...as the loader counts it */
    bool checkpoint_current; /* the checkpoint file holds this position */

    double started;
    double train_seconds;
    int64_t train_samples;
    vkt_metrics test;
    bool tested;
} train_run;

typedef struct epoch_result {
    double loss_sum; /* sum of per-sample losses read back */
    int64_t loss_samples;
    int64_t samples;
    double train_seconds;
    double seconds;
    bool complete;
} epoch_result;

/* ---- setup ---- */

static vkt_optimizer_config optimizer_config(const cli_options *o, size_t batches_per_epoch)
{
    vkt_optimizer_config config = {
        .kind = o->optimizer,
        .lr = (float)o->lr,
        .weight_decay = (float)o->weight_decay,
        .momentum = (float)o->momentum,
        .nesterov = o->nesterov,
        .clip_grad_norm = (float)o->clip_grad_norm,
    };
    config.schedule.kind = o->schedule;
    if (o->schedule == VKT_SCHED_STEP) {
        config.schedule.step_size = o->step_size_given ? o->step_size : (int64_t)batches_per_epoch;
        config.schedule.gamma = (float)o->gamma;
    } else if (o->schedule == VKT_SCHED_COSINE) {
        config.schedule.warmup_steps = o->warmup_steps;
        int64_t run_steps = (int64_t)o->epochs * (int64_t)batches_per_epoch;
        config.schedule.total_steps = o->steps > 0 ? o->steps : run_steps;
        config.schedule.min_lr = 0.0f;
    }
    return config;
}

/* App metadata stored in checkpoints: where to resume and what must match. */
typedef struct checkpoint_position {
    bool has_epoch, has_batch, has_seed, has_batch_size, has_model;
    int64_t epoch, batch, batch_size;
    uint64_t seed;
    char model[16];
} checkpoint_position;

static void read_checkpoint_entry(const char *key, const char *value, void *user)
{
    checkpoint_position *p = user;
    if (strcmp(key, "epoch") == 0) {
        p->has_epoch = cli_parse_int64(value, 0, INT64_MAX, &p->epoch);
    } else if (strcmp(key, "batch") == 0) {
        p->has_batch = cli_parse_int64(value, 0, INT64_MAX, &p->batch);
    } else if (strcmp(key, "batch_size") == 0) {
        p->has_batch_size = cli_parse_int64(value, 1, INT64_MAX, &p->batch_size);
    } else if (strcmp(key, "seed") == 0) {
        p->has_seed = cli_parse_uint64(value, &p->seed);
    } else if (strcmp(key, "model") == 0) {
        p->has_model = snprintf(p->model, sizeof p->model, "%s", value) < (int)sizeof p->model;
    }
}

static int resume_from_checkpoint(train_run *r)
{
    const cli_options *o = r->opt;
    checkpoint_position position = { 0 };
    vkt_status status =
        vkt_trainer_load_checkpoint(r->trainer, o->resume_path, read_checkpoint_entry, &position);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot resume from %s", o->resume_path);

    if (!(position.has_epoch && position.has_batch && position.has_seed && position.has_batch_size &&
          position.has_model)) {
        cli_error("%s has no vktrain position (epoch, batch, batch_size, seed, model); "
                  "was it written by vktrain train --checkpoint?", o->resume_path);
        return 1;
    }
    if (strcmp(position.model, cli_model_name(o->model)) != 0) {
        cli_error("%s was trained with --model %s, not %s", o->resume_path, position.model,
                  cli_model_name(o->model));
        return 1;
    }
    if (position.batch_size != o->batch) {
        cli_error("%s was trained with --batch %lld; resume with the same batch size", o->resume_path,
                  (long long)position.batch_size);
        return 1;
    }
    if (o->seed_given && position.seed != o->seed) {
        cli_error("%s was trained with --seed %llu; resume with the same seed or none", o->resume_path,
                  (unsigned long long)position.seed);
        return 1;
    }
    if ((uint64_t)position.batch >= r->batches_per_epoch) {
        cli_error("%s resumes at batch %lld, past the %zu batches of an epoch", o->resume_path,
                  (long long)position.batch, r->batches_per_epoch);
        return 1;
    }
    r->data_seed = position.seed;
    r->epoch = position.epoch;
    r->batch = (size_t)position.batch;
    r->checkpoint_current = o->checkpoint_path && strcmp(o->checkpoint_path, o->resume_path) == 0;
    if (!o->quiet) {
        printf("resumed from %s at epoch %lld, batch %zu (step %lld)\n", o->resume_path,
               (long long)r->epoch + 1, r->batch, (long long)vkt_trainer_step_count(r->trainer));
    }
    return 0;
}

static void print_plan(const train_run *r)
{
    const cli_options *o = r->opt;
    vkt_trainable_set used;
    char chosen[48], policy[96];
    vkt_trainer_policy(r->trainer, &used);
    cli_policy_text(&used, chosen, sizeof chosen);
    if (r->trainable.policy == VKT_TRAIN_AUTO)
        snprintf(policy, sizeof policy, "auto chose %s", chosen);
    else
        snprintf(policy, sizeof policy, "%s", chosen);
    printf("training %s (%zu parameters, %zu trained: %s) on %s with %d thread%s: %zu train / %zu test samples, "
           "%zu batches of %d per epoch\n",
           cli_model_name(o->model), vkt_graph_trainable_numel(r->graph), r->memory.trained_params,
           policy,
           vkt_context_device_name(r->context), vkt_context_threads(r->context),
           vkt_context_threads(r->context) == 1 ? "" : "s", vkt_dataset_count(r->train_set),
           vkt_dataset_count(r->test_set), r->batches_per_epoch, o->batch);

    const vkt_memory_report *memory = &r->memory;
    printf("memory plan: params %.2f MB  grads %.2f MB  optimizer %.2f MB  activations %.2f MB  "
           "io %.2f MB  total %.2f MB  (setup %.2fs)\n",
           memory->params_bytes / MEGABYTE, memory->grads_bytes / MEGABYTE, memory->optimizer_bytes / MEGABYTE,
           memory->activations_bytes / MEGABYTE, memory->io_bytes / MEGABYTE, memory->total_bytes / MEGABYTE,
           r->setup_seconds);
    fflush(stdout);
}

static int open_log(train_run *r)
{
    const char *path = r->opt->log_path;
    if (!path)
        return 0;
    /* A resumed run continues the log of the run it resumes. */
    r->log = fopen(path, r->opt->resume_path ? "a" : "w");
    if (!r->log) {
        cli_error("cannot open log %s: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int create_trainer(train_run *r)
{
    const cli_options *o = r->opt;
    double started = cli_now_seconds();
    const vkt_context_options context_options = { .device = o->device, .threads = o->threads };
    vkt_status status = vkt_context_create(&context_options, &r->context);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot open the device");

    size_t budget = 0;
    if (o->memory_budget && !cli_parse_bytes("--memory-budget", o->memory_budget, &budget))
        return 1;
    const vkt_trainer_options trainer_options = {
        .trainable = &r->trainable,
        .memory_budget = budget,
        .fp16_activations = o->fp16,
        .recompute = o->recompute,
        .freeze_bn_stats = o->freeze_bn,
        .frozen_chunk = o->frozen_chunk,
        .micro_batch = o->micro_batch,
        .optimizer = optimizer_config(o, r->batches_per_epoch),
        .batch_size = o->batch,
        .seed = o->seed,
        /* On a GPU, keep the last step's state on the host so a lost
         * device costs no work: training moves to the CPU. */
        .recoverable = strncmp(vkt_context_device_name(r->context), "vulkan", 6) == 0,
    };
    const vkt_schedule *schedule = &trainer_options.optimizer.schedule;
    if (schedule->kind == VKT_SCHED_COSINE && schedule->warmup_steps > schedule->total_steps) {
        cli_error("--warmup-steps %lld exceeds the %lld steps of the run", (long long)schedule->warmup_steps,
                  (long long)schedule->total_steps);
        return 1;
    }
    status = vkt_trainer_create(r->context, r->graph, r->loss, &trainer_options, &r->trainer);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot compile the model for training");
    /* Compiles the step now (pipelines included), so setup time is known. */
    status = vkt_trainer_memory(r->trainer, &r->memory);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot compile the training step");
    r->setup_seconds = cli_now_seconds() - started;
    return 0;
}

static int prepare(train_run *r)
{
    const cli_options *o = r->opt;
    cli_data_files files;
    if (!cli_find_data_files(o->data_dir, true, &files) || open_log(r) != 0)
        return 1;
    if (!cli_load_dataset(files.train_images, files.train_labels, &r->train_set) ||
        !cli_load_dataset(files.test_images, files.test_labels, &r->test_set))
        return 1;
    if (o->classes &&
        (!cli_restrict_classes(o->classes, &r->train_set) || !cli_restrict_classes(o->classes, &r->test_set)))
        return 1;
    r->trainable = (vkt_trainable_set){.policy = VKT_TRAIN_ALL};
    if (o->policy && !cli_parse_policy(o->policy, &r->trainable))
        return 1;
    if (!cli_build_model(o->model, o->seed, (float)o->label_smoothing, &r->graph, &r->loss))
        return 1;
    if (o->init_path) {
        vkt_status status = vkt_graph_load_safetensors(r->graph, o->init_path, false);
        if (status != VKT_OK)
            return cli_api_error(status, "cannot load weights from %s", o->init_path);
    }
    if (r->trainable.policy == VKT_TRAIN_LORA) {
        /* After --init: the file holds the base model, adapters start as no-ops. */
        int rank = r->trainable.lora_rank;
        double alpha = o->lora_alpha_given ? o->lora_alpha : 2.0 * rank;
        vkt_status status = vkt_graph_add_lora_all(r->graph, rank, (float)alpha, NULL);
        if (status != VKT_OK)
            return cli_api_error(status, "cannot add LoRA adapters");
    }

    size_t batch = (size_t)o->batch;
    r->batches_per_epoch = (vkt_dataset_count(r->train_set) + batch - 1) / batch;
    r->data_seed = o->seed;
    r->epoch_limit = o->steps > 0 ? INT64_MAX : o->epochs;
    r->step_limit = o->steps > 0 ? o->steps : INT64_MAX;
    if (create_trainer(r) != 0)
        return 1;
    if (o->resume_path && resume_from_checkpoint(r) != 0)
        return 1;

    vkt_status status = vkt_loader_create(r->train_set, o->batch, o->shuffle, r->data_seed, &r->train_loader);
    if (status == VKT_OK)
        status = vkt_loader_create(r->test_set, o->batch, false, 0, &r->test_loader);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot create the batch loaders");
    if (vkt_loader_batches_per_epoch(r->train_loader) != r->batches_per_epoch) {
        cli_error("the loader makes %zu batches per epoch, expected %zu",
                  vkt_loader_batches_per_epoch(r->train_loader), r->batches_per_epoch);
        return 1;
    }

    r->x = malloc(batch * vkt_dataset_sample_numel(r->train_set) * sizeof *r->x);
    r->labels = malloc(batch * sizeof *r->labels);
    if (!r->x || !r->labels) {
        cli_error("out of memory for a batch of %d", o->batch);
        return 1;
    }
    return 0;
}

static void release(train_run *r)
{
    free(r->labels);
    free(r->x);
    if (r->log)
        fclose(r->log);
    /* The headers do not promise that destroy(NULL) is a no-op. */
    if (r->test_loader)
        vkt_loader_destroy(r->test_loader);
    if (r->train_loader)
        vkt_loader_destroy(r->train_loader);
    if (r->trainer)
        vkt_trainer_destroy(r->trainer);
    if (r->context)
        vkt_context_destroy(r->context);
    if (r->fallback_context)
        vkt_context_destroy(r->fallback_context);
    if (r->graph)
        vkt_graph_destroy(r->graph);
    if (r->test_set)
        vkt_dataset_destroy(r->test_set);
    if (r->train_set)
        vkt_dataset_destroy(r->train_set);
}

/* ---- output ---- */

static json_t *number_or_null(double value)
{
    return isfinite(value) ? json_real(value) : json_null(); /* JSON has no NaN */
}

static int write_log_record(train_run *r, json_t *record)
{
    int failed = !record || json_dumpf(record, r->log, JSON_COMPACT | JSON_REAL_PRECISION(7)) != 0 ||
                 fputc('\n', r->log) == EOF || fflush(r->log) != 0;
    json_decref(record);
    if (failed)
        cli_error("cannot write log %s", r->opt->log_path);
    return failed;
}

static double epoch_train_loss(const epoch_result *e)
{
    return e->loss_samples > 0 ? e->loss_sum / (double)e->loss_samples : NAN;
}

static double samples_per_second(int64_t samples, double seconds)
{
    return seconds > 0.0 ? (double)samples / seconds : 0.0;
}

static int report_epoch(train_run *r, int64_t epoch_shown, int64_t epochs_shown, const epoch_result *e)
{
    double rate = samples_per_second(e->samples, e->train_seconds);
    uint64_t peak = cli_peak_rss_bytes();
    if (!r->opt->quiet) {
        printf("epoch %lld/%lld  train_loss %.4f  test_loss %.4f  test_acc %.2f%%  %.0f samples/s  %.2fs  "
               "peak %.1f MB",
               (long long)epoch_shown, (long long)epochs_shown, epoch_train_loss(e), r->test.loss_mean,
               100.0 * r->test.accuracy, rate, e->seconds, peak / MEGABYTE);
        if (!e->complete)
            printf("  (stopped at batch %zu/%zu)", r->batch, r->batches_per_epoch);
        putchar('\n');
        fflush(stdout);
    }
    if (!r->log)
        return 0;

    json_t *record = json_object();
    json_object_set_new(record, "epoch", json_integer(epoch_shown));
    json_object_set_new(record, "step", json_integer(vkt_trainer_step_count(r->trainer)));
    json_object_set_new(record, "train_loss", number_or_null(epoch_train_loss(e)));
    json_object_set_new(record, "test_loss", number_or_null(r->test.loss_mean));
    json_object_set_new(record, "test_accuracy", number_or_null(r->test.accuracy));
    json_object_set_new(record, "samples_per_s", json_real(rate));
    json_object_set_new(record, "epoch_seconds", json_real(e->seconds));
    json_object_set_new(record, "peak_rss_bytes", json_integer((json_int_t)peak));
    json_object_set_new(record, "lr", number_or_null(vkt_trainer_current_lr(r->trainer)));
    return write_log_record(r, record);
}

static int report_summary(train_run *r)
{
    double total_seconds = cli_now_seconds() - r->started;
    double rate = samples_per_second(r->train_samples, r->train_seconds);
    uint64_t peak = cli_peak_rss_bytes();
    if (!r->opt->quiet) {
        printf("done: %lld steps in %.2fs (training %.2fs, %.0f samples/s)  final test_acc %.2f%%  "
               "test_loss %.4f  peak %.1f MB\n",
               (long long)vkt_trainer_step_count(r->trainer), total_seconds, r->train_seconds, rate,
               100.0 * r->test.accuracy, r->test.loss_mean, peak / MEGABYTE);
        fflush(stdout);
    }
    if (!r->log)
        return 0;

    /* Read by bench/compare_pytorch.py: samples_per_s covers the step
     * loop only. */
    json_t *record = json_object();
    json_object_set_new(record, "summary", json_true());
    json_object_set_new(record, "step", json_integer(vkt_trainer_step_count(r->trainer)));
    json_object_set_new(record, "samples_per_s", json_real(rate));
    json_object_set_new(record, "train_seconds", json_real(r->train_seconds));
    json_object_set_new(record, "setup_seconds", json_real(r->setup_seconds));
    json_object_set_new(record, "total_seconds", json_real(total_seconds));
    json_object_set_new(record, "test_loss", number_or_null(r->test.loss_mean));
    json_object_set_new(record, "test_accuracy", number_or_null(r->test.accuracy));
    json_object_set_new(record, "peak_rss_bytes", json_integer((json_int_t)peak));
    vkt_trainable_set used;
    char policy[48];
    vkt_trainer_policy(r->trainer, &used);
    json_object_set_new(record, "policy", json_string(cli_policy_text(&used, policy, sizeof policy)));
    json_object_set_new(record, "trained_params", json_integer((json_int_t)r->memory.trained_params));
    json_object_set_new(record, "planned_bytes", json_integer((json_int_t)r->memory.total_bytes));
    json_object_set_new(record, "planned_activation_bytes", json_integer((json_int_t)r->memory.activations_bytes));
    return write_log_record(r, record);
}

static int save_checkpoint(train_run *r)
{
    const cli_options *o = r->opt;
    if (!o->checkpoint_path || r->checkpoint_current)
        return 0;
    char epoch[24], batch[24], batch_size[24], seed[24];
    snprintf(epoch, sizeof epoch, "%lld", (long long)r->epoch);
    snprintf(batch, sizeof batch, "%zu", r->batch);
    snprintf(batch_size, sizeof batch_size, "%d", o->batch);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->data_seed);
    /* epoch and batch are the loader position of the next batch (0-based). */
    const vkt_kv meta[] = {
        { "epoch", epoch },
        { "batch", batch },
        { "batch_size", batch_size },
        { "seed", seed },
        { "model", cli_model_name(o->model) },
    };
    vkt_status status = vkt_trainer_save_checkpoint(r->trainer, o->checkpoint_path, meta,
                                                    (int)(sizeof meta / sizeof meta[0]));
    if (status != VKT_OK)
        return cli_api_error(status, "cannot save checkpoint %s", o->checkpoint_path);
    r->checkpoint_current = true;
    return 0;
}

/* ---- the loop ---- */

static vkt_status collect_train_metrics(train_run *r, epoch_result *e)
{
    vkt_metrics metrics;
    vkt_status status = vkt_trainer_read_train_metrics(r->trainer, &metrics);
    if (status == VKT_OK && metrics.samples > 0) {
        e->loss_sum += metrics.loss_mean * (double)metrics.samples;
        e->loss_samples += metrics.samples;
    }
    return status;
}

/* Train from the current position to the end of its epoch, or fewer
 * batches where --steps or Ctrl-C stops the run first. */
/* The GPU failed mid-step: continue on the CPU from the last completed
 * step (the trainer kept its state on the host). */
static int move_to_cpu(train_run *r)
{
    fprintf(stderr, "\nvktrain: warning: %s\n", vkt_last_error());
    const vkt_context_options cpu = { .device = "cpu", .threads = r->opt->threads };
    vkt_status status = vkt_context_create(&cpu, &r->fallback_context);
    if (status == VKT_OK)
        status = vkt_trainer_migrate(r->trainer, r->fallback_context);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot continue on the CPU");
    fprintf(stderr, "vktrain: warning: continuing on the CPU from step %lld\n",
            (long long)vkt_trainer_step_count(r->trainer));
    return 0;
}

static int train_epoch(train_run *r, int64_t epochs_shown, epoch_result *e)
{
    size_t first = r->batch;
    size_t end = r->batches_per_epoch;
    int64_t steps_left = r->step_limit - vkt_trainer_step_count(r->trainer);
    if ((int64_t)(end - first) > steps_left)
        end = first + (size_t)steps_left;

    vkt_status status = vkt_loader_seek(r->train_loader, r->epoch, first);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot position the training loader");

    cli_progress progress;
    cli_progress_begin(&progress, r->progress_style, r->epoch + 1, epochs_shown, first, end);
    const void *const inputs[2] = { r->x, r->labels };
    double started = cli_now_seconds();
    const char *failure = NULL;
    for (size_t b = first; b < end && !interrupt_requested; b++) {
        int count = 0;
        status = vkt_loader_next(r->train_loader, r->x, r->labels, &count);
        if (status != VKT_OK) {
            failure = "cannot read a training batch";
            break;
        }
        if (count == 0) {
            cli_progress_end(&progress);
            cli_error("the training loader ended at batch %zu of %zu", b, r->batches_per_epoch);
            return 1;
        }
        status = vkt_trainer_step(r->trainer, inputs, count);
        if (status == VKT_ERR_DEVICE && !r->fallback_context && move_to_cpu(r) == 0)
            status = vkt_trainer_step(r->trainer, inputs, count); /* the same batch, now on the CPU */
        if (status != VKT_OK) {
            failure = "training step failed";
            break;
        }
        r->batch = b + 1;
        r->checkpoint_current = false;
        e->samples += count;
        if (cli_progress_due(&progress, b)) {
            status = collect_train_metrics(r, e);
            if (status != VKT_OK) {
                failure = "cannot read training metrics";
                break;
            }
            cli_progress_draw(&progress, b, e->samples, epoch_train_loss(e));
        }
    }
    if (!failure && (status = collect_train_metrics(r, e)) != VKT_OK)
        failure = "cannot read training metrics";
    e->train_seconds = cli_now_seconds() - started;
    cli_progress_end(&progress);
    if (failure)
        return cli_api_error(status, "%s", failure);

    r->train_seconds += e->train_seconds;
    r->train_samples += e->samples;
    if (r->batch == r->batches_per_epoch) {
        e->complete = true;
        r->epoch++;
        r->batch = 0;
    }
    return 0;
}

static int evaluate(train_run *r)
{
    vkt_status status = cli_evaluate(r->trainer, r->test_loader, r->x, r->labels, &r->test);
    if (status != VKT_OK)
        return cli_api_error(status, "evaluation failed");
    r->tested = true;
    return 0;
}

static int64_t epochs_to_show(const train_run *r)
{
    if (r->step_limit == INT64_MAX)
        return r->epoch_limit;
    int64_t nb = (int64_t)r->batches_per_epoch;
    int64_t epochs = (r->step_limit + nb - 1) / nb;
    return epochs > r->epoch + 1 ? epochs : r->epoch + 1;
}

static int train_all(train_run *r)
{
    int64_t epochs_shown = epochs_to_show(r);
    while (!interrupt_requested && r->epoch < r->epoch_limit &&
           vkt_trainer_step_count(r->trainer) < r->step_limit) {
        double started = cli_now_seconds();
        int64_t epoch_shown = r->epoch + 1;
        epoch_result e = { 0 };
        if (train_epoch(r, epochs_shown, &e) != 0)
            return 1;
        if (interrupt_requested)
            break;
        if (evaluate(r) != 0)
            return 1;
        e.seconds = cli_now_seconds() - started;
        if (report_epoch(r, epoch_shown, epochs_shown, &e) != 0 || save_checkpoint(r) != 0)
            return 1;
    }
    if (!interrupt_requested)
        return 0;

    fprintf(stderr, "vktrain: interrupted at epoch %lld, batch %zu (step %lld)\n", (long long)r->epoch + 1,
            r->batch, (long long)vkt_trainer_step_count(r->trainer));
    if (save_checkpoint(r) != 0)
        return 1;
    if (r->opt->checkpoint_path)
        fprintf(stderr, "vktrain: checkpoint saved to %s; continue with --resume %s\n",
                r->opt->checkpoint_path, r->opt->checkpoint_path);
    return 130;
}

static int finish(train_run *r)
{
    const cli_options *o = r->opt;
    if (!r->tested) {
        if (!o->quiet)
            printf("nothing left to train at step %lld\n", (long long)vkt_trainer_step_count(r->trainer));
        if (evaluate(r) != 0)
            return 1;
    }
    if (o->save_path) {
        vkt_status status = vkt_trainer_sync_weights(r->trainer);
        if (status == VKT_OK)
            status = o->merge_lora ? vkt_graph_save_merged_safetensors(r->graph, o->save_path)
                                   : vkt_graph_save_safetensors(r->graph, o->save_path);
        if (status != VKT_OK)
            return cli_api_error(status, "cannot save weights to %s", o->save_path);
        if (!o->quiet)
            printf("weights saved to %s\n", o->save_path);
    }
    return report_summary(r);
}

int cli_train_command(int argc, char **argv)
{
    cli_options options;
    switch (cli_parse_options(CLI_TRAIN, argc, argv, &options)) {
    case CLI_PARSE_HELP: return 0;
    case CLI_PARSE_ERROR: return 1;
    case CLI_PARSE_OK: break;
    }

    train_run run = {
        .opt = &options,
        .progress_style = cli_progress_pick_style(options.quiet),
        .started = cli_now_seconds(),
    };
    int exit_status = prepare(&run);
    if (exit_status == 0) {
        if (!options.quiet)
            print_plan(&run);
        catch_interrupt();
        exit_status = train_all(&run);
        release_interrupt();
        if (exit_status == 0)
            exit_status = finish(&run);
    }
    release(&run);
    return exit_status;
}
