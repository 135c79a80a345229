/* vkagg, the federated aggregator: what its files share.
 *
 * Like vktrain it uses the public API only. The model presets come from
 * tools/vktrain/presets.c (compiled in, with the three cli_* functions it
 * needs defined in cli_shim.c) until they move to tools/common. */
#ifndef VKAGG_H
#define VKAGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/vktrain.h>

#include "../vktrain/cli.h"

#define AGG_DEFAULT_HOST "127.0.0.1"

typedef enum agg_command {
    AGG_KEYGEN = 1u << 0,
    AGG_SERVE = 1u << 1,
    AGG_AGGREGATE = 1u << 2,
    AGG_SEND = 1u << 3,
} agg_command;

typedef struct agg_options {
    cli_model model;
    const char *init_path;
    const char *key_path;
    const char *out_path;
    const char *public_path;
    const char *host;
    int64_t port;          /* -1: not given */
    uint64_t round;        /* version of --init */
    int64_t min_clients;
    int64_t max_clients;   /* serve, FedAvg: stop collecting at this many (0: min_clients) */
    vkt_fed_mode mode;
    int64_t buffer;
    int64_t max_staleness;
    const char *staleness;
    double server_lr;
    double max_norm;
    int64_t steps;         /* serve, FedBuff: server steps before exiting */
    int64_t max_frame;     /* bytes; 0: from the model's size */
    double timeout;        /* seconds: idle connections (serve), replies (send) */
    double deadline;       /* serve: seconds until the round closes (0: none) */
    int64_t max_connections;
    bool quiet;
    char **files;          /* aggregate, send: positional arguments */
    int file_count;
} agg_options;

/* ---- options.c ---- */
typedef enum agg_parse_result { AGG_PARSE_OK, AGG_PARSE_HELP, AGG_PARSE_ERROR } agg_parse_result;
agg_parse_result agg_parse_options(agg_command command, int argc, char **argv, agg_options *out);
void agg_print_usage(FILE *stream);

/* ---- setup.c: key, model, aggregator ---- */
typedef struct agg_setup {
    vkt_graph *graph;
    vkt_fed_aggregator *agg;
    size_t max_frame; /* --max-frame or the largest packet the model allows */
} agg_setup;

/* Load the key pair and --init into the --model preset and create the
 * aggregator (clients are trusted on first use). Reports errors. */
bool agg_setup_create(const agg_options *o, agg_setup *out);
void agg_setup_free(agg_setup *s);
/* One line per submission (unless --quiet for accepted ones). */
void agg_log_receipt(const agg_options *o, const char *source, size_t bytes, vkt_status status,
                     const vkt_fed_receipt *r);
/* Write the model to --out and print the step's summary; false on a
 * write error (reported). */
bool agg_write_step(const agg_options *o, const agg_setup *s, const vkt_fed_round_stats *stats);
/* Read a packet file of at most max bytes; reports errors. */
bool agg_read_packet(const char *path, size_t max, uint8_t **data, size_t *size);

/* ---- commands ---- */
int agg_keygen_command(int argc, char **argv);
int agg_serve_command(int argc, char **argv);
int agg_aggregate_command(int argc, char **argv);
int agg_send_command(int argc, char **argv);

#endif
