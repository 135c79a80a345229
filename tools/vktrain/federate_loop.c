/* The simulation's two schedules.
 *
 * FedAvg: each round samples --per-round clients, every one trains from
 * the current model, the aggregator applies their weighted mean; the
 * round lasts as long as its slowest client (download, local steps,
 * upload), stragglers included.
 *
 * FedBuff: --per-round clients train at once; whenever one finishes (in
 * simulated time order) its packet goes to the aggregator, which applies
 * a step each --buffer updates, and an idle client starts training from
 * the model of that moment. Nobody waits for stragglers; their late
 * updates count less (staleness) or are refused when too old.
 *
 * Local training runs for real, at the moment a client starts; only the
 * clock is simulated. */
#include "federate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fsim_evaluate(fsim_run *r)
{
    fsim_world *w = &r->world;
    static const vkt_trainable_set nothing = {.policy = VKT_TRAIN_NAMED};
    const vkt_trainer_options options = {
        .trainable = &nothing,
        .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.01f},
        .batch_size = (int)r->opt.batch,
    };
    vkt_trainer *tr = NULL;
    vkt_metrics m;
    vkt_status st = vkt_fed_aggregator_copy_to_graph(w->agg, w->graph);
    if (st == VKT_OK)
        st = vkt_trainer_create(w->context, w->graph, w->loss, &options, &tr);
    if (st == VKT_OK)
        st = cli_evaluate(tr, r->test_loader, w->x, w->labels, &m);
    vkt_trainer_destroy(tr);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot evaluate the global model");
    r->row.accuracy = m.accuracy;
    r->row.loss = m.loss_mean;
    r->row.version = vkt_fed_aggregator_version(w->agg);
    return 0;
}

static bool write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        cli_error("cannot write %s", path);
    return ok;
}

/* --save-packets: the model a client is about to train from (once per
 * version), so vkagg aggregate can redo a round from the files. */
static int save_model(fsim_run *r)
{
    uint64_t v = vkt_fed_aggregator_version(r->world.agg);
    if (!r->opt.packets_dir || r->saved_version == v + 1)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/v%llu.safetensors", r->opt.packets_dir, (unsigned long long)v);
    vkt_status st = vkt_fed_aggregator_save(r->world.agg, path);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot write %s", path);
    r->saved_version = v + 1;
    return 0;
}

static int save_packet(fsim_run *r, const fsim_client *c, const fsim_update *u)
{
    if (!r->opt.packets_dir)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/v%llu-c%04llu-u%lld.pkt", r->opt.packets_dir, (unsigned long long)u->version,
             (unsigned long long)c->id, (long long)c->updates);
    return write_file(path, u->packet, u->size) ? 0 : 1;
}

/* Hand a packet to the aggregator, as the network would: maybe damaged
 * (--corrupt). Returns whether a step was applied. */
static bool deliver(fsim_run *r, const fsim_update *u)
{
    if (r->opt.corrupt > 0 && fsim_rng_uniform(&r->corrupt_rng) < r->opt.corrupt) {
        size_t bit = (size_t)(fsim_rng_next(&r->corrupt_rng) % (u->size * 8));
        u->packet[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    vkt_fed_receipt receipt;
    vkt_status st = vkt_fed_submit_packet(r->world.agg, u->packet, u->size, &receipt);
    fsim_row *row = &r->row;
    row->updates++;
    row->bytes += u->size;
    row->dense_bytes += u->dense_bytes;
    if (u->size > row->max_bytes)
        row->max_bytes = u->size;
    if (st == VKT_OK) {
        row->accepted++;
    } else {
        row->refused++;
        if (!r->opt.quiet)
            printf("  refused a packet (%s): %s\n", vkt_fed_refusal_name(receipt.refusal), vkt_last_error());
    }
    return receipt.applied;
}

/* Train client c now and package the result; false when it cannot
 * (its budget fits nothing: counted) or failed (reported: *error). */
static bool train(fsim_run *r, fsim_client *c, uint64_t seed, fsim_update *u, int *error)
{
    memset(u, 0, sizeof *u);
    *error = save_model(r);
    if (*error)
        return false;
    if (!fsim_client_train(&r->world, c, seed, u)) {
        if (c->cannot_train)
            r->row.failed++;
        else
            *error = 1;
        return false;
    }
    u->seconds = fsim_link_seconds(&r->opt, r->model_bytes, u->size) + (double)u->steps * c->seconds_per_step;
    *error = save_packet(r, c, u);
    return *error == 0;
}

/* ---- FedAvg ---------------------------------------------------------- */

int fsim_run_fedavg(fsim_run *r)
{
    const fsim_options *o = &r->opt;
    size_t n = (size_t)r->client_count;
    size_t *order = malloc(n * sizeof *order);
    if (!order) {
        cli_error("out of memory");
        return 1;
    }
    /* --secure-agg: the round's updates wait for the protocol */
    fsim_update *held = o->secure_agg ? calloc((size_t)o->per_round, sizeof *held) : NULL;
    const fsim_client **holders = o->secure_agg ? calloc((size_t)o->per_round, sizeof *holders) : NULL;
    int status = 0;
    if (o->secure_agg && (!held || !holders)) {
        cli_error("out of memory");
        status = 1;
    }
    for (int64_t round = 1; round <= o->rounds && status == 0; round++) {
        double started = cli_now_seconds();
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        fsim_rng_shuffle(&r->sample_rng, order, n);
        double slowest = 0.0;
        int trained = 0;
        for (int64_t k = 0; k < o->per_round && status == 0; k++) {
            fsim_client *c = &r->clients[order[k]];
            fsim_update u = {0};
            if (train(r, c, o->seed + (uint64_t)round, &u, &status)) {
                if (o->secure_agg) {
                    held[trained] = u;
                    holders[trained++] = c;
                    continue;
                }
                deliver(r, &u);
                slowest = fmax(slowest, u.seconds);
            }
            vkt_update_packet_free(u.packet);
            free(u.vector);
        }
        if (status == 0 && o->secure_agg)
            status = fsim_secure_round(r, held, holders, trained, &slowest);
        for (int k = 0; k < trained; k++)
            free(held[k].vector);
        if (status != 0)
            break;
        if (!o->secure_agg) {
            vkt_fed_round_stats stats;
            vkt_status st = vkt_fed_round_finish(r->world.agg, &stats);
            if (st == VKT_OK) {
                r->row.update_norm = stats.update_norm;
            } else {
                printf("  round %lld not applied: %s\n", (long long)round, vkt_last_error());
                vkt_fed_round_discard(r->world.agg);
            }
        }
        r->sim_time += slowest;
        r->row.round = round;
        r->row.sim_time = r->sim_time;
        r->row.wall_seconds = cli_now_seconds() - started;
        status = fsim_evaluate(r);
        if (status == 0)
            status = fsim_report_row(r);
    }
    free(order);
    free(held);
    free(holders);
    return status;
}

/* ---- FedBuff --------------------------------------------------------- */

typedef struct inflight {
    int client;
    double finish;
    fsim_update update;
} inflight;

/* A random client that is not training now and can train. */
static int pick_idle(fsim_run *r, const bool *busy)
{
    int idle = 0;
    for (int i = 0; i < r->client_count; i++)
        idle += !busy[i] && !r->clients[i].cannot_train;
    if (idle == 0)
        return -1;
    int k = (int)(fsim_rng_next(&r->sample_rng) % (uint64_t)idle);
    for (int i = 0; i < r->client_count; i++)
        if (!busy[i] && !r->clients[i].cannot_train && k-- == 0)
            return i;
    return -1;
}

/* Start idle clients at time `now` until `target` are in flight. */
static int start_clients(fsim_run *r, inflight *fly, int *flying, int target, bool *busy, double now,
                         uint64_t seed)
{
    while (*flying < target) {
        int c = pick_idle(r, busy);
        if (c < 0)
            return 0;
        int error = 0;
        inflight *f = &fly[*flying];
        busy[c] = true;
        if (!train(r, &r->clients[c], seed, &f->update, &error)) {
            vkt_update_packet_free(f->update.packet);
            if (error)
                return error;
            continue; /* it cannot train: pick_idle skips it from now on */
        }
        f->client = c;
        f->finish = now + f->update.seconds;
        (*flying)++;
    }
    return 0;
}

static int earliest(const inflight *fly, int flying)
{
    int best = 0;
    for (int i = 1; i < flying; i++)
        if (fly[i].finish < fly[best].finish ||
            (fly[i].finish == fly[best].finish && fly[i].client < fly[best].client))
            best = i;
    return best;
}

int fsim_run_fedbuff(fsim_run *r)
{
    const fsim_options *o = &r->opt;
    int concurrency = (int)o->per_round;
    inflight *fly = calloc((size_t)concurrency, sizeof *fly);
    bool *busy = calloc((size_t)r->client_count, sizeof *busy);
    if (!fly || !busy) {
        free(fly);
        free(busy);
        cli_error("out of memory");
        return 1;
    }
    int flying = 0, status = 0;
    int64_t steps = 0;
    double started = cli_now_seconds();
    uint64_t seed = o->seed;
    status = start_clients(r, fly, &flying, concurrency, busy, 0.0, ++seed);
    while (status == 0 && steps < o->rounds) {
        if (flying == 0) {
            cli_error("no client can train (every memory budget is too small)");
            status = 1;
            break;
        }
        int i = earliest(fly, flying);
        inflight done = fly[i];
        fly[i] = fly[--flying];
        r->sim_time = done.finish;
        bool applied = deliver(r, &done.update);
        vkt_update_packet_free(done.update.packet);
        busy[done.client] = false;
        /* Everything refused (a hostile --corrupt, too small a
         * --max-staleness): stop rather than train forever. */
        if (!applied && r->row.refused > 10 * (int)o->buffer + concurrency) {
            cli_error("%d updates refused since the last step; giving up", r->row.refused);
            status = 1;
            break;
        }
        if (applied) {
            vkt_fed_round_stats stats;
            vkt_fed_last_stats(r->world.agg, &stats);
            r->row.round = ++steps;
            r->row.sim_time = r->sim_time;
            r->row.update_norm = stats.update_norm;
            r->row.mean_staleness = stats.mean_staleness;
            r->row.wall_seconds = cli_now_seconds() - started;
            status = fsim_evaluate(r);
            if (status == 0)
                status = fsim_report_row(r);
            started = cli_now_seconds();
        }
        if (status == 0)
            status = start_clients(r, fly, &flying, concurrency, busy, r->sim_time, ++seed);
    }
    for (int k = 0; k < flying; k++)
        vkt_update_packet_free(fly[k].update.packet);
    free(fly);
    free(busy);
    return status;
}
