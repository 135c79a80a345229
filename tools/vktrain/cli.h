/* The vktrain command-line tool: what its files share.
 *
 * The tool is a plain user of the public API (<vktrain/vktrain.h>); it
 * must never need the engine's internals, so anything it cannot do
 * through the API is an API gap to report, not to work around here. */
#ifndef VKTRAIN_CLI_H
#define VKTRAIN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vktrain/vktrain.h>

#define CLI_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef enum cli_command {
    CLI_TRAIN = 1u << 0,
    CLI_EVAL = 1u << 1,
} cli_command;

typedef enum cli_model {
    CLI_MODEL_NONE = 0,
    CLI_MODEL_MLP,
    CLI_MODEL_CNN,
    CLI_MODEL_TRANSFORMER,
} cli_model;

/* Everything the command line can say, with defaults filled in. The
 * *_given flags record options whose meaning depends on whether the user
 * chose them (e.g. --lr defaults per optimizer). */
typedef struct cli_options {
    cli_model model;
    const char *data_dir;
    int epochs;
    int64_t steps; /* 0: run whole epochs */
    int batch;
    vkt_optimizer_kind optimizer;
    double lr;
    double momentum;
    bool nesterov;
    double weight_decay;
    double label_smoothing;
    double clip_grad_norm;
    vkt_schedule_kind schedule;
    int64_t warmup_steps;
    int64_t step_size; /* 0: one epoch */
    double gamma;
    uint64_t seed;
    bool shuffle;
    int threads;
    const char *device;
    const char *init_path;
    const char *save_path;
    const char *checkpoint_path;
    const char *resume_path;
    const char *log_path;
    bool quiet;
    const char *policy;    /* full, last:K or bias (parsed by cli_parse_policy) */
    const char *memory_budget; /* bytes, with an optional K/M/G suffix */
    bool fp16;                 /* saved activations in fp16 */
    bool recompute;            /* recompute cheap layers in backward */
    bool freeze_bn;            /* frozen batch norm layers use running statistics */
    int frozen_chunk;          /* samples per chunk of the frozen prefix (0 auto, -1 off) */
    int micro_batch;           /* samples per micro-batch (0: whole batch) */
    const char *classes;       /* "LO-HI": only samples with these labels */
    double lora_alpha;         /* LoRA scale numerator (default 2 * rank) */
    bool merge_lora;           /* --save writes adapters merged */

    bool lr_given;
    bool optimizer_given;
    bool momentum_given;
    bool seed_given;
    bool warmup_given;
    bool step_size_given;
    bool gamma_given;
    bool lora_alpha_given;
} cli_options;

/* ---- main.c: error reporting ---- */

/* "vktrain: error: ..." on stderr. */
void cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Report a failed API call as "<message>: <vkt_last_error()>"; returns
 * 1, the exit status of a failed command. */
int cli_api_error(vkt_status status, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* ---- options.c: argument parsing ---- */

/* "full", "last:K" or "bias" into a trainable set; false (error printed)
 * for anything else. */
bool cli_parse_policy(const char *text, vkt_trainable_set *out);
/* A trainable set as --policy spells it ("last:2", "lora:4", ...). */
const char *cli_policy_text(const vkt_trainable_set *set, char *buf, size_t size);
/* Keep only the samples of the --classes range "LO-HI" (or one class
 * "N") in *ds, replacing it; false (error printed) on a bad range. */
bool cli_restrict_classes(const char *spec, vkt_dataset **ds);
/* "123", "64K", "1.5M", "2G" into bytes; false (error printed) otherwise. */
bool cli_parse_bytes(const char *option, const char *text, size_t *out);

typedef enum cli_parse_result {
    CLI_PARSE_OK,
    CLI_PARSE_HELP,  /* --help was given and printed: exit 0 */
    CLI_PARSE_ERROR, /* already reported: exit 1 */
} cli_parse_result;

cli_parse_result cli_parse_options(cli_command command, int argc, char **argv, cli_options *out);
void cli_print_usage(FILE *stream);
void cli_print_command_usage(FILE *stream, cli_command command);

const char *cli_model_name(cli_model model);
bool cli_model_from_name(const char *name, cli_model *out);
/* Strict decimal parsing: the whole text, within [min, max]. */
bool cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out);
bool cli_parse_uint64(const char *text, uint64_t *out);

/* ---- presets.c: the Fashion-MNIST task and its two networks ---- */

typedef struct cli_data_files {
    char train_images[4096];
    char train_labels[4096];
    char test_images[4096];
    char test_labels[4096];
} cli_data_files;

/* Locate the IDX files in `dir` (gzip or raw). Reports the missing
 * dataset and returns false when a needed file is absent. */
bool cli_find_data_files(const char *dir, bool need_train, cli_data_files *out);
/* Load one IDX image/label pair and check it fits the presets' input
 * (1x28x28 images, at most 10 classes); reports errors. */
bool cli_load_dataset(const char *images, const char *labels, vkt_dataset **out);
/* Build a preset as PyTorch's nn.Sequential would name it; inputs are
 * "x" (F32 [1, 28, 28]) then "y" (I32 class label). Reports errors. */
bool cli_build_model(cli_model model, uint64_t seed, float label_smoothing,
                     vkt_graph **graph_out, vkt_tensor *loss_out);

/* ---- progress.c: timing and progress display ---- */

double cli_now_seconds(void);
/* Peak resident set size of this process so far. */
uint64_t cli_peak_rss_bytes(void);
/* "m:ss" or "h:mm:ss". */
void cli_format_duration(double seconds, char *buf, size_t size);

typedef enum cli_progress_style {
    CLI_PROGRESS_NONE,
    CLI_PROGRESS_BAR,   /* live line on a terminal */
    CLI_PROGRESS_LINES, /* a plain line every ~10% of an epoch */
} cli_progress_style;

typedef struct cli_progress {
    cli_progress_style style;
    int64_t epoch, epochs;  /* 1-based, for display */
    size_t first_batch;     /* where this epoch's run started */
    size_t end_batch;       /* batch index this run stops before */
    double started;
    double last_draw;
    size_t line_index;      /* LINES: which ~10% mark comes next */
    size_t next_line_batch; /* LINES: batch count of that mark */
    bool drawn;             /* BAR: a line needs clearing */
} cli_progress;

cli_progress_style cli_progress_pick_style(bool quiet);
void cli_progress_begin(cli_progress *p, cli_progress_style style, int64_t epoch, int64_t epochs,
                        size_t first_batch, size_t end_batch);
/* Whether a redraw is due after `batch` (0-based index of the batch just
 * done): callers read the train metrics only then. */
bool cli_progress_due(const cli_progress *p, size_t batch);
void cli_progress_draw(cli_progress *p, size_t batch, int64_t samples, double running_loss);
/* Clear the live line before other output. */
void cli_progress_end(cli_progress *p);

/* ---- eval_cmd.c ---- */

/* One pass over `loader` from its start with vkt_trainer_eval_batch;
 * `x` and `labels` hold one batch. */
vkt_status cli_evaluate(vkt_trainer *trainer, vkt_loader *loader, float *x, int32_t *labels,
                        vkt_metrics *out);
int cli_eval_command(int argc, char **argv);

/* ---- train_cmd.c ---- */

int cli_train_command(int argc, char **argv);

/* vktrain devices (devices_cmd.c). */
int cli_devices_command(int argc, char **argv);

/* vktrain federate (federate_cmd.c): a federated-learning simulation. */
int cli_federate_command(int argc, char **argv);

#endif
