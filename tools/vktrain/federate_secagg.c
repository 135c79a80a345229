/* vktrain federate --secure-agg: each FedAvg round runs secure
 * aggregation (include/vktrain/secagg.h) among the clients that trained,
 * every message serialized and handed over as bytes, so the aggregator
 * only ever holds the unmasked sum of their weighted updates.
 *
 * A client's vector is n * delta over every model tensor (zeros for the
 * tensors it did not train), then n for each tensor it trained and 0 for
 * the others, in fixed point (--secagg-range). The per-tensor weights
 * keep FedAvg's rule that a client that trained a subset does not dilute
 * the rest; the server learns them only as sums. --secagg-dropout makes
 * clients vanish at the stages --secagg-drop-at names. */
#include "federate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stages by the client message that ends each; STAYS: sends them all. */
enum { STAGE_KEYS, STAGE_SHARES, STAGE_MASKED, STAGE_UNMASK, STAGES, STAYS = STAGES };
static const char *const stage_names[STAGES] = {"keys", "shares", "masked", "unmask"};

/* The stages named in a comma-separated list, as bits; 0 if invalid. */
static unsigned parse_drop_at(const char *text)
{
    unsigned bits = 0;
    const char *p = text;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int s = 0; s < STAGES; s++)
            if (strlen(stage_names[s]) == len && strncmp(stage_names[s], p, len) == 0)
                found = s;
        if (found < 0)
            return 0;
        bits |= 1u << found;
        p = end ? end + 1 : NULL;
    }
    return bits;
}

bool fsim_drop_at_check(const char *text)
{
    if (parse_drop_at(text))
        return true;
    cli_error("invalid --secagg-drop-at '%s' (expected a comma-separated list of keys, shares, masked, unmask)", text);
    return false;
}

size_t fsim_secure_length(const fsim_world *w)
{
    int count = vkt_fed_aggregator_tensor_count(w->agg);
    size_t total = (size_t)count;
    for (int i = 0; i < count; i++) {
        vkt_update_tensor t;
        vkt_fed_aggregator_get_tensor(w->agg, i, &t);
        size_t numel = 1;
        for (int d = 0; d < t.rank; d++)
            numel *= (size_t)t.dims[d];
        total += numel;
    }
    return total;
}

vkt_status fsim_secure_vector(const fsim_world *w, uint32_t examples, fsim_update *out)
{
    int count = vkt_fed_aggregator_tensor_count(w->agg);
    size_t length = fsim_secure_length(w), offset = 0, carried = 0;
    float *v = calloc(length, sizeof *v);
    float *now = malloc(length * sizeof *now);
    vkt_status st = v && now ? VKT_OK : VKT_ERR_NO_MEMORY;
    float *weights = v ? v + (length - (size_t)count) : NULL;
    for (int i = 0; st == VKT_OK && i < count; i++) {
        vkt_update_tensor t;
        vkt_fed_aggregator_get_tensor(w->agg, i, &t);
        size_t numel = 1;
        for (int d = 0; d < t.rank; d++)
            numel *= (size_t)t.dims[d];
        st = vkt_graph_param_get(w->graph, t.name, now, numel);
        if (st == VKT_OK && memcmp(now, t.values, numel * sizeof *now) != 0) {
            for (size_t j = 0; j < numel; j++)
                v[offset + j] = (float)examples * (now[j] - t.values[j]);
            weights[i] = (float)examples;
            carried += numel;
        }
        offset += numel;
    }
    if (st == VKT_OK && carried == 0) /* nothing changed (a zero learning rate): every tensor, zeros */
        for (int i = 0; i < count; i++)
            weights[i] = (float)examples;
    free(now);
    if (st != VKT_OK) {
        free(v);
        return st;
    }
    out->vector = v;
    out->vector_length = length;
    out->dense_bytes = (carried ? carried : length - (size_t)count) * sizeof(float);
    return VKT_OK;
}

/* ---- one round ------------------------------------------------------- */

typedef struct party {
    vkt_secagg_client *client;
    uint32_t *x;     /* the encoded vector */
    int drop_before; /* the stage whose message it never sends; STAYS */
    uint64_t up, down;
} party;

/* Which clients drop, and where: --secagg-dropout of them, each at one
 * of the --secagg-drop-at stages. */
static void plan_dropouts(fsim_run *r, party *parties, int count)
{
    unsigned bits = parse_drop_at(r->opt.secagg_drop_at);
    int stages[STAGES], choices = 0;
    for (int s = 0; s < STAGES; s++)
        if (bits & (1u << s))
            stages[choices++] = s;
    int drops = (int)lround(r->opt.secagg_dropout * count);
    size_t *order = malloc((size_t)count * sizeof *order);
    if (!order)
        return;
    for (int k = 0; k < count; k++)
        order[k] = (size_t)k;
    fsim_rng_shuffle(&r->drop_rng, order, (size_t)count);
    for (int k = 0; k < drops && k < count; k++)
        if (parties[order[k]].drop_before == STAYS)
            parties[order[k]].drop_before = stages[fsim_rng_next(&r->drop_rng) % (uint64_t)choices];
    free(order);
}

/* Stage `stage` for party k: the server's opening message (none for
 * stage 0), the client's answer, the server takes it. */
static vkt_status exchange(vkt_secagg_server *server, party *p, uint32_t index, int stage, size_t length,
                           double *server_seconds)
{
    double t0 = cli_now_seconds();
    uint8_t *in = NULL, *out = NULL;
    size_t in_size = 0, out_size = 0;
    vkt_status st = VKT_OK;
    if (stage > 0) {
        if (!vkt_secagg_server_took_part(server, (vkt_secagg_stage)(stage - 1), index))
            return VKT_OK; /* it missed a stage: it is out */
        st = vkt_secagg_server_message(server, index, &in, &in_size);
        p->down += in_size;
    }
    *server_seconds += cli_now_seconds() - t0;
    if (st == VKT_OK) {
        switch (stage) {
        case 0: st = vkt_secagg_client_advertise(p->client, &out, &out_size); break;
        case 1: st = vkt_secagg_client_share_keys(p->client, in, in_size, &out, &out_size); break;
        case 2: st = vkt_secagg_client_mask_input(p->client, in, in_size, p->x, length, &out, &out_size); break;
        default: st = vkt_secagg_client_unmask(p->client, in, in_size, &out, &out_size); break;
        }
    }
    vkt_secagg_message_free(in);
    if (st == VKT_OK) {
        p->up += out_size;
        t0 = cli_now_seconds();
        st = vkt_secagg_server_receive(server, out, out_size, NULL);
        *server_seconds += cli_now_seconds() - t0;
    }
    vkt_secagg_message_free(out);
    return st;
}

/* Decode the sum and apply it as the round's FedAvg step. */
static vkt_status apply(fsim_run *r, const uint32_t *sum, const vkt_secagg_params *p, int contributors)
{
    vkt_fed_aggregator *agg = r->world.agg;
    int count = vkt_fed_aggregator_tensor_count(agg);
    double *decoded = malloc(p->vector_length * sizeof *decoded);
    float *values = malloc(p->vector_length * sizeof *values);
    vkt_update_tensor *sums = calloc((size_t)count, sizeof *sums);
    double *weights = malloc((size_t)count * sizeof *weights);
    vkt_status st = decoded && values && sums && weights ? VKT_OK : VKT_ERR_NO_MEMORY;
    if (st == VKT_OK)
        st = vkt_secagg_dequantize(sum, p->vector_length, r->opt.secagg_range, p->client_count, decoded);
    size_t offset = 0;
    for (int i = 0; st == VKT_OK && i < count; i++) {
        vkt_fed_aggregator_get_tensor(agg, i, &sums[i]);
        size_t numel = 1;
        for (int d = 0; d < sums[i].rank; d++)
            numel *= (size_t)sums[i].dims[d];
        for (size_t j = 0; j < numel; j++)
            values[offset + j] = (float)decoded[offset + j];
        sums[i].values = values + offset;
        offset += numel;
        /* sums of whole example counts: the quantization error is far below 0.5 */
        weights[i] = fmax(0.0, round(decoded[p->vector_length - (size_t)count + (size_t)i]));
    }
    vkt_fed_round_stats stats;
    if (st == VKT_OK)
        st = vkt_fed_apply_sum(agg, sums, weights, count, contributors, &stats);
    if (st == VKT_OK)
        r->row.update_norm = stats.update_norm;
    free(decoded);
    free(values);
    free(sums);
    free(weights);
    return st;
}

static vkt_status run_protocol(fsim_run *r, party *parties, int count, const vkt_secagg_params *p, int *contributors,
                               bool *applied)
{
    vkt_secagg_server *server = NULL;
    vkt_status st = vkt_secagg_server_create(p, &server);
    for (int k = 0; st == VKT_OK && k < count; k++)
        st = vkt_secagg_client_create(p, (uint32_t)k + 1, &parties[k].client);
    for (int stage = 0; st == VKT_OK && stage < STAGES; stage++) {
        for (int k = 0; st == VKT_OK && k < count; k++)
            if (parties[k].drop_before > stage)
                st = exchange(server, &parties[k], (uint32_t)k + 1, stage, p->vector_length, &r->row.server_seconds);
        if (st != VKT_OK)
            break;
        double t0 = cli_now_seconds();
        vkt_status closed = vkt_secagg_server_close_stage(server);
        r->row.server_seconds += cli_now_seconds() - t0;
        if (closed != VKT_OK) {
            /* below the threshold: the round is lost, nothing revealed */
            if (!r->opt.quiet)
                printf("  secure aggregation stopped: %s\n", vkt_last_error());
            vkt_secagg_server_destroy(server);
            return VKT_OK;
        }
    }
    uint32_t *sum = st == VKT_OK ? malloc(p->vector_length * sizeof *sum) : NULL;
    vkt_secagg_result_info info = {0};
    if (st == VKT_OK && !sum)
        st = VKT_ERR_NO_MEMORY;
    if (st == VKT_OK)
        st = vkt_secagg_server_result(server, sum, p->vector_length, &info);
    vkt_secagg_server_destroy(server);
    if (st == VKT_OK) {
        *contributors = (int)info.contributors;
        st = apply(r, sum, p, *contributors);
        *applied = st == VKT_OK;
    }
    free(sum);
    return st;
}

int fsim_secure_round(fsim_run *r, fsim_update *updates, const fsim_client *const *clients, int count,
                      double *slowest)
{
    const fsim_options *o = &r->opt;
    fsim_row *row = &r->row;
    if (count < 2) {
        printf("  round skipped: %d client(s) trained; secure aggregation needs 2\n", count);
        return 0;
    }
    vkt_secagg_params p = {
        .round_id = vkt_fed_aggregator_version(r->world.agg),
        .client_count = (uint32_t)count,
        .threshold = (uint32_t)o->secagg_threshold,
        .vector_length = (uint32_t)updates[0].vector_length,
    };
    if (updates[0].vector_length > VKT_SECAGG_MAX_LENGTH)
        return cli_api_error(VKT_ERR_UNSUPPORTED, "the model is too large for one secure-aggregation vector");
    if (vkt_secagg_params_resolve(&p, &p) != VKT_OK) {
        printf("  round skipped: %s\n", vkt_last_error());
        return 0;
    }
    party *parties = calloc((size_t)count, sizeof *parties);
    if (!parties)
        return cli_api_error(VKT_ERR_NO_MEMORY, "secure aggregation");
    int status = 0;
    for (int k = 0; k < count && status == 0; k++) {
        parties[k].drop_before = STAYS;
        parties[k].x = malloc(p.vector_length * sizeof *parties[k].x);
        if (!parties[k].x) {
            status = cli_api_error(VKT_ERR_NO_MEMORY, "secure aggregation");
        } else if (vkt_secagg_quantize(updates[k].vector, p.vector_length, o->secagg_range, p.client_count,
                                       parties[k].x) != VKT_OK) {
            if (!o->quiet)
                printf("  client %llu sits this round out: %s\n", (unsigned long long)clients[k]->id,
                       vkt_last_error());
            parties[k].drop_before = STAGE_KEYS;
        }
    }
    plan_dropouts(r, parties, count);

    int contributors = 0;
    bool applied = false;
    double started = cli_now_seconds();
    if (status == 0) {
        vkt_status st = run_protocol(r, parties, count, &p, &contributors, &applied);
        if (st != VKT_OK)
            status = cli_api_error(st, "secure aggregation failed");
    }
    row->secagg_seconds = cli_now_seconds() - started;
    if (status == 0 && !applied && !o->quiet)
        printf("  round not applied\n");

    row->updates += count;
    row->accepted += contributors;
    for (int k = 0; k < count; k++) {
        party *q = &parties[k];
        row->bytes += q->up;
        row->down_bytes += q->down;
        row->dense_bytes += updates[k].dense_bytes;
        if (q->drop_before > STAGE_MASKED) /* it sent its masked vector */
            row->vector_bytes += (uint64_t)p.vector_length * 4;
        if (q->up > row->max_bytes)
            row->max_bytes = q->up;
        if (q->drop_before <= STAGE_MASKED)
            row->dropped++;
        else if (q->drop_before == STAGE_UNMASK)
            row->late++;
        /* the round waits for those that stay, not for the dropped */
        if (q->drop_before == STAYS)
            *slowest = fmax(*slowest, fsim_link_seconds(o, r->model_bytes + q->down, q->up) +
                                          (double)updates[k].steps * clients[k]->seconds_per_step);
        vkt_secagg_client_destroy(q->client);
        free(q->x);
    }
    if (!applied)
        row->dropped = count;
    free(parties);
    return status;
}
