/* vktrain federate's options: a table like the train command's, kept
 * apart because the simulation's options are its own. */
#include "../common/argv.h"
#include "federate.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum fkind { K_INT, K_REAL, K_TEXT, K_SEED, K_FLAG, K_MODEL, K_MODE } fkind;

typedef struct fspec {
    const char *name;
    fkind kind;
    size_t field;
    double min, max;
} fspec;

#define O(member) offsetof(fsim_options, member)

static const fspec specs[] = {
    {"--model", K_MODEL, O(model), 0, 0},
    {"--data", K_TEXT, O(data_dir), 0, 0},
    {"--clients", K_INT, O(clients), 1, 100000},
    {"--rounds", K_INT, O(rounds), 1, 1000000},
    {"--per-round", K_INT, O(per_round), 1, 100000},
    {"--local-steps", K_INT, O(local_steps), 1, 1000000},
    {"--local-epochs", K_INT, O(local_epochs), 1, 1000},
    {"--batch", K_INT, O(batch), 1, 65536},
    {"--lr", K_REAL, O(lr), 0, 100},
    {"--momentum", K_REAL, O(momentum), 0, 0.9999},
    {"--split", K_TEXT, O(split), 0, 0},
    {"--codec", K_TEXT, O(codec), 0, 0},
    {"--mode", K_MODE, O(mode), 0, 0},
    {"--buffer", K_INT, O(buffer), 1, 100000},
    {"--max-staleness", K_INT, O(max_staleness), 1, 1024},
    {"--staleness", K_TEXT, O(staleness), 0, 0},
    {"--server-lr", K_REAL, O(server_lr), 1e-6, 1000},
    {"--min-clients", K_INT, O(min_clients), 1, 100000},
    {"--step-time", K_REAL, O(step_time), 1e-6, 1e6},
    {"--speed-sigma", K_REAL, O(speed_sigma), 0, 5},
    {"--stragglers", K_REAL, O(stragglers), 0, 1},
    {"--straggler-slowdown", K_REAL, O(straggler_slowdown), 1, 1e6},
    {"--memory-tiers", K_TEXT, O(memory_tiers), 0, 0},
    {"--uplink", K_TEXT, O(uplink), 0, 0},
    {"--downlink", K_TEXT, O(downlink), 0, 0},
    {"--corrupt", K_REAL, O(corrupt), 0, 1},
    {"--test-samples", K_INT, O(test_samples), 1, 100000000},
    {"--target", K_REAL, O(target), 0, 1},
    {"--seed", K_SEED, O(seed), 0, 0},
    {"--threads", K_INT, O(threads), 0, 1024},
    {"--device", K_TEXT, O(device), 0, 0},
    {"--log", K_TEXT, O(log_path), 0, 0},
    {"--save", K_TEXT, O(save_path), 0, 0},
    {"--key", K_TEXT, O(key_path), 0, 0},
    {"--save-packets", K_TEXT, O(packets_dir), 0, 0},
    {"--quiet", K_FLAG, O(quiet), 0, 0},
    {"--secure-agg", K_FLAG, O(secure_agg), 0, 0},
    {"--secagg-dropout", K_REAL, O(secagg_dropout), 0, 0.9},
    {"--secagg-drop-at", K_TEXT, O(secagg_drop_at), 0, 0},
    {"--secagg-range", K_REAL, O(secagg_range), 1e-6, 1e30},
    {"--secagg-threshold", K_INT, O(secagg_threshold), 2, 255},
};

static void print_usage(FILE *f)
{
    fputs("usage: vktrain federate [options]\n"
          "\n"
          "Simulate federated learning on Fashion-MNIST in one process: N clients train the model\n"
          "locally from the global weights, send sealed update packets, and an aggregator combines\n"
          "them. Time is simulated from device speeds and link rates, not measured.\n"
          "\n"
          "federation:\n"
          "  --model NAME             network preset: mlp, cnn or transformer (default mlp)\n"
          "  --clients N              simulated clients (default 20)\n"
          "  --rounds N               fedavg rounds, or fedbuff server steps (default 20)\n"
          "  --per-round N            fedavg: clients sampled per round; fedbuff: clients training\n"
          "                           at once (default 10)\n"
          "  --mode fedavg|fedbuff    synchronous rounds or buffered asynchronous (default fedavg)\n"
          "  --buffer K               fedbuff: updates per server step (default 5)\n"
          "  --staleness FN           fedbuff: poly[:A], constant or hinge:A:B (default poly: 1/sqrt(1+tau))\n"
          "  --max-staleness N        fedbuff: refuse updates more than N versions old (default 16)\n"
          "  --server-lr X            server learning rate (default 1)\n"
          "  --min-clients K          fedavg: fewest updates that make a round (default 1)\n"
          "  --codec TEXT             update codec (default topk=0.01,ef,int8=256,zstd=3; or dense;\n"
          "                           dense alone with --secure-agg)\n"
          "  --corrupt FRAC           damage this fraction of packets in transit (default 0)\n"
          "\n"
          "secure aggregation (fedavg; the server learns only the sum of the round's updates):\n"
          "  --secure-agg             run Bonawitz et al.'s protocol among each round's clients;\n"
          "                           updates go as dense fixed-point vectors (no top-k)\n"
          "  --secagg-dropout FRAC    this fraction of a round's clients drops out (default 0)\n"
          "  --secagg-drop-at LIST    where they drop, picked per client among keys, shares, masked,\n"
          "                           unmask: before sending that message (default masked,unmask)\n"
          "  --secagg-range R         every element of n_i * delta_i and n_i lies in [-R, R]; a client\n"
          "                           whose update does not sits the round out (default 16 times the\n"
          "                           most examples a client trains on in a round)\n"
          "  --secagg-threshold T     clients that must stay (default n - floor(n/3), > n/2)\n"
          "\n"
          "data and local training:\n"
          "  --data DIR               Fashion-MNIST IDX files (default " CLI_DEFAULT_DATA_DIR ")\n"
          "  --split iid|dirichlet:A  IID shares, or non-IID by label with Dirichlet(A) (default iid)\n"
          "  --local-steps N          SGD steps per client update (default 20)\n"
          "  --local-epochs N         whole passes over the client's data instead\n"
          "  --batch N                batch size (default 32)\n"
          "  --lr X                   local SGD learning rate (default 0.05)\n"
          "  --momentum X             local SGD momentum (default 0.9)\n"
          "\n"
          "devices:\n"
          "  --step-time S            simulated seconds per local step, median device (default 0.05)\n"
          "  --speed-sigma X          log-normal spread of device speeds (default 0.5)\n"
          "  --stragglers FRAC        fraction of clients that are slow (default 0.2)\n"
          "  --straggler-slowdown X   how much slower (default 10)\n"
          "  --memory-tiers LIST      memory of each device class as fractions of a full training\n"
          "                           step; below 1 the device trains what fits (default 1,1,0.5)\n"
          "  --uplink B, --downlink B link rates in bytes per second (default 1M and 10M)\n"
          "\n"
          "output:\n"
          "  --test-samples N         evaluate on the first N test samples (default all)\n"
          "  --target X               report the simulated time to this test accuracy (default 0.85)\n"
          "  --log FILE.jsonl         one JSON record per round, then a summary\n"
          "  --save FILE.safetensors  the final global model\n"
          "  --key FILE               the aggregator's key pair (vkagg keygen; default: a fresh one)\n"
          "  --save-packets DIR       write every packet, and each global model clients trained from\n"
          "  --seed N                 seed of the split, devices, sampling and weights (default 1)\n"
          "  --threads N, --device NAME  as for train (default device cpu)\n"
          "  --quiet                  print only the summary\n",
          f);
}

static bool parse_real(const char *text, double *out)
{
    if (!((*text >= '0' && *text <= '9') || *text == '.'))
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool apply(const fspec *s, const char *value, fsim_options *o)
{
    void *field = (char *)o + s->field;
    double real;
    switch (s->kind) {
    case K_FLAG:
        *(bool *)field = true;
        return true;
    case K_TEXT:
        if (!*value) {
            cli_error("%s needs a non-empty value", s->name);
            return false;
        }
        *(const char **)field = value;
        return true;
    case K_INT:
        if (!cli_parse_int64(value, (int64_t)s->min, (int64_t)s->max, (int64_t *)field)) {
            cli_error("invalid value '%s' for %s (expected an integer from %.0f to %.0f)", value, s->name, s->min,
                      s->max);
            return false;
        }
        return true;
    case K_REAL:
        if (!parse_real(value, &real) || real < s->min || real > s->max) {
            cli_error("invalid value '%s' for %s (expected a number from %g to %g)", value, s->name, s->min, s->max);
            return false;
        }
        *(double *)field = real;
        return true;
    case K_SEED:
        if (!cli_parse_uint64(value, (uint64_t *)field)) {
            cli_error("invalid value '%s' for %s (expected an integer >= 0)", value, s->name);
            return false;
        }
        return true;
    case K_MODEL:
        if (!cli_model_from_name(value, (cli_model *)field)) {
            cli_error("invalid value '%s' for --model (expected mlp, cnn or transformer)", value);
            return false;
        }
        return true;
    case K_MODE:
        if (strcmp(value, "fedavg") == 0)
            *(vkt_fed_mode *)field = VKT_FED_FEDAVG;
        else if (strcmp(value, "fedbuff") == 0)
            *(vkt_fed_mode *)field = VKT_FED_FEDBUFF;
        else {
            cli_error("invalid value '%s' for --mode (expected fedavg or fedbuff)", value);
            return false;
        }
        return true;
    }
    return false;
}

#define DEFAULT_CODEC "topk=0.01,ef,int8=256,zstd=3"

/* Secure aggregation sums dense fixed-point vectors in synchronous
 * rounds; say plainly what does not combine with it. */
static bool check_secure(fsim_options *o, bool codec_given)
{
    if (!o->secure_agg) {
        if (o->secagg_dropout > 0 || o->secagg_drop_at || o->secagg_range > 0 || o->secagg_threshold > 0) {
            cli_error("--secagg-* options need --secure-agg");
            return false;
        }
        return true;
    }
    vkt_update_codec codec = {0};
    if (codec_given && vkt_update_codec_parse(o->codec, &codec) == VKT_OK) {
        if (codec.topk_fraction > 0.0f && codec.topk_fraction < 1.0f) {
            cli_error("--secure-agg cannot use top-k (--codec %s): the masks make every element of the masked "
                      "vector random, so a sparse update costs a dense vector anyway (and which elements it "
                      "carries would leak); use --codec dense",
                      o->codec);
            return false;
        }
        if (codec.int8_block || codec.zstd_level || codec.dp_clip > 0.0f) {
            cli_error("--secure-agg sends dense fixed-point vectors (--secagg-range); --codec %s does not apply, "
                      "use --codec dense",
                      o->codec);
            return false;
        }
    }
    if (o->mode != VKT_FED_FEDAVG) {
        cli_error("--secure-agg needs --mode fedavg: the protocol sums one synchronous round");
        return false;
    }
    if (o->per_round < 2 || o->per_round > VKT_SECAGG_MAX_CLIENTS) {
        cli_error("--secure-agg needs 2..%d clients per round (got %lld)", VKT_SECAGG_MAX_CLIENTS,
                  (long long)o->per_round);
        return false;
    }
    if (o->corrupt > 0 || o->packets_dir) {
        cli_error("--corrupt and --save-packets concern sealed packets, which --secure-agg does not send");
        return false;
    }
    vkt_secagg_params p = {.client_count = (uint32_t)o->per_round, .threshold = (uint32_t)o->secagg_threshold,
                           .vector_length = 1};
    if (vkt_secagg_params_resolve(&p, &p) != VKT_OK) {
        cli_api_error(VKT_ERR_INVALID_ARG, "--secagg-threshold");
        return false;
    }
    if (!o->secagg_drop_at)
        o->secagg_drop_at = "masked,unmask";
    return fsim_drop_at_check(o->secagg_drop_at);
}

static bool check(fsim_options *o)
{
    bool codec_given = o->codec != NULL;
    if (!o->codec)
        o->codec = o->secure_agg ? "dense" : DEFAULT_CODEC;
    if (o->per_round > o->clients)
        o->per_round = o->clients;
    if (o->min_clients > o->per_round) {
        cli_error("--min-clients %lld exceeds the %lld clients of a round", (long long)o->min_clients,
                  (long long)o->per_round);
        return false;
    }
    vkt_update_codec codec;
    if (vkt_update_codec_parse(o->codec, &codec) != VKT_OK) {
        cli_api_error(VKT_ERR_INVALID_ARG, "--codec");
        return false;
    }
    vkt_fed_staleness staleness;
    if (o->staleness && vkt_fed_staleness_parse(o->staleness, &staleness) != VKT_OK) {
        cli_api_error(VKT_ERR_INVALID_ARG, "--staleness");
        return false;
    }
    if (o->key_path && access(o->key_path, R_OK) != 0) {
        cli_error("cannot read --key %s", o->key_path);
        return false;
    }
    if (!check_secure(o, codec_given))
        return false;
    double up, down, alpha;
    return fsim_link_rates(o, &up, &down) && fsim_split_check(o->split, &alpha) && fsim_tiers_check(o->memory_tiers);
}

cli_parse_result fsim_parse_options(int argc, char **argv, fsim_options *o)
{
    *o = (fsim_options){
        .model = CLI_MODEL_MLP,
        .data_dir = CLI_DEFAULT_DATA_DIR,
        .clients = 20,
        .rounds = 20,
        .per_round = 10,
        .local_steps = 20,
        .batch = 32,
        .lr = 0.05,
        .momentum = 0.9,
        .split = "iid",
        .codec = NULL, /* check() picks DEFAULT_CODEC, or dense with --secure-agg */
        .mode = VKT_FED_FEDAVG,
        .buffer = 5,
        .max_staleness = 16,
        .server_lr = 1.0,
        .min_clients = 1,
        .step_time = 0.05,
        .speed_sigma = 0.5,
        .stragglers = 0.2,
        .straggler_slowdown = 10.0,
        .memory_tiers = "1,1,0.5",
        .uplink = "1M",
        .downlink = "10M",
        .target = 0.85,
        .seed = 1,
        .device = "cpu",
    };
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return CLI_PARSE_HELP;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const fspec *s = NULL;
        for (size_t k = 0; k < sizeof specs / sizeof specs[0] && !s; k++)
            if (strlen(specs[k].name) == len && strncmp(specs[k].name, arg, len) == 0)
                s = &specs[k];
        if (!s) {
            cli_error("unknown option '%.*s' (see vktrain federate --help)", (int)len, arg);
            return CLI_PARSE_ERROR;
        }
        const char *value, *wrong = tool_option_value(argc, argv, &i, s->kind == K_FLAG, &value);
        if (wrong) {
            cli_error("option %s %s", s->name, wrong);
            return CLI_PARSE_ERROR;
        }
        if (!apply(s, value, o))
            return CLI_PARSE_ERROR;
    }
    return check(o) ? CLI_PARSE_OK : CLI_PARSE_ERROR;
}
