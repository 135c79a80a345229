/* vkagg's command line: one table of options, each valid for some
 * commands, "--name value" or "--name=value"; positional arguments are
 * packet files (aggregate, send). */
#include "../common/argv.h"
#include "vkagg.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum value_kind { V_FLAG, V_TEXT, V_INT, V_U64, V_REAL, V_MODEL, V_MODE } value_kind;

typedef struct option_spec {
    const char *name;
    value_kind kind;
    size_t field;
    unsigned commands;
    int64_t min, max; /* V_INT */
    double rmin, rmax; /* V_REAL */
} option_spec;

#define F(member) offsetof(agg_options, member)
#define MODEL_CMDS (AGG_SERVE | AGG_AGGREGATE)
#define NET_CMDS (AGG_SERVE | AGG_SEND)

static const option_spec option_table[] = {
    {"--out", V_TEXT, F(out_path), AGG_KEYGEN | MODEL_CMDS, 0, 0, 0, 0},
    {"--public", V_TEXT, F(public_path), AGG_KEYGEN, 0, 0, 0, 0},
    {"--model", V_MODEL, F(model), MODEL_CMDS, 0, 0, 0, 0},
    {"--init", V_TEXT, F(init_path), MODEL_CMDS, 0, 0, 0, 0},
    {"--key", V_TEXT, F(key_path), MODEL_CMDS, 0, 0, 0, 0},
    {"--round", V_U64, F(round), MODEL_CMDS, 0, 0, 0, 0},
    {"--min-clients", V_INT, F(min_clients), MODEL_CMDS, 1, 1000000, 0, 0},
    {"--max-clients", V_INT, F(max_clients), AGG_SERVE, 1, 1000000, 0, 0},
    {"--mode", V_MODE, F(mode), MODEL_CMDS, 0, 0, 0, 0},
    {"--buffer", V_INT, F(buffer), MODEL_CMDS, 1, 1000000, 0, 0},
    {"--max-staleness", V_INT, F(max_staleness), MODEL_CMDS, 1, 1024, 0, 0},
    {"--staleness", V_TEXT, F(staleness), MODEL_CMDS, 0, 0, 0, 0},
    {"--server-lr", V_REAL, F(server_lr), MODEL_CMDS, 0, 0, 1e-6, 1e3},
    {"--max-norm", V_REAL, F(max_norm), MODEL_CMDS, 0, 0, 0.0, 1e30},
    {"--steps", V_INT, F(steps), AGG_SERVE, 1, 1000000, 0, 0},
    {"--host", V_TEXT, F(host), NET_CMDS, 0, 0, 0, 0},
    {"--port", V_INT, F(port), NET_CMDS, 0, 65535, 0, 0},
    {"--max-frame", V_INT, F(max_frame), AGG_SERVE | AGG_AGGREGATE, 1, (int64_t)1 << 31, 0, 0},
    {"--timeout", V_REAL, F(timeout), NET_CMDS, 0, 0, 0.01, 86400},
    {"--deadline", V_REAL, F(deadline), AGG_SERVE, 0, 0, 0.01, 1e7},
    {"--max-connections", V_INT, F(max_connections), AGG_SERVE, 1, 4096, 0, 0},
    {"--quiet", V_FLAG, F(quiet), MODEL_CMDS | AGG_SEND, 0, 0, 0, 0},
};

static const char *command_name(agg_command c)
{
    switch (c) {
    case AGG_KEYGEN: return "keygen";
    case AGG_SERVE: return "serve";
    case AGG_AGGREGATE: return "aggregate";
    default: return "send";
    }
}

/* Strict decimal: digits only (a leading minus where min < 0). */
static bool parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    const char *digits = text[0] == '-' && min < 0 ? text + 1 : text;
    if (!(*digits >= '0' && *digits <= '9'))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    if (!(*text >= '0' && *text <= '9'))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *text, double *out)
{
    if (!((*text >= '0' && *text <= '9') || *text == '.'))
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool apply(const option_spec *spec, const char *value, agg_options *o)
{
    void *field = (char *)o + spec->field;
    switch (spec->kind) {
    case V_FLAG:
        *(bool *)field = true;
        return true;
    case V_TEXT:
        if (!*value) {
            cli_error("%s needs a non-empty value", spec->name);
            return false;
        }
        *(const char **)field = value;
        return true;
    case V_INT:
        if (!parse_int(value, spec->min, spec->max, (int64_t *)field)) {
            cli_error("invalid value '%s' for %s (expected an integer from %lld to %lld)", value, spec->name,
                      (long long)spec->min, (long long)spec->max);
            return false;
        }
        return true;
    case V_U64:
        if (!parse_u64(value, (uint64_t *)field)) {
            cli_error("invalid value '%s' for %s (expected an integer >= 0)", value, spec->name);
            return false;
        }
        return true;
    case V_REAL: {
        double v;
        if (!parse_real(value, &v) || v < spec->rmin || v > spec->rmax) {
            cli_error("invalid value '%s' for %s (expected a number from %g to %g)", value, spec->name, spec->rmin,
                      spec->rmax);
            return false;
        }
        *(double *)field = v;
        return true;
    }
    case V_MODEL:
        if (strcmp(value, "mlp") == 0)
            *(cli_model *)field = CLI_MODEL_MLP;
        else if (strcmp(value, "cnn") == 0)
            *(cli_model *)field = CLI_MODEL_CNN;
        else {
            cli_error("invalid value '%s' for --model (expected mlp or cnn)", value);
            return false;
        }
        return true;
    case V_MODE:
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

static const option_spec *find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        if (strlen(option_table[i].name) == len && strncmp(option_table[i].name, name, len) == 0)
            return &option_table[i];
    return NULL;
}

static bool require(bool present, agg_command c, const char *what)
{
    if (!present)
        cli_error("%s needs %s", command_name(c), what);
    return present;
}

static bool check(agg_command c, agg_options *o)
{
    switch (c) {
    case AGG_KEYGEN:
        return require(o->out_path, c, "--out FILE");
    case AGG_SEND:
        return require(o->port >= 1, c, "--port N") && require(o->file_count > 0, c, "packet files");
    case AGG_SERVE:
        if (!require(o->port >= 0, c, "--port N (0: any free port)"))
            return false;
        if (o->file_count > 0) {
            cli_error("serve takes no files (did you mean vkagg aggregate?)");
            return false;
        }
        break;
    case AGG_AGGREGATE:
        if (!require(o->file_count > 0, c, "packet files"))
            return false;
        break;
    }
    if (!require(o->model != CLI_MODEL_NONE, c, "--model mlp|cnn") || !require(o->init_path, c, "--init FILE") ||
        !require(o->key_path, c, "--key FILE") || !require(o->out_path, c, "--out FILE"))
        return false;
    if (o->mode == VKT_FED_FEDAVG && (o->buffer || o->max_staleness || o->staleness || o->steps)) {
        cli_error("--buffer, --max-staleness, --staleness and --steps apply to --mode fedbuff only");
        return false;
    }
    if (o->mode == VKT_FED_FEDBUFF && o->max_clients) {
        cli_error("--max-clients applies to --mode fedavg (fedbuff serves --steps steps)");
        return false;
    }
    if (o->max_clients && o->max_clients < o->min_clients) {
        cli_error("--max-clients %lld is below --min-clients %lld", (long long)o->max_clients,
                  (long long)o->min_clients);
        return false;
    }
    return true;
}

agg_parse_result agg_parse_options(agg_command command, int argc, char **argv, agg_options *o)
{
    *o = (agg_options){
        .host = AGG_DEFAULT_HOST,
        .port = -1,
        .min_clients = 1,
        .server_lr = 1.0,
        .timeout = 30.0,
        .max_connections = 64,
    };
    o->files = calloc((size_t)argc + 1, sizeof *o->files);
    if (!o->files) {
        cli_error("out of memory");
        return AGG_PARSE_ERROR;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            agg_print_usage(stdout);
            return AGG_PARSE_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            o->files[o->file_count++] = argv[i];
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const option_spec *spec = find(arg, len);
        if (!spec || !(spec->commands & command)) {
            cli_error("%s option '%.*s' for %s (see vkagg --help)", spec ? "inapplicable" : "unknown", (int)len, arg,
                      command_name(command));
            return AGG_PARSE_ERROR;
        }
        const char *value, *wrong = tool_option_value(argc, argv, &i, spec->kind == V_FLAG, &value);
        if (wrong) {
            cli_error("option %s %s", spec->name, wrong);
            return AGG_PARSE_ERROR;
        }
        if (!apply(spec, value, o))
            return AGG_PARSE_ERROR;
    }
    return check(command, o) ? AGG_PARSE_OK : AGG_PARSE_ERROR;
}

void agg_print_usage(FILE *stream)
{
    fputs("usage: vkagg <command> [options]\n"
          "\n"
          "The federated aggregator: receives update packets (vktrain's update.h), combines them with\n"
          "FedAvg or FedBuff, and writes the new global model.\n"
          "\n"
          "  vkagg keygen --out agg.key [--public agg.pub]\n"
          "      a new aggregator key pair (mode 0600); --public also writes the public key for clients\n"
          "  vkagg serve --model mlp|cnn --init FILE --key agg.key --port N --out NEW.safetensors [options]\n"
          "      receive packets over TCP (length-prefixed frames; docs/aggregator.md)\n"
          "  vkagg aggregate --model mlp|cnn --init FILE --key agg.key --out NEW.safetensors PACKET...\n"
          "      the same from packet files\n"
          "  vkagg send --port N PACKET...\n"
          "      send packet files to a serving aggregator and print its replies\n"
          "\n"
          "aggregation (serve, aggregate):\n"
          "  --round R            version of --init: the round id packets must carry (default 0)\n"
          "  --mode fedavg|fedbuff  synchronous rounds (default) or buffered asynchronous steps\n"
          "  --min-clients K      fewest accepted updates to apply (default 1)\n"
          "  --max-clients K      serve, fedavg: close the round at K accepted (default --min-clients)\n"
          "  --buffer K           fedbuff: updates per step (default 10)\n"
          "  --max-staleness N    fedbuff: accept updates up to N versions old (default 16)\n"
          "  --staleness FN       fedbuff: poly[:A] ((1+tau)^-A, default A 0.5), constant, hinge:A:B\n"
          "  --steps N            serve, fedbuff: exit after N steps (default 1); --out after each\n"
          "  --server-lr X        server learning rate (default 1)\n"
          "  --max-norm X         refuse updates whose L2 norm exceeds X (default: no limit)\n"
          "  --max-frame BYTES    largest packet (default: what a dense update of the model needs)\n"
          "  --quiet              log refusals and steps only\n"
          "\n"
          "network (serve, send):\n"
          "  --host ADDR          serve: address to bind (default " AGG_DEFAULT_HOST "); send: server address\n"
          "  --port N             TCP port (serve: 0 picks a free one and prints it)\n"
          "  --timeout S          serve: close connections idle S seconds; send: wait S for replies (30)\n"
          "  --deadline S         serve: close the round after S seconds (default: none)\n"
          "  --max-connections N  serve: concurrent connections (default 64)\n",
          stream);
}
