/* vktrain federate: a federated-learning simulation in one process, what
 * its files share. N simulated clients, each with its share of
 * Fashion-MNIST, a device profile (speed, memory budget) and an update
 * encoder, train through the normal trainer API from the global model;
 * their packets go to a vkt_fed_aggregator exactly as they would over
 * the network. Time is simulated (seconds per local step, link speeds),
 * never measured, so results do not depend on this machine's load. */
#ifndef VKTRAIN_FEDERATE_H
#define VKTRAIN_FEDERATE_H

#include "cli.h"

typedef struct fsim_options {
    cli_model model;
    const char *data_dir;
    int64_t clients;
    int64_t rounds;         /* FedAvg rounds, or FedBuff server steps */
    int64_t per_round;      /* FedAvg: clients sampled per round; FedBuff: training at once */
    int64_t local_steps;    /* per client update, unless local_epochs */
    int64_t local_epochs;
    int64_t batch;
    double lr, momentum;
    const char *split;      /* "iid" or "dirichlet:ALPHA" */
    const char *codec;
    vkt_fed_mode mode;
    int64_t buffer;
    int64_t max_staleness;
    const char *staleness;
    double server_lr;
    int64_t min_clients;
    double step_time;       /* simulated seconds per local step, median device */
    double speed_sigma;     /* log-normal spread of device speed */
    double stragglers;      /* fraction of clients that are slow */
    double straggler_slowdown;
    const char *memory_tiers; /* fractions of the full step's planned memory */
    const char *uplink, *downlink; /* bytes per second */
    double corrupt;         /* fraction of packets damaged in transit */
    int64_t test_samples;   /* 0: the whole test set */
    double target;          /* test accuracy whose simulated time is reported */
    uint64_t seed;
    int64_t threads;
    const char *device;
    const char *log_path;
    const char *save_path;
    const char *key_path;
    const char *packets_dir;
    bool quiet;
    /* --secure-agg: each FedAvg round runs secure aggregation among the
     * sampled clients (federate_secagg.c) instead of sealed packets. */
    bool secure_agg;
    double secagg_dropout;      /* fraction of a round's clients that drop out */
    const char *secagg_drop_at; /* where they drop: keys,shares,masked,unmask */
    double secagg_range;        /* fixed-point range of the weighted vector's elements */
    int64_t secagg_threshold;   /* 0: n - floor(n/3) */
} fsim_options;

/* federate_options.c */
cli_parse_result fsim_parse_options(int argc, char **argv, fsim_options *out);

/* federate_rng.c: the simulation's seeded randomness (splitmix64). */
typedef struct fsim_rng {
    uint64_t state;
} fsim_rng;
void fsim_rng_seed(fsim_rng *r, uint64_t seed, uint64_t stream);
uint64_t fsim_rng_next(fsim_rng *r);
double fsim_rng_uniform(fsim_rng *r);   /* [0, 1) */
double fsim_rng_normal(fsim_rng *r);    /* N(0, 1) */
double fsim_rng_gamma(fsim_rng *r, double shape); /* Gamma(shape, 1) */
void fsim_rng_shuffle(fsim_rng *r, size_t *items, size_t count);

/* federate_split.c: each client's sample indices into the training set:
 * "iid" (a shuffled equal split) or "dirichlet:ALPHA" (per class, the
 * class's samples split by proportions drawn from Dirichlet(ALPHA); at
 * least min_samples per client). Reports errors. */
typedef struct fsim_split {
    size_t **indices; /* per client */
    size_t *counts;
} fsim_split;
bool fsim_split_create(const vkt_dataset *ds, const char *spec, int clients, size_t min_samples, uint64_t seed,
                       fsim_split *out);
/* Whether spec is a valid --split (reported if not); *alpha gets its
 * alpha, 0 for iid. */
bool fsim_split_check(const char *spec, double *alpha);
void fsim_split_free(fsim_split *s, int clients);

/* federate_client.c: one simulated device. */
typedef struct fsim_client {
    uint64_t id;
    vkt_dataset *data;
    vkt_loader *loader;
    double seconds_per_step; /* simulated */
    bool straggler;
    double memory_fraction;  /* of the full step's plan; >= 1: no budget */
    size_t memory_budget;    /* 0: none */
    vkt_trainable_set policy; /* auto's choice, kept after the first time */
    bool policy_known;
    bool cannot_train;       /* no trainable set fits its budget */
    vkt_keypair keys;
    vkt_update_encoder *encoder;
    int64_t updates;         /* packets sent */
} fsim_client;

/* The shared pieces every client trains with. */
typedef struct fsim_world {
    const fsim_options *opt;
    vkt_context *context;
    vkt_graph *graph; /* weights set from the global model before each use */
    vkt_tensor loss;
    float *x;
    int32_t *labels;
    vkt_fed_aggregator *agg;
} fsim_world;

/* What one local training produced. */
typedef struct fsim_update {
    uint8_t *packet;
    size_t size;
    uint64_t version;     /* trained from */
    uint32_t examples;
    uint64_t dense_bytes; /* the same update as raw fp32 */
    int64_t steps;
    double seconds;       /* simulated: download, train, upload */
    char policy[32];
    /* --secure-agg instead of a packet: n * delta over every model
     * tensor (zeros where it trained nothing), then n per tensor it
     * carried (0 for the others). */
    float *vector;
    size_t vector_length;
} fsim_update;

/* Train `c` from the aggregator's current model and encode its update.
 * false with the reason printed when it fails; c->cannot_train is set
 * (and false returned quietly) when its memory budget fits nothing. */
bool fsim_client_train(fsim_world *w, fsim_client *c, uint64_t round_seed, fsim_update *out);
/* Simulated seconds to download the model (dense fp32) and upload
 * `packet_bytes`. */
double fsim_link_seconds(const fsim_options *o, uint64_t model_bytes, size_t packet_bytes);
bool fsim_link_rates(const fsim_options *o, double *up, double *down);

/* federate_secagg.c: --secure-agg. */
/* Elements of a client's weighted vector: every model tensor, then one
 * weight per tensor. */
size_t fsim_secure_length(const fsim_world *w);
/* The weighted vector of `c` just trained (w->graph holds its weights,
 * the aggregator the model it trained from) into out->vector. */
vkt_status fsim_secure_vector(const fsim_world *w, uint32_t examples, fsim_update *out);
/* Whether --secagg-drop-at is valid (reported if not). */
bool fsim_drop_at_check(const char *text);
/* federate_devices.c: give every client its speed and memory budget
 * (full_plan_bytes: the planned memory of a full training step). */
bool fsim_assign_devices(const fsim_options *o, fsim_client *clients, int count, size_t full_plan_bytes);
/* Whether text is a valid --memory-tiers (reported if not). */
bool fsim_tiers_check(const char *text);

/* One server step as reported (round 0: the initial model). */
typedef struct fsim_row {
    int64_t round;
    uint64_t version;
    double sim_time;
    double accuracy, loss;
    int updates;          /* packets submitted for this step */
    int accepted, refused;
    int failed;           /* clients whose memory budget fits nothing */
    uint64_t bytes;       /* packet bytes submitted */
    uint64_t max_bytes;
    uint64_t dense_bytes; /* the same updates as raw fp32 */
    double update_norm;
    double mean_staleness;
    double wall_seconds;  /* measured, for information only */
    /* --secure-agg */
    int dropped;          /* shared keys, then sent no masked input: update lost */
    int late;             /* sent masked input, then did not help unmask */
    uint64_t down_bytes;  /* server to clients */
    uint64_t vector_bytes; /* 4 bytes per element of every client's vector: the payload itself */
    double secagg_seconds; /* measured: the protocol's work, every party in this process */
    double server_seconds; /* measured: the server's share of it */
} fsim_row;

/* The whole simulation (federate_cmd.c sets it up). */
typedef struct fsim_run {
    fsim_options opt;
    vkt_dataset *train, *test;
    fsim_world world;
    fsim_client *clients;
    int client_count;
    vkt_loader *test_loader;
    FILE *log;
    uint64_t model_bytes;   /* the trainable parameters as fp32 */
    size_t full_plan_bytes; /* planned memory of a full training step */
    fsim_rng sample_rng, corrupt_rng, drop_rng;
    uint64_t saved_version; /* --save-packets: last model written + 1 */
    double started;         /* wall clock */
    fsim_row row;           /* the step being collected */
    /* the run so far */
    double sim_time;
    double time_to_target;  /* < 0: not reached */
    int64_t updates_to_target; /* client updates sent until then */
    double best_accuracy;
    fsim_row last;
    uint64_t total_bytes, total_dense;
    int64_t total_updates, total_refused, total_failed;
    uint64_t total_down;      /* --secure-agg: server to clients */
    uint64_t total_vector;    /* --secure-agg: 4 bytes per vector element sent */
    double total_secagg_seconds, total_server_seconds;
} fsim_run;

/* federate_secagg.c: one secure-aggregation round among the clients
 * that trained (updates[k] from clients[k]): dropouts as the options
 * say, the sum into the aggregator, the row's counts. 0 unless the
 * run must stop (a round that falls below the threshold is reported and
 * skipped). */
int fsim_secure_round(fsim_run *r, fsim_update *updates, const fsim_client *const *clients, int count,
                      double *slowest);

/* federate_loop.c */
int fsim_run_fedavg(fsim_run *r);
int fsim_run_fedbuff(fsim_run *r);
/* Test accuracy and loss of the global model into r->row. */
int fsim_evaluate(fsim_run *r);

/* federate_report.c */
void fsim_print_plan(const fsim_run *r);
/* Finish r->row (time, accuracy already in it): print, log, reset. */
int fsim_report_row(fsim_run *r);
int fsim_report_summary(fsim_run *r);

#endif
