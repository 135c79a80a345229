/* vkagg serve: collect packets over TCP. FedAvg: until --max-clients
 * updates are accepted (or the --deadline), then apply the round and
 * write --out. FedBuff: apply a step whenever the buffer fills, writing
 * --out each time, until --steps steps. Ctrl-C stops without writing. */
#include "vkagg.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "server.h"

typedef struct serve_state {
    const agg_options *o;
    agg_setup *setup;
    int64_t target; /* FedAvg: accepted updates; FedBuff: steps */
    int64_t steps;
    bool failed;
} serve_state;

static agg_server *running_server;

static void on_signal(int signal_number)
{
    (void)signal_number;
    agg_server_stop(running_server);
}

static void log_event(void *user, const char *message)
{
    (void)user;
    printf("%s\n", message);
    fflush(stdout);
}

static uint8_t on_frame(const uint8_t *frame, size_t size, const char *peer, void *user)
{
    serve_state *s = user;
    vkt_fed_receipt r;
    vkt_status st = vkt_fed_submit_packet(s->setup->agg, frame, size, &r);
    agg_log_receipt(s->o, peer, size, st, &r);
    if (r.applied) {
        vkt_fed_round_stats stats;
        vkt_fed_last_stats(s->setup->agg, &stats);
        s->failed = !agg_write_step(s->o, s->setup, &stats);
        s->steps++;
    }
    return st == VKT_OK ? FRAME_REPLY_ACCEPTED : (uint8_t)r.refusal;
}

static bool finished(void *user)
{
    serve_state *s = user;
    if (s->failed)
        return true;
    if (s->o->mode == VKT_FED_FEDBUFF)
        return s->steps >= s->target;
    vkt_fed_round_stats pending;
    vkt_fed_pending_stats(s->setup->agg, &pending);
    return pending.accepted >= s->target;
}

static int serve(const agg_options *o, agg_setup *setup)
{
    agg_server_config config = {
        .host = o->host,
        .port = (uint16_t)o->port,
        .max_frame = setup->max_frame,
        .max_connections = (int)o->max_connections,
        .idle_timeout_s = o->timeout,
        .frame_timeout_s = o->timeout,
        .log = log_event,
    };
    char err[256];
    agg_server *server;
    if (!agg_server_open(&config, &server, err, sizeof err)) {
        cli_error("%s", err);
        return 1;
    }
    serve_state state = {.o = o, .setup = setup};
    state.target = o->mode == VKT_FED_FEDBUFF ? (o->steps ? o->steps : 1)
                                              : (o->max_clients ? o->max_clients : o->min_clients);
    printf("listening on %s port %u: %s from version %llu, %s %lld, frames up to %zu bytes\n", o->host,
           (unsigned)agg_server_port(server), o->mode == VKT_FED_FEDBUFF ? "FedBuff" : "FedAvg",
           (unsigned long long)o->round, o->mode == VKT_FED_FEDBUFF ? "steps" : "clients",
           (long long)state.target, setup->max_frame);
    fflush(stdout);

    running_server = server;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    double deadline = o->deadline > 0 ? agg_server_now() + o->deadline : 0.0;
    bool ok = agg_server_run(server, on_frame, finished, &state, deadline, err, sizeof err);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    running_server = NULL;
    agg_server_close(server);
    if (!ok) {
        cli_error("%s", err);
        return 1;
    }
    if (state.failed)
        return 1;
    if (!finished(&state) && !(deadline > 0 && agg_server_now() >= deadline)) {
        fprintf(stderr, "vkagg: interrupted; no model written for the open round\n");
        return 130;
    }
    if (o->mode == VKT_FED_FEDBUFF) {
        if (state.steps >= state.target)
            return 0;
        cli_error("deadline: %lld of %lld steps applied", (long long)state.steps, (long long)state.target);
        return 1;
    }
    vkt_fed_round_stats stats;
    vkt_status st = vkt_fed_round_finish(setup->agg, &stats);
    if (st != VKT_OK)
        return cli_api_error(st, "no model written");
    return agg_write_step(o, setup, &stats) ? 0 : 1;
}

int agg_serve_command(int argc, char **argv)
{
    agg_options o;
    agg_parse_result parsed = agg_parse_options(AGG_SERVE, argc, argv, &o);
    if (parsed != AGG_PARSE_OK) {
        free(o.files);
        return parsed == AGG_PARSE_HELP ? 0 : 1;
    }
    agg_setup s;
    int status = agg_setup_create(&o, &s) ? serve(&o, &s) : 1;
    agg_setup_free(&s);
    free(o.files);
    return status;
}
