/* One simulated client's turn: take the global model, train locally
 * through the ordinary trainer API (its memory budget picking the
 * trainable set), and encode the update of the parameters it changed as
 * a sealed packet, as a device would. */
#include "federate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool fsim_link_rates(const fsim_options *o, double *up, double *down)
{
    size_t u, d;
    if (!cli_parse_bytes("--uplink", o->uplink, &u) || !cli_parse_bytes("--downlink", o->downlink, &d))
        return false;
    *up = (double)u;
    *down = (double)d;
    return true;
}

double fsim_link_seconds(const fsim_options *o, uint64_t model_bytes, size_t packet_bytes)
{
    double up = 1.0, down = 1.0;
    fsim_link_rates(o, &up, &down); /* checked once at startup */
    return (double)model_bytes / down + (double)packet_bytes / up;
}

static vkt_status create_trainer(fsim_world *w, fsim_client *c, uint64_t seed, vkt_trainer **tr)
{
    const fsim_options *o = w->opt;
    vkt_trainable_set set = {.policy = VKT_TRAIN_ALL};
    if (c->memory_budget > 0)
        set = c->policy_known ? c->policy : (vkt_trainable_set){.policy = VKT_TRAIN_AUTO};
    const vkt_trainer_options options = {
        .trainable = &set,
        .optimizer = {.kind = VKT_OPT_SGD, .lr = (float)o->lr, .momentum = (float)o->momentum},
        .batch_size = (int)o->batch,
        .seed = seed,
        .memory_budget = c->memory_budget,
    };
    vkt_status st = vkt_trainer_create(w->context, w->graph, w->loss, &options, tr);
    if (st == VKT_OK && !c->policy_known) {
        /* auto measures every candidate: do that once per device */
        st = vkt_trainer_policy(*tr, &c->policy);
        c->policy_known = st == VKT_OK;
    }
    return st;
}

static vkt_status local_steps(fsim_world *w, fsim_client *c, vkt_trainer *tr, int64_t steps, int64_t *samples)
{
    const void *const inputs[2] = {w->x, w->labels};
    *samples = 0;
    for (int64_t s = 0; s < steps; s++) {
        int count = 0;
        vkt_status st = vkt_loader_next(c->loader, w->x, w->labels, &count);
        if (st == VKT_OK && count == 0) /* end of an epoch: the loader moved on */
            st = vkt_loader_next(c->loader, w->x, w->labels, &count);
        if (st == VKT_OK && count == 0)
            st = VKT_ERR_STATE;
        if (st == VKT_OK)
            st = vkt_trainer_step(tr, inputs, count);
        if (st != VKT_OK)
            return st;
        *samples += count;
    }
    vkt_metrics m; /* waits for the last step */
    return vkt_trainer_read_train_metrics(tr, &m);
}

/* Names of the parameters training changed: a device that trained a
 * subset sends only that subset. */
static vkt_status changed_params(const fsim_world *w, const char ***names, int *count)
{
    int n = vkt_fed_aggregator_tensor_count(w->agg);
    const char **list = malloc((size_t)n * sizeof *list);
    float *now = NULL;
    size_t cap = 0;
    *count = 0;
    vkt_status st = list ? VKT_OK : VKT_ERR_NO_MEMORY;
    for (int i = 0; st == VKT_OK && i < n; i++) {
        vkt_update_tensor t;
        st = vkt_fed_aggregator_get_tensor(w->agg, i, &t);
        size_t numel = 1;
        for (int d = 0; d < t.rank; d++)
            numel *= (size_t)t.dims[d];
        if (st == VKT_OK && numel > cap) {
            free(now);
            now = malloc(numel * sizeof *now);
            cap = now ? numel : 0;
            st = now ? VKT_OK : VKT_ERR_NO_MEMORY;
        }
        if (st == VKT_OK)
            st = vkt_graph_param_get(w->graph, t.name, now, numel);
        if (st == VKT_OK && memcmp(now, t.values, numel * sizeof *now) != 0)
            list[(*count)++] = t.name;
    }
    free(now);
    if (st != VKT_OK)
        free(list);
    else
        *names = list;
    return st;
}

static uint64_t local_step_count(const fsim_options *o, const fsim_client *c)
{
    if (o->local_epochs > 0)
        return (uint64_t)o->local_epochs * vkt_loader_batches_per_epoch(c->loader);
    return (uint64_t)o->local_steps;
}

static vkt_status encode(fsim_world *w, fsim_client *c, const vkt_update_base *base, int64_t samples,
                         fsim_update *out)
{
    size_t have = vkt_dataset_count(c->data);
    out->examples = (uint32_t)((size_t)samples < have ? (size_t)samples : have);
    if (w->opt->secure_agg) /* a weighted vector for the protocol, no packet */
        return fsim_secure_vector(w, out->examples, out);
    const char **names = NULL;
    int name_count = 0;
    vkt_status st = changed_params(w, &names, &name_count);
    if (st != VKT_OK)
        return st;
    const vkt_update_round round = {.round_id = out->version, .example_count = out->examples};
    /* Nothing changed (a zero learning rate): send everything, zeros. */
    st = vkt_update_encode_graph(c->encoder, &round, base, w->graph, name_count ? names : NULL, name_count,
                                 &out->packet, &out->size);
    free(names);
    vkt_update_stats stats;
    if (st == VKT_OK && vkt_update_encoder_stats(c->encoder, &stats) == VKT_OK)
        out->dense_bytes = stats.elements * sizeof(float);
    return st;
}

bool fsim_client_train(fsim_world *w, fsim_client *c, uint64_t round_seed, fsim_update *out)
{
    memset(out, 0, sizeof *out);
    out->version = vkt_fed_aggregator_version(w->agg);
    out->steps = (int64_t)local_step_count(w->opt, c);
    vkt_update_base *base = NULL;
    vkt_trainer *tr = NULL;
    int64_t samples = 0;
    const char *what = "cannot take the global model";
    vkt_status st = vkt_fed_aggregator_copy_to_graph(w->agg, w->graph);
    if (st == VKT_OK)
        st = vkt_update_base_create(w->graph, &base);
    if (st == VKT_OK) {
        what = "cannot compile local training";
        st = create_trainer(w, c, round_seed, &tr);
        if (st == VKT_ERR_NO_MEMORY && c->memory_budget > 0) {
            c->cannot_train = true; /* nothing fits its budget: not an error of the run */
            vkt_update_base_destroy(base);
            return false;
        }
    }
    if (st == VKT_OK) {
        what = "local training failed";
        st = local_steps(w, c, tr, out->steps, &samples);
    }
    if (st == VKT_OK)
        st = vkt_trainer_sync_weights(tr);
    if (st == VKT_OK) {
        what = "cannot encode the update";
        st = encode(w, c, base, samples, out);
    }
    vkt_trainer_destroy(tr);
    vkt_update_base_destroy(base);
    if (st != VKT_OK) {
        cli_api_error(st, "client %llu: %s", (unsigned long long)c->id, what);
        return false;
    }
    cli_policy_text(&c->policy, out->policy, sizeof out->policy);
    c->updates++;
    return true;
}
