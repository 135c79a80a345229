/* Command-line parsing into a cli_options.
 *
 * Options are described by one table so that the value type, the range
 * check and which subcommands accept an option live in one place. Every
 * number is parsed strictly: the whole text must be consumed and fall in
 * range, so "--batch 64k" or "--lr 1e999" is an error, not a surprise. */
#include "../common/argv.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/models.h"

typedef enum value_kind {
    VALUE_FLAG_ON,  /* sets a bool */
    VALUE_FLAG_OFF, /* clears a bool */
    VALUE_INT,
    VALUE_INT64,
    VALUE_SEED,
    VALUE_REAL,
    VALUE_TEXT,
    VALUE_MODEL,
    VALUE_OPTIMIZER,
    VALUE_SCHEDULE,
    VALUE_DEVICE,
} value_kind;

#define NOT_TRACKED SIZE_MAX

typedef struct option_spec {
    const char *name;
    value_kind kind;
    size_t field;       /* offsetof(cli_options, ...) */
    size_t given_field; /* bool set when the option appears, or NOT_TRACKED */
    int64_t int_min, int_max;
    double real_min, real_max;
    unsigned commands;  /* cli_command bits */
} option_spec;

#define FIELD(f) offsetof(cli_options, f)
#define BOTH (CLI_TRAIN | CLI_EVAL)

#define FLAG_ON(n, f, cmds) { n, VALUE_FLAG_ON, FIELD(f), NOT_TRACKED, 0, 0, 0, 0, cmds }
#define FLAG_OFF(n, f, cmds) { n, VALUE_FLAG_OFF, FIELD(f), NOT_TRACKED, 0, 0, 0, 0, cmds }
#define INT(n, f, lo, hi, cmds) { n, VALUE_INT, FIELD(f), NOT_TRACKED, lo, hi, 0, 0, cmds }
#define INT64(n, f, g, lo, hi, cmds) { n, VALUE_INT64, FIELD(f), g, lo, hi, 0, 0, cmds }
#define REAL(n, f, g, lo, hi, cmds) { n, VALUE_REAL, FIELD(f), g, 0, 0, lo, hi, cmds }
#define OTHER(n, kind, f, g, cmds) { n, kind, FIELD(f), g, 0, 0, 0, 0, cmds }

static const option_spec option_table[] = {
    OTHER("--model", VALUE_MODEL, model, NOT_TRACKED, BOTH),
    OTHER("--data", VALUE_TEXT, data_dir, NOT_TRACKED, BOTH),
    INT("--epochs", epochs, 1, 1000000, CLI_TRAIN),
    INT64("--steps", steps, NOT_TRACKED, 1, INT64_C(1) << 40, CLI_TRAIN),
    INT("--batch", batch, 1, 65536, BOTH),
    OTHER("--optimizer", VALUE_OPTIMIZER, optimizer, FIELD(optimizer_given), CLI_TRAIN),
    REAL("--lr", lr, FIELD(lr_given), 0.0, 1e6, CLI_TRAIN),
    REAL("--momentum", momentum, FIELD(momentum_given), 0.0, 1.0, CLI_TRAIN),
    FLAG_ON("--nesterov", nesterov, CLI_TRAIN),
    REAL("--weight-decay", weight_decay, NOT_TRACKED, 0.0, 1e6, CLI_TRAIN),
    REAL("--label-smoothing", label_smoothing, NOT_TRACKED, 0.0, 1.0, CLI_TRAIN),
    REAL("--clip-grad-norm", clip_grad_norm, NOT_TRACKED, 0.0, 1e12, CLI_TRAIN),
    OTHER("--schedule", VALUE_SCHEDULE, schedule, NOT_TRACKED, CLI_TRAIN),
    INT64("--warmup-steps", warmup_steps, FIELD(warmup_given), 0, INT64_C(1) << 40, CLI_TRAIN),
    INT64("--step-size", step_size, FIELD(step_size_given), 1, INT64_C(1) << 40, CLI_TRAIN),
    REAL("--gamma", gamma, FIELD(gamma_given), 0.0, 1.0, CLI_TRAIN),
    OTHER("--seed", VALUE_SEED, seed, FIELD(seed_given), CLI_TRAIN),
    FLAG_OFF("--no-shuffle", shuffle, CLI_TRAIN),
    INT("--threads", threads, 0, 4096, BOTH),
    OTHER("--device", VALUE_DEVICE, device, NOT_TRACKED, BOTH),
    OTHER("--init", VALUE_TEXT, init_path, NOT_TRACKED, BOTH),
    OTHER("--save", VALUE_TEXT, save_path, NOT_TRACKED, CLI_TRAIN),
    OTHER("--checkpoint", VALUE_TEXT, checkpoint_path, NOT_TRACKED, CLI_TRAIN),
    OTHER("--resume", VALUE_TEXT, resume_path, NOT_TRACKED, CLI_TRAIN),
    OTHER("--log", VALUE_TEXT, log_path, NOT_TRACKED, CLI_TRAIN),
    FLAG_ON("--quiet", quiet, CLI_TRAIN),
    OTHER("--policy", VALUE_TEXT, policy, NOT_TRACKED, CLI_TRAIN),
    OTHER("--memory-budget", VALUE_TEXT, memory_budget, NOT_TRACKED, CLI_TRAIN),
    FLAG_ON("--fp16", fp16, CLI_TRAIN),
    FLAG_ON("--recompute", recompute, CLI_TRAIN),
    FLAG_ON("--freeze-bn", freeze_bn, CLI_TRAIN),
    INT("--frozen-chunk", frozen_chunk, -1, 1 << 20, CLI_TRAIN),
    INT("--micro-batch", micro_batch, 0, 65536, CLI_TRAIN),
    OTHER("--classes", VALUE_TEXT, classes, NOT_TRACKED, BOTH),
    REAL("--lora-alpha", lora_alpha, FIELD(lora_alpha_given), 1e-6, 1e6, CLI_TRAIN),
    FLAG_ON("--merge-lora", merge_lora, CLI_TRAIN),
};

bool cli_parse_policy(const char *text, vkt_trainable_set *out)
{
    if (vkt_trainable_parse(text, out) == VKT_OK)
        return true;
    cli_error("--policy: %s", vkt_last_error());
    return false;
}

bool cli_restrict_classes(const char *spec, vkt_dataset **ds)
{
    int64_t lo, hi;
    const char *dash = strchr(spec, '-');
    char first[32];
    size_t n = dash ? (size_t)(dash - spec) : strlen(spec);
    bool ok = n > 0 && n < sizeof first;
    if (ok) {
        memcpy(first, spec, n);
        first[n] = '\0';
        ok = cli_parse_int64(first, 0, INT32_MAX, &lo) &&
             (dash ? cli_parse_int64(dash + 1, lo, INT32_MAX, &hi) : (hi = lo, true));
    }
    if (!ok) {
        cli_error("invalid value '%s' for --classes (expected LO-HI with 0 <= LO <= HI, or one class N)", spec);
        return false;
    }
    vkt_dataset *kept;
    vkt_status status = vkt_dataset_filter_labels(*ds, (int32_t)lo, (int32_t)hi, &kept);
    if (status != VKT_OK) {
        cli_api_error(status, "cannot select classes %s", spec);
        return false;
    }
    if (vkt_dataset_count(kept) == 0) {
        vkt_dataset_destroy(kept);
        cli_error("--classes %s selects no samples", spec);
        return false;
    }
    vkt_dataset_destroy(*ds);
    *ds = kept;
    return true;
}

const char *cli_policy_text(const vkt_trainable_set *set, char *buf, size_t size)
{
    switch (set->policy) {
    case VKT_TRAIN_ALL: snprintf(buf, size, "full"); break;
    case VKT_TRAIN_BIAS: snprintf(buf, size, "bias"); break;
    case VKT_TRAIN_LAST_K: snprintf(buf, size, "last:%d", set->count); break;
    case VKT_TRAIN_LORA: snprintf(buf, size, "lora:%d", set->lora_rank); break;
    case VKT_TRAIN_CHANNELS: snprintf(buf, size, "channels:%g", (double)set->fraction); break;
    case VKT_TRAIN_NAMED: snprintf(buf, size, "%d named", set->count); break;
    case VKT_TRAIN_AUTO: snprintf(buf, size, "auto"); break;
    }
    size_t used = strlen(buf);
    if (set->head_layers > 0 && used < size)
        snprintf(buf + used, size - used, "+last:%d", set->head_layers);
    return buf;
}

bool cli_parse_bytes(const char *option, const char *text, size_t *out)
{
    char *end;
    errno = 0;
    double v = (text[0] >= '0' && text[0] <= '9') ? strtod(text, &end) : -1;
    double scale = 1;
    if (v >= 0 && errno == 0) {
        switch (*end) {
        case 'K': case 'k': scale = 1024.0, end++; break;
        case 'M': case 'm': scale = 1024.0 * 1024, end++; break;
        case 'G': case 'g': scale = 1024.0 * 1024 * 1024, end++; break;
        default: break;
        }
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (v < 0 || errno != 0 || *end != '\0' || v * scale < 1 || v * scale > 1e15) {
        cli_error("invalid value '%s' for %s (expected bytes, e.g. 4000000, 512K, 4M or 1G)", text, option);
        return false;
    }
    *out = (size_t)(v * scale);
    return true;
}

static const char *command_name(cli_command command)
{
    return command == CLI_TRAIN ? "train" : "eval";
}

const char *cli_model_name(cli_model model)
{
    switch (model) {
    case CLI_MODEL_MLP: return model_name(MODEL_MLP);
    case CLI_MODEL_CNN: return model_name(MODEL_CNN);
    case CLI_MODEL_TRANSFORMER: return model_name(MODEL_TRANSFORMER);
    default: return "none";
    }
}

/* vktrain trains the presets that fit Fashion-MNIST's images. */
bool cli_model_from_name(const char *name, cli_model *out)
{
    model_kind kind;
    if (!model_from_name(name, &kind))
        return false;
    switch (kind) {
    case MODEL_MLP: *out = CLI_MODEL_MLP; return true;
    case MODEL_CNN: *out = CLI_MODEL_CNN; return true;
    case MODEL_TRANSFORMER: *out = CLI_MODEL_TRANSFORMER; return true;
    default: return false;
    }
}

/* strtol and friends skip leading blanks and accept a sign; a strict
 * number starts with a digit (or a minus sign where negatives are fine). */
static bool starts_like_number(const char *text, bool allow_minus)
{
    if (allow_minus && *text == '-')
        text++;
    return isdigit((unsigned char)*text) || *text == '.';
}

bool cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (!starts_like_number(text, min < 0))
        return false;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

bool cli_parse_uint64(const char *text, uint64_t *out)
{
    if (!isdigit((unsigned char)*text))
        return false;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = value;
    return true;
}

static bool parse_real(const char *text, double min, double max, double *out)
{
    if (!starts_like_number(text, min < 0))
        return false;
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(value) || value < min || value > max)
        return false;
    *out = value;
    return true;
}

static bool valid_device(const char *text)
{
    if (strcmp(text, "auto") == 0 || strcmp(text, "cpu") == 0 || strcmp(text, "vulkan") == 0)
        return true;
    int64_t index;
    return strncmp(text, "vulkan:", 7) == 0 && cli_parse_int64(text + 7, 0, 1024, &index);
}

/* Store `value` for `spec`; reports and returns false when it is bad. */
static bool apply_option(const option_spec *spec, const char *value, cli_options *o)
{
    char *base = (char *)o;
    void *field = base + spec->field;
    if (spec->given_field != NOT_TRACKED)
        *(bool *)(base + spec->given_field) = true;

    switch (spec->kind) {
    case VALUE_FLAG_ON:
        *(bool *)field = true;
        return true;
    case VALUE_FLAG_OFF:
        *(bool *)field = false;
        return true;
    case VALUE_INT:
    case VALUE_INT64: {
        int64_t n;
        if (!cli_parse_int64(value, spec->int_min, spec->int_max, &n)) {
            cli_error("invalid value '%s' for %s (expected an integer from %lld to %lld)", value,
                      spec->name, (long long)spec->int_min, (long long)spec->int_max);
            return false;
        }
        if (spec->kind == VALUE_INT)
            *(int *)field = (int)n;
        else
            *(int64_t *)field = n;
        return true;
    }
    case VALUE_SEED:
        if (!cli_parse_uint64(value, (uint64_t *)field)) {
            cli_error("invalid value '%s' for %s (expected an integer from 0 to %llu)", value,
                      spec->name, (unsigned long long)UINT64_MAX);
            return false;
        }
        return true;
    case VALUE_REAL:
        if (!parse_real(value, spec->real_min, spec->real_max, (double *)field)) {
            cli_error("invalid value '%s' for %s (expected a number from %g to %g)", value,
                      spec->name, spec->real_min, spec->real_max);
            return false;
        }
        return true;
    case VALUE_TEXT:
        if (*value == '\0') {
            cli_error("%s needs a non-empty value", spec->name);
            return false;
        }
        *(const char **)field = value;
        return true;
    case VALUE_MODEL:
        if (!cli_model_from_name(value, (cli_model *)field)) {
            cli_error("invalid value '%s' for --model (expected mlp, cnn or transformer)", value);
            return false;
        }
        return true;
    case VALUE_OPTIMIZER:
        if (strcmp(value, "sgd") == 0) {
            *(vkt_optimizer_kind *)field = VKT_OPT_SGD;
        } else if (strcmp(value, "adamw") == 0) {
            *(vkt_optimizer_kind *)field = VKT_OPT_ADAMW;
        } else {
            cli_error("invalid value '%s' for --optimizer (expected sgd or adamw)", value);
            return false;
        }
        return true;
    case VALUE_SCHEDULE:
        if (strcmp(value, "constant") == 0) {
            *(vkt_schedule_kind *)field = VKT_SCHED_CONSTANT;
        } else if (strcmp(value, "step") == 0) {
            *(vkt_schedule_kind *)field = VKT_SCHED_STEP;
        } else if (strcmp(value, "cosine") == 0) {
            *(vkt_schedule_kind *)field = VKT_SCHED_COSINE;
        } else {
            cli_error("invalid value '%s' for --schedule (expected constant, step or cosine)", value);
            return false;
        }
        return true;
    case VALUE_DEVICE:
        if (!valid_device(value)) {
            cli_error("invalid value '%s' for --device (expected auto, cpu, vulkan or vulkan:N)", value);
            return false;
        }
        *(const char **)field = value;
        return true;
    }
    return false;
}

static const option_spec *find_option(const char *name, size_t name_len)
{
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++) {
        const char *candidate = option_table[i].name;
        if (strlen(candidate) == name_len && strncmp(candidate, name, name_len) == 0)
            return &option_table[i];
    }
    return NULL;
}

static void set_defaults(cli_options *o)
{
    *o = (cli_options){
        .model = CLI_MODEL_NONE,
        .data_dir = CLI_DEFAULT_DATA_DIR,
        .epochs = 3,
        .batch = 64,
        .optimizer = VKT_OPT_SGD,
        .momentum = 0.9,
        .schedule = VKT_SCHED_COSINE,
        .gamma = 0.1,
        .seed = 1,
        .shuffle = true,
        .device = "auto",
    };
}

/* Files to read are checked now, so a typo fails before the dataset
 * loads rather than after. */
static bool readable(const char *option, const char *path)
{
    if (!path || access(path, R_OK) == 0)
        return true;
    cli_error("cannot read %s %s: %s", option, path, strerror(errno));
    return false;
}

/* Rules that tie options together, checked once all are known. */
static bool check_combinations(cli_command command, cli_options *o)
{
    if (!readable("--init", o->init_path) || !readable("--resume", o->resume_path))
        return false;
    if (o->model == CLI_MODEL_NONE) {
        cli_error("%s needs --model mlp, cnn or transformer", command_name(command));
        return false;
    }
    if (command == CLI_EVAL) {
        if (!o->init_path) {
            cli_error("eval needs --init FILE.safetensors");
            return false;
        }
        return true;
    }

    /* Attention diverges under the presets' SGD at lr 0.05. */
    if (o->model == CLI_MODEL_TRANSFORMER && !o->optimizer_given)
        o->optimizer = VKT_OPT_ADAMW;
    if (!o->lr_given)
        o->lr = o->optimizer == VKT_OPT_SGD ? 0.05 : 0.001;
    if (o->optimizer == VKT_OPT_ADAMW && (o->momentum_given || o->nesterov)) {
        cli_error("--momentum and --nesterov apply to --optimizer sgd only");
        return false;
    }
    if (o->optimizer == VKT_OPT_ADAMW)
        o->momentum = 0.0;
    if (o->nesterov && o->momentum <= 0.0) {
        cli_error("--nesterov needs a momentum above 0");
        return false;
    }
    if (o->warmup_given && o->schedule != VKT_SCHED_COSINE) {
        cli_error("--warmup-steps applies to --schedule cosine only");
        return false;
    }
    if ((o->step_size_given || o->gamma_given) && o->schedule != VKT_SCHED_STEP) {
        cli_error("--step-size and --gamma apply to --schedule step only");
        return false;
    }
    if (o->init_path && o->resume_path) {
        cli_error("--init and --resume cannot be combined (a checkpoint holds the weights)");
        return false;
    }
    return true;
}

cli_parse_result cli_parse_options(cli_command command, int argc, char **argv, cli_options *out)
{
    set_defaults(out);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_print_command_usage(stdout, command);
            return CLI_PARSE_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            cli_error("unexpected argument '%s' (see vktrain %s --help)", arg, command_name(command));
            return CLI_PARSE_ERROR;
        }

        /* "--name value" or "--name=value" */
        const char *equals = strchr(arg, '=');
        size_t name_len = equals ? (size_t)(equals - arg) : strlen(arg);
        const option_spec *spec = find_option(arg, name_len);
        if (!spec) {
            cli_error("unknown option '%.*s' (see vktrain %s --help)", (int)name_len, arg,
                      command_name(command));
            return CLI_PARSE_ERROR;
        }
        if (!(spec->commands & command)) {
            cli_error("option %s does not apply to '%s'", spec->name, command_name(command));
            return CLI_PARSE_ERROR;
        }

        bool is_flag = spec->kind == VALUE_FLAG_ON || spec->kind == VALUE_FLAG_OFF;
        const char *value, *wrong = tool_option_value(argc, argv, &i, is_flag, &value);
        if (wrong) {
            cli_error("option %s %s", spec->name, wrong);
            return CLI_PARSE_ERROR;
        }
        if (!apply_option(spec, value, out))
            return CLI_PARSE_ERROR;
    }
    return check_combinations(command, out) ? CLI_PARSE_OK : CLI_PARSE_ERROR;
}

void cli_print_usage(FILE *stream)
{
    fputs("usage: vktrain <command> [options]\n"
          "\n"
          "Train and evaluate small networks on Fashion-MNIST with the vktrain engine.\n"
          "\n"
          "commands:\n"
          "  train      train the mlp or cnn preset\n"
          "  eval       report test accuracy and loss of saved weights\n"
          "  devices    list Vulkan devices and their capabilities\n"
          "  federate   simulate federated learning with many clients (vkagg is the aggregator)\n"
          "\n"
          "options:\n"
          "  --help     show this help ('vktrain <command> --help' for a command's options)\n"
          "  --version  show the version\n",
          stream);
}

static void print_train_usage(FILE *stream)
{
    fputs("usage: vktrain train --model mlp|cnn|transformer [options]\n"
          "\n"
          "model and data:\n"
          "  --model NAME             network preset: mlp, cnn or transformer (required)\n"
          "  --data DIR               Fashion-MNIST IDX files (default " CLI_DEFAULT_DATA_DIR ")\n"
          "  --init FILE.safetensors  start from these weights (PyTorch state_dict names)\n"
          "  --classes LO-HI          train and test on these class labels only (e.g. 0-4)\n"
          "\n"
          "training:\n"
          "  --epochs N               passes over the training set (default 3)\n"
          "  --steps N                stop after N optimizer steps in total (overrides --epochs)\n"
          "  --batch N                batch size (default 64)\n"
          "  --optimizer sgd|adamw    optimizer (default sgd; adamw for the transformer)\n"
          "  --lr X                   learning rate (default 0.05 for sgd, 0.001 for adamw)\n"
          "  --momentum X             sgd momentum (default 0.9)\n"
          "  --nesterov               sgd with Nesterov momentum\n"
          "  --weight-decay X         weight decay (default 0; decoupled for adamw)\n"
          "  --label-smoothing X      cross-entropy label smoothing (default 0)\n"
          "  --clip-grad-norm X       clip the global gradient norm to X (default 0 = off)\n"
          "  --schedule NAME          constant, step or cosine (default cosine)\n"
          "  --warmup-steps N         cosine: linear warm-up steps (default 0)\n"
          "  --step-size N            step: steps per decay (default one epoch)\n"
          "  --gamma X                step: decay factor (default 0.1)\n"
          "  --seed N                 seed for initial weights and shuffling (default 1)\n"
          "  --no-shuffle             take batches in file order\n"
          "\n"
          "execution:\n"
          "  --threads N              CPU threads (default 0 = all cores)\n"
          "  --device NAME            auto, cpu, vulkan or vulkan:N (default auto)\n"
          "  --policy NAME            parameters to train (default full); frozen layers get no backward\n"
          "                           pass: full, bias, last:K (the last K layers), lora:R (rank-R\n"
          "                           adapters on every linear and 1x1 conv, base frozen),\n"
          "                           channels:FRAC (that fraction of each layer's output channels),\n"
          "                           auto (the largest set within --memory-budget); bias and lora:R\n"
          "                           may add +last:K to train the last K layers (a new head) too\n"
          "  --lora-alpha X           LoRA scale numerator: adapters add (X / R) B A x (default 2R)\n"
          "  --memory-budget BYTES    refuse a training step planned over BYTES (e.g. 512K, 4M)\n"
          "  --fp16                   keep activations saved for backward in fp16 (fp32 math)\n"
          "  --recompute              recompute activations, batch norm and pooling outputs in backward\n"
          "                           instead of keeping them (less memory, same results)\n"
          "  --freeze-bn              batch norm layers with a frozen weight use their running statistics\n"
          "                           and keep them (Keras' frozen layers; for fine-tuning)\n"
          "  --frozen-chunk N         run the frozen bottom layers N samples at a time (default 0 = pick\n"
          "                           the smallest plan, -1 = whole batch; same results)\n"
          "  --micro-batch N          run each step N samples at a time, summing gradients (activation\n"
          "                           memory of N samples, the update of the whole batch)\n"
          "\n"
          "output:\n"
          "  --save FILE.safetensors  save the trained weights at the end\n"
          "  --merge-lora             --save folds LoRA adapters into the base weights (a plain model)\n"
          "  --checkpoint FILE        save a resumable checkpoint after each epoch and on Ctrl-C\n"
          "  --resume FILE            continue from a checkpoint\n"
          "  --log FILE.jsonl         one JSON record per epoch, then a summary record\n"
          "  --quiet                  print nothing but errors\n",
          stream);
}

static void print_eval_usage(FILE *stream)
{
    fputs("usage: vktrain eval --model mlp|cnn|transformer --init FILE.safetensors [options]\n"
          "\n"
          "  --model NAME             network preset the weights belong to (required)\n"
          "  --init FILE.safetensors  weights to evaluate (required)\n"
          "  --data DIR               Fashion-MNIST IDX files (default " CLI_DEFAULT_DATA_DIR ")\n"
          "  --classes LO-HI          evaluate on these class labels only (e.g. 5-9)\n"
          "  --batch N                batch size (default 64)\n"
          "  --threads N              CPU threads (default 0 = all cores)\n"
          "  --device NAME            auto, cpu, vulkan or vulkan:N (default auto)\n",
          stream);
}

void cli_print_command_usage(FILE *stream, cli_command command)
{
    if (command == CLI_TRAIN)
        print_train_usage(stream);
    else
        print_eval_usage(stream);
}
