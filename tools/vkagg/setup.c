/* What serve and aggregate share: the aggregator over --init, logging
 * each submission and step, writing the model, reading packet files. */
#include "vkagg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest packet a client can need for this model: a dense or top-k
 * fp32 body (at most 9 bytes per element with indices), every tensor
 * record's head, the headers, and zstd's worst-case expansion. */
static size_t frame_cap_for(const vkt_graph *g)
{
    size_t elements = 0;
    int count = vkt_graph_param_count(g);
    for (int i = 0; i < count; i++) {
        vkt_param_info info;
        if (vkt_graph_param_info(g, i, &info) == VKT_OK)
            elements += info.numel;
    }
    size_t body = (size_t)count * 300 + elements * 9;
    return 4096 + body + body / 128;
}

static bool model_size(const vkt_graph *g, uint64_t *elements, int *tensors)
{
    *elements = 0;
    *tensors = vkt_graph_param_count(g);
    for (int i = 0; i < *tensors; i++) {
        vkt_param_info info;
        if (vkt_graph_param_info(g, i, &info) != VKT_OK)
            return false;
        *elements += info.numel;
    }
    return true;
}

static bool fed_options(const agg_options *o, const vkt_graph *g, vkt_fed_options *f)
{
    *f = (vkt_fed_options){
        .mode = o->mode,
        .first_version = o->round,
        .server_lr = (float)o->server_lr,
        .min_clients = (int)o->min_clients,
        .buffer_size = (int)o->buffer,
        .max_staleness = (int)o->max_staleness,
        .max_update_norm = o->max_norm,
        /* No client registry yet: a client id is bound to the first key
         * that authenticates for it. */
        .receiver = {.accept_unknown_clients = true},
    };
    if (o->staleness) {
        vkt_status st = vkt_fed_staleness_parse(o->staleness, &f->staleness);
        if (st != VKT_OK) {
            cli_api_error(st, "--staleness");
            return false;
        }
    }
    /* No packet for this model needs more: bounds every allocation. */
    uint64_t elements;
    int tensors;
    if (!model_size(g, &elements, &tensors)) {
        cli_error("cannot read the model's parameters");
        return false;
    }
    f->receiver.max_elements = elements;
    f->receiver.max_tensors = tensors;
    return true;
}

bool agg_setup_create(const agg_options *o, agg_setup *s)
{
    memset(s, 0, sizeof *s);
    vkt_keypair keys;
    vkt_status st = vkt_keypair_load(o->key_path, &keys);
    if (st != VKT_OK) {
        cli_api_error(st, "cannot load the key pair");
        return false;
    }
    vkt_tensor loss;
    bool ok = cli_build_model(o->model, 0, 0.0f, &s->graph, &loss);
    if (ok && (st = vkt_graph_load_safetensors(s->graph, o->init_path, false)) != VKT_OK)
        ok = cli_api_error(st, "cannot load --init %s as the %s model", o->init_path, cli_model_name(o->model)) == 0;
    vkt_fed_options f;
    if (ok)
        ok = fed_options(o, s->graph, &f);
    if (ok && (st = vkt_fed_aggregator_create_from_graph(s->graph, &keys, &f, &s->agg)) != VKT_OK)
        ok = cli_api_error(st, "cannot create the aggregator") == 0;
    vkt_keypair_wipe(&keys);
    if (!ok) {
        agg_setup_free(s);
        return false;
    }
    s->max_frame = o->max_frame > 0 ? (size_t)o->max_frame : frame_cap_for(s->graph);
    return true;
}

void agg_setup_free(agg_setup *s)
{
    vkt_fed_aggregator_destroy(s->agg);
    if (s->graph)
        vkt_graph_destroy(s->graph);
    memset(s, 0, sizeof *s);
}

void agg_log_receipt(const agg_options *o, const char *source, size_t bytes, vkt_status status,
                     const vkt_fed_receipt *r)
{
    if (status == VKT_OK) {
        if (!o->quiet)
            printf("%s: client %llu, version %llu (staleness %llu), %u examples, %zu bytes: accepted%s\n", source,
                   (unsigned long long)r->client_id, (unsigned long long)r->version,
                   (unsigned long long)r->staleness, r->example_count, bytes, r->applied ? " (step applied)" : "");
    } else {
        printf("%s: %zu bytes: refused (%s): %s\n", source, bytes, vkt_fed_refusal_name(r->refusal),
               vkt_last_error());
    }
    fflush(stdout);
}

static void print_refusals(const vkt_fed_round_stats *s)
{
    if (s->refused == 0)
        return;
    printf(" (");
    const char *sep = "";
    for (int k = 1; k < VKT_FED_REFUSAL_COUNT; k++) {
        if (s->refused_by[k] == 0)
            continue;
        printf("%s%s %d", sep, vkt_fed_refusal_name((vkt_fed_refusal)k), s->refused_by[k]);
        sep = ", ";
    }
    printf(")");
}

bool agg_write_step(const agg_options *o, const agg_setup *s, const vkt_fed_round_stats *stats)
{
    vkt_status st = vkt_fed_aggregator_save(s->agg, o->out_path);
    if (st != VKT_OK) {
        cli_api_error(st, "cannot write %s", o->out_path);
        return false;
    }
    printf("version %llu: %d accepted, %d refused", (unsigned long long)stats->version, stats->accepted,
           stats->refused);
    print_refusals(stats);
    printf("; %.1f kB received; %llu examples; update norm %.4g; mean staleness %.2f; wrote %s\n",
           (double)stats->bytes_received / 1e3, (unsigned long long)stats->examples, stats->update_norm,
           stats->mean_staleness, o->out_path);
    fflush(stdout);
    return true;
}

bool agg_read_packet(const char *path, size_t max, uint8_t **data, size_t *size)
{
    *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 1 || (uint64_t)st.st_size > max) {
        cli_error("%s: not a regular file of 1 to %zu bytes", path, max);
        close(fd);
        return false;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != n) {
        cli_error("cannot read %s%s", path, buf ? "" : ": out of memory");
        free(buf);
        return false;
    }
    *data = buf;
    *size = n;
    return true;
}
