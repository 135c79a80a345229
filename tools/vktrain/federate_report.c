/* What vktrain federate prints and logs: the plan, one line (and JSON
 * record) per round or server step, and a summary. "Bytes per client"
 * are the packets' sizes; "x" compares them with the same update sent
 * as raw fp32 values. */
#include "federate.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define KB 1e3

static double ratio(uint64_t dense, uint64_t bytes)
{
    return bytes ? (double)dense / (double)bytes : 0.0;
}

void fsim_print_plan(const fsim_run *r)
{
    const fsim_options *o = &r->opt;
    int stragglers = 0, budgeted = 0;
    double fastest = INFINITY, slowest = 0.0;
    for (int i = 0; i < r->client_count; i++) {
        const fsim_client *c = &r->clients[i];
        stragglers += c->straggler;
        budgeted += c->memory_budget > 0;
        fastest = fmin(fastest, c->seconds_per_step);
        slowest = fmax(slowest, c->seconds_per_step);
    }
    printf("federated %s on Fashion-MNIST: %d clients, split %s, %s", cli_model_name(o->model), r->client_count,
           o->split, o->mode == VKT_FED_FEDBUFF ? "FedBuff" : "FedAvg");
    if (o->mode == VKT_FED_FEDBUFF)
        printf(" (%lld training at once, buffer %lld, staleness %s)", (long long)o->per_round, (long long)o->buffer,
               o->staleness ? o->staleness : "poly");
    else
        printf(" (%lld clients per round)", (long long)o->per_round);
    printf("\nlocal: ");
    if (o->local_epochs > 0)
        printf("%lld epochs", (long long)o->local_epochs);
    else
        printf("%lld steps", (long long)o->local_steps);
    printf(" of %lld, sgd lr %g momentum %g; codec %s; dense fp32 update %.1f kB\n", (long long)o->batch, o->lr,
           o->momentum, o->secure_agg ? "secure aggregation (dense fixed point)" : o->codec,
           (double)r->model_bytes / KB);
    if (o->secure_agg)
        printf("secure aggregation: range +-%g, step %.3g, threshold %s, dropout %g at %s\n", o->secagg_range,
               vkt_secagg_quant_step(o->secagg_range, (uint32_t)o->per_round),
               o->secagg_threshold ? "as given" : "n - floor(n/3)", o->secagg_dropout, o->secagg_drop_at);
    printf("devices: %.3f-%.3f s/step, %d stragglers (x%g); %d of %d with a memory budget "
           "(tiers %s of a %.2f MB full step)\n",
           fastest, slowest, stragglers, o->straggler_slowdown, budgeted, r->client_count, o->memory_tiers,
           (double)r->full_plan_bytes / 1e6);
    fflush(stdout);
}

static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int log_record(fsim_run *r, json_t *record)
{
    int failed = !record || json_dumpf(record, r->log, JSON_COMPACT | JSON_REAL_PRECISION(7)) != 0 ||
                 fputc('\n', r->log) == EOF || fflush(r->log) != 0;
    json_decref(record);
    if (failed)
        cli_error("cannot write log %s", r->opt.log_path);
    return failed;
}

int fsim_report_row(fsim_run *r)
{
    fsim_row *row = &r->row;
    double per_client = row->updates ? (double)row->bytes / row->updates : 0.0;
    if (row->accuracy > r->best_accuracy)
        r->best_accuracy = row->accuracy;
    r->total_bytes += row->bytes;
    r->total_dense += row->dense_bytes;
    r->total_updates += row->updates;
    if (r->time_to_target < 0 && row->accuracy >= r->opt.target) {
        r->time_to_target = row->sim_time;
        r->updates_to_target = r->total_updates;
    }
    r->total_refused += row->refused;
    r->total_failed += row->failed;
    r->total_down += row->down_bytes;
    r->total_vector += row->vector_bytes;
    r->total_secagg_seconds += row->secagg_seconds;
    r->total_server_seconds += row->server_seconds;

    if (!r->opt.quiet) {
        const char *unit = r->opt.mode == VKT_FED_FEDBUFF ? "step" : "round";
        printf("%s %3lld  acc %6.2f%%  loss %.4f  sim %8.1fs", unit, (long long)row->round, 100.0 * row->accuracy,
               row->loss, row->sim_time);
        if (row->round > 0) {
            printf("  updates %d", row->accepted);
            if (row->refused)
                printf(" (+%d refused)", row->refused);
            if (row->failed)
                printf(" (%d could not train)", row->failed);
            if (r->opt.secure_agg)
                printf("  secure sum of %d/%d (%d lost, %d late)  up %.1f + down %.1f kB/client  norm %.3g  "
                       "protocol %.2fs (server %.2fs)",
                       row->accepted, row->updates, row->dropped, row->late, per_client / KB,
                       row->updates ? (double)row->down_bytes / row->updates / KB : 0.0, row->update_norm,
                       row->secagg_seconds, row->server_seconds);
            else
                printf("  up %.1f kB/client (%.0fx)  norm %.3g", per_client / KB, ratio(row->dense_bytes, row->bytes),
                       row->update_norm);
            if (r->opt.mode == VKT_FED_FEDBUFF)
                printf("  staleness %.1f", row->mean_staleness);
        }
        printf("\n");
        fflush(stdout);
    }
    int status = 0;
    if (r->log) {
        json_t *rec = json_object();
        json_object_set_new(rec, "round", json_integer(row->round));
        json_object_set_new(rec, "version", json_integer((json_int_t)row->version));
        json_object_set_new(rec, "sim_time", number(row->sim_time));
        json_object_set_new(rec, "test_accuracy", number(row->accuracy));
        json_object_set_new(rec, "test_loss", number(row->loss));
        json_object_set_new(rec, "updates", json_integer(row->updates));
        json_object_set_new(rec, "accepted", json_integer(row->accepted));
        json_object_set_new(rec, "refused", json_integer(row->refused));
        json_object_set_new(rec, "could_not_train", json_integer(row->failed));
        json_object_set_new(rec, "bytes_per_client", number(per_client));
        json_object_set_new(rec, "max_bytes", json_integer((json_int_t)row->max_bytes));
        json_object_set_new(rec, "dense_bytes_per_client",
                            number(row->updates ? (double)row->dense_bytes / row->updates : 0.0));
        json_object_set_new(rec, "update_norm", number(row->update_norm));
        json_object_set_new(rec, "mean_staleness", number(row->mean_staleness));
        json_object_set_new(rec, "wall_seconds", number(row->wall_seconds));
        if (r->opt.secure_agg) {
            json_object_set_new(rec, "secagg_lost", json_integer(row->dropped));
            json_object_set_new(rec, "secagg_late", json_integer(row->late));
            json_object_set_new(rec, "secagg_down_bytes_per_client",
                                number(row->updates ? (double)row->down_bytes / row->updates : 0.0));
            json_object_set_new(rec, "secagg_seconds", number(row->secagg_seconds));
            json_object_set_new(rec, "secagg_server_seconds", number(row->server_seconds));
        }
        status = log_record(r, rec);
    }
    r->last = *row;
    memset(row, 0, sizeof *row);
    return status;
}

int fsim_report_summary(fsim_run *r)
{
    const fsim_options *o = &r->opt;
    double per_update = r->total_updates ? (double)r->total_bytes / (double)r->total_updates : 0.0;
    double per_client = r->client_count ? (double)r->total_bytes / r->client_count : 0.0;
    double wall = cli_now_seconds() - r->started;
    printf("done: %s, %lld %s, final test_acc %.2f%% (best %.2f%%), simulated %.1fs",
           o->mode == VKT_FED_FEDBUFF ? "FedBuff" : "FedAvg", (long long)r->last.round,
           o->mode == VKT_FED_FEDBUFF ? "steps" : "rounds", 100.0 * r->last.accuracy, 100.0 * r->best_accuracy,
           r->sim_time);
    if (r->time_to_target >= 0)
        printf(", %.0f%% reached at %.1fs after %lld updates", 100.0 * o->target, r->time_to_target,
               (long long)r->updates_to_target);
    else
        printf(", %.0f%% not reached", 100.0 * o->target);
    if (o->secure_agg)
        printf("\nupload: %lld clients' messages, %.2f kB each, %.1f kB per client in all; %.1fs wall\n",
               (long long)r->total_updates, per_update / KB, per_client / KB, wall);
    else
        printf("\nupload: %lld updates, %.2f kB each (%.0fx smaller than dense fp32), %.1f kB per client in all; "
               "%lld refused; %.1fs wall\n",
               (long long)r->total_updates, per_update / KB, ratio(r->total_dense, r->total_bytes), per_client / KB,
               (long long)r->total_refused, wall);
    double rounds = r->last.round > 0 ? (double)r->last.round : 1.0;
    /* what the protocol adds to the 4 bytes per element of the vector */
    double overhead = r->total_updates ? ((double)r->total_bytes - (double)r->total_vector) / r->total_updates : 0.0;
    double down = r->total_updates ? (double)r->total_down / r->total_updates : 0.0;
    if (o->secure_agg)
        printf("secure aggregation: %.1f kB up and %.1f kB down per client and round; beyond the masked vector's "
               "4 bytes per value: %.2f kB up + %.2f kB down; protocol %.2fs per round (server %.3fs), every "
               "party in this process\n",
               per_update / KB, down / KB, overhead / KB, down / KB, r->total_secagg_seconds / rounds,
               r->total_server_seconds / rounds);
    fflush(stdout);
    if (!r->log)
        return 0;
    json_t *rec = json_object();
    json_object_set_new(rec, "summary", json_true());
    json_object_set_new(rec, "mode", json_string(o->mode == VKT_FED_FEDBUFF ? "fedbuff" : "fedavg"));
    json_object_set_new(rec, "model", json_string(cli_model_name(o->model)));
    json_object_set_new(rec, "clients", json_integer(r->client_count));
    json_object_set_new(rec, "split", json_string(o->split));
    json_object_set_new(rec, "codec", json_string(o->codec));
    json_object_set_new(rec, "rounds", json_integer(r->last.round));
    json_object_set_new(rec, "final_accuracy", number(r->last.accuracy));
    json_object_set_new(rec, "best_accuracy", number(r->best_accuracy));
    json_object_set_new(rec, "sim_time", number(r->sim_time));
    json_object_set_new(rec, "target", number(o->target));
    json_object_set_new(rec, "time_to_target", r->time_to_target >= 0 ? json_real(r->time_to_target) : json_null());
    json_object_set_new(rec, "updates_to_target",
                        r->time_to_target >= 0 ? json_integer(r->updates_to_target) : json_null());
    json_object_set_new(rec, "updates", json_integer(r->total_updates));
    json_object_set_new(rec, "refused", json_integer(r->total_refused));
    json_object_set_new(rec, "could_not_train", json_integer(r->total_failed));
    json_object_set_new(rec, "bytes_per_update", number(per_update));
    json_object_set_new(rec, "bytes_per_client", number(per_client));
    json_object_set_new(rec, "dense_fp32_bytes", json_integer((json_int_t)r->model_bytes));
    json_object_set_new(rec, "compression", number(ratio(r->total_dense, r->total_bytes)));
    json_object_set_new(rec, "wall_seconds", number(wall));
    json_object_set_new(rec, "secure_agg", json_boolean(o->secure_agg));
    if (o->secure_agg) {
        json_object_set_new(rec, "secagg_down_bytes_per_update", number(down));
        json_object_set_new(rec, "secagg_overhead_up_bytes_per_update", number(overhead));
        json_object_set_new(rec, "secagg_seconds_per_round", number(r->total_secagg_seconds / rounds));
        json_object_set_new(rec, "secagg_server_seconds_per_round", number(r->total_server_seconds / rounds));
    }
    return log_record(r, rec);
}
