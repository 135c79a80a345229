/* vktrain federate: set up the simulation (data split, model, clients
 * with their devices, keys and encoders, the aggregator), run it
 * (federate_loop.c) and report (federate_report.c). */
#include "federate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int load_data(fsim_run *r)
{
    const fsim_options *o = &r->opt;
    cli_data_files files;
    if (!cli_find_data_files(o->data_dir, true, &files) ||
        !cli_load_dataset(files.train_images, files.train_labels, &r->train) ||
        !cli_load_dataset(files.test_images, files.test_labels, &r->test))
        return 1;
    size_t n = vkt_dataset_count(r->test);
    if (o->test_samples > 0 && (size_t)o->test_samples < n) {
        size_t *first = malloc((size_t)o->test_samples * sizeof *first);
        vkt_dataset *sub = NULL;
        for (size_t i = 0; first && i < (size_t)o->test_samples; i++)
            first[i] = i;
        vkt_status st = first ? vkt_dataset_subset(r->test, first, (size_t)o->test_samples, &sub) : VKT_ERR_NO_MEMORY;
        free(first);
        if (st != VKT_OK)
            return cli_api_error(st, "cannot take %lld test samples", (long long)o->test_samples);
        vkt_dataset_destroy(r->test);
        r->test = sub;
    }
    return 0;
}

/* The planned memory of a full training step: what memory tiers are
 * fractions of. */
static int measure_full_plan(fsim_run *r)
{
    const vkt_trainer_options options = {
        .optimizer = {.kind = VKT_OPT_SGD, .lr = (float)r->opt.lr, .momentum = (float)r->opt.momentum},
        .batch_size = (int)r->opt.batch,
    };
    vkt_trainer *tr;
    vkt_memory_report memory;
    vkt_status st = vkt_trainer_create(r->world.context, r->world.graph, r->world.loss, &options, &tr);
    if (st == VKT_OK) {
        st = vkt_trainer_memory(tr, &memory);
        vkt_trainer_destroy(tr);
    }
    if (st != VKT_OK)
        return cli_api_error(st, "cannot compile the model for training");
    r->full_plan_bytes = memory.total_bytes;
    return 0;
}

static int create_aggregator(fsim_run *r, vkt_keypair *keys)
{
    const fsim_options *o = &r->opt;
    vkt_status st = o->key_path ? vkt_keypair_load(o->key_path, keys) : vkt_keypair_generate(keys);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot %s the aggregator's key pair", o->key_path ? "load" : "generate");
    uint64_t elements = 0;
    int tensors = vkt_graph_param_count(r->world.graph);
    for (int i = 0; i < tensors; i++) {
        vkt_param_info info;
        if (vkt_graph_param_info(r->world.graph, i, &info) == VKT_OK) {
            elements += info.numel;
            if (!info.is_state)
                r->model_bytes += info.numel * sizeof(float);
        }
    }
    vkt_fed_options f = {
        .mode = o->mode,
        .server_lr = (float)o->server_lr,
        .min_clients = (int)o->min_clients,
        .buffer_size = (int)o->buffer,
        .max_staleness = (int)o->max_staleness,
        .receiver = {.max_elements = elements, .max_tensors = tensors},
    };
    if (o->staleness)
        vkt_fed_staleness_parse(o->staleness, &f.staleness); /* checked with the options */
    st = vkt_fed_aggregator_create_from_graph(r->world.graph, keys, &f, &r->world.agg);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot create the aggregator");
    return 0;
}

static int create_client(fsim_run *r, int index, const fsim_split *split, const vkt_update_codec *codec,
                         const uint8_t agg_public[VKT_KX_PUBLIC_KEY_BYTES])
{
    fsim_client *c = &r->clients[index];
    c->id = (uint64_t)index + 1;
    c->policy = (vkt_trainable_set){.policy = VKT_TRAIN_ALL};
    vkt_status st = vkt_dataset_subset(r->train, split->indices[index], split->counts[index], &c->data);
    if (st == VKT_OK)
        st = vkt_loader_create(c->data, (int)r->opt.batch, true, r->opt.seed * 1000003u + c->id, &c->loader);
    if (st == VKT_OK)
        st = vkt_keypair_generate(&c->keys);
    if (st == VKT_OK)
        st = vkt_update_encoder_create(codec, c->id, &c->keys, agg_public, &c->encoder);
    if (st == VKT_OK)
        st = vkt_fed_aggregator_add_client(r->world.agg, c->id, c->keys.public_key, 0);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot set up client %llu", (unsigned long long)c->id);
    c->policy_known = c->memory_budget == 0; /* full training: nothing to choose */
    return 0;
}

static int create_clients(fsim_run *r, const vkt_keypair *agg_keys)
{
    const fsim_options *o = &r->opt;
    int n = (int)o->clients;
    fsim_split split;
    if (!fsim_split_create(r->train, o->split, n, (size_t)o->batch, o->seed, &split))
        return 1;
    vkt_update_codec codec;
    vkt_update_codec_parse(o->codec, &codec); /* checked with the options */
    int status = 0;
    r->clients = calloc((size_t)n, sizeof *r->clients);
    if (!r->clients) {
        cli_error("out of memory for %d clients", n);
        status = 1;
    } else {
        r->client_count = n;
        if (!fsim_assign_devices(o, r->clients, n, r->full_plan_bytes))
            status = 1;
    }
    for (int i = 0; status == 0 && i < n; i++)
        status = create_client(r, i, &split, &codec, agg_keys->public_key);
    fsim_split_free(&split, n);
    return status;
}

/* --secure-agg without --secagg-range: 16 times the largest example
 * count n_i a client can report (what it trains on, at most its share),
 * so |delta| up to 16 fits; the fixed-point step stays far below a
 * float's precision of the mean (docs/federated.md). */
static double default_secagg_range(const fsim_run *r)
{
    size_t most = 0;
    for (int i = 0; i < r->client_count; i++) {
        size_t have = vkt_dataset_count(r->clients[i].data);
        size_t trains = r->opt.local_epochs > 0 ? have : (size_t)(r->opt.local_steps * r->opt.batch);
        size_t n = trains < have ? trains : have;
        if (n > most)
            most = n;
    }
    return 16.0 * (double)(most ? most : 1);
}

static int prepare(fsim_run *r)
{
    const fsim_options *o = &r->opt;
    if (load_data(r) != 0)
        return 1;
    if (!cli_build_model(o->model, o->seed, 0.0f, &r->world.graph, &r->world.loss))
        return 1;
    const vkt_context_options context = {.device = o->device, .threads = (int)o->threads};
    vkt_status st = vkt_context_create(&context, &r->world.context);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot open the device");
    r->world.opt = &r->opt;
    size_t batch = (size_t)o->batch;
    r->world.x = malloc(batch * vkt_dataset_sample_numel(r->train) * sizeof *r->world.x);
    r->world.labels = malloc(batch * sizeof *r->world.labels);
    if (!r->world.x || !r->world.labels) {
        cli_error("out of memory for a batch of %zu", batch);
        return 1;
    }
    st = vkt_loader_create(r->test, (int)o->batch, false, 0, &r->test_loader);
    if (st != VKT_OK)
        return cli_api_error(st, "cannot create the test loader");
    if (measure_full_plan(r) != 0)
        return 1;
    vkt_keypair agg_keys;
    int status = create_aggregator(r, &agg_keys);
    if (status == 0)
        status = create_clients(r, &agg_keys);
    vkt_keypair_wipe(&agg_keys);
    if (status != 0)
        return status;
    if (o->secure_agg && r->opt.secagg_range == 0)
        r->opt.secagg_range = default_secagg_range(r);

    if (o->packets_dir) {
        struct stat st_dir;
        if (stat(o->packets_dir, &st_dir) != 0 || !S_ISDIR(st_dir.st_mode)) {
            cli_error("--save-packets %s is not a directory", o->packets_dir);
            return 1;
        }
    }
    if (o->log_path && !(r->log = fopen(o->log_path, "w"))) {
        cli_error("cannot open log %s: %s", o->log_path, strerror(errno));
        return 1;
    }
    fsim_rng_seed(&r->sample_rng, o->seed, 3);
    fsim_rng_seed(&r->corrupt_rng, o->seed, 4);
    fsim_rng_seed(&r->drop_rng, o->seed, 5);
    return 0;
}

static void release(fsim_run *r)
{
    for (int i = 0; r->clients && i < r->client_count; i++) {
        fsim_client *c = &r->clients[i];
        vkt_update_encoder_destroy(c->encoder);
        if (c->loader)
            vkt_loader_destroy(c->loader);
        if (c->data)
            vkt_dataset_destroy(c->data);
        vkt_keypair_wipe(&c->keys);
    }
    free(r->clients);
    vkt_fed_aggregator_destroy(r->world.agg);
    if (r->test_loader)
        vkt_loader_destroy(r->test_loader);
    free(r->world.x);
    free(r->world.labels);
    if (r->world.context)
        vkt_context_destroy(r->world.context);
    if (r->world.graph)
        vkt_graph_destroy(r->world.graph);
    if (r->test)
        vkt_dataset_destroy(r->test);
    if (r->train)
        vkt_dataset_destroy(r->train);
    if (r->log)
        fclose(r->log);
}

static int run(fsim_run *r)
{
    if (!r->opt.quiet)
        fsim_print_plan(r);
    int status = fsim_evaluate(r);
    if (status == 0)
        status = fsim_report_row(r);
    if (status == 0)
        status = r->opt.mode == VKT_FED_FEDBUFF ? fsim_run_fedbuff(r) : fsim_run_fedavg(r);
    if (status == 0 && r->opt.save_path) {
        vkt_status st = vkt_fed_aggregator_save(r->world.agg, r->opt.save_path);
        if (st != VKT_OK)
            return cli_api_error(st, "cannot save the global model to %s", r->opt.save_path);
    }
    if (status == 0)
        status = fsim_report_summary(r);
    return status;
}

int cli_federate_command(int argc, char **argv)
{
    fsim_run r = {.time_to_target = -1.0, .started = cli_now_seconds()};
    switch (fsim_parse_options(argc, argv, &r.opt)) {
    case CLI_PARSE_HELP: return 0;
    case CLI_PARSE_ERROR: return 1;
    case CLI_PARSE_OK: break;
    }
    int status = prepare(&r);
    if (status == 0)
        status = run(&r);
    release(&r);
    return status;
}
