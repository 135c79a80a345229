/* vktrain — federated aggregation: the server side of federated
 * learning.
 *
 * An aggregator holds the global model (named float32 tensors, or a
 * graph's parameters and state buffers) and its version: the round id
 * that clients' update packets carry (the version they trained from).
 * It receives packets through a vkt_update_receiver of its own (verify,
 * decrypt, decode: see update.h), checks each decoded update against the
 * model, and combines the accepted ones into a new global model:
 *
 * - FedAvg (McMahan et al. 2017), synchronous rounds: every update of
 *   the round trains from the current version; vkt_fed_round_finish()
 *   applies their mean weighted by example counts once at least
 *   min_clients were accepted.
 * - FedBuff (Nguyen et al. 2022), semi-asynchronous: updates from any of
 *   the last max_staleness + 1 versions are accepted into a buffer, each
 *   weighted by s(tau) with tau = current version - the version it
 *   trained from; when buffer_size updates are in, their weighted mean
 *   is applied and the version advances.
 *
 * In both modes the step is
 *
 *     global[t] += server_lr * sum_i(n_i * s_i * delta_i[t]) / sum_i(n_i)
 *
 * per tensor t, the sums running over the updates that carry t (a client
 * that trained a subset of the model, e.g. under a memory budget, sends
 * only that subset and does not dilute the tensors it did not train);
 * n_i is the update's example count (1 with equal_weights) and s_i = 1
 * for FedAvg. Sums are kept in double.
 *
 * A packet or update that fails any check is refused: the call returns
 * its status, vkt_last_error() names the reason, the receipt says which
 * class of refusal it was, and neither the model nor the pending round
 * changes, so one bad packet never spoils a round. Only the weighted sum
 * of the accepted updates is kept, never the updates themselves; with
 * secure aggregation (secagg.h) the server never sees them at all and
 * hands the unmasked sum to vkt_fed_apply_sum.
 *
 * An aggregator is not thread-safe: one thread at a time (a server
 * serialises submissions). */
#ifndef VKTRAIN_FED_H
#define VKTRAIN_FED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "status.h"
#include "update.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- staleness --------------------------------------------------------- */

typedef enum vkt_fed_staleness_kind {
    /* s(tau) = (1 + tau)^-a; a > 0, 0 picks 0.5 (1 / sqrt(1 + tau)). */
    VKT_FED_STALENESS_POLYNOMIAL = 0,
    /* s(tau) = 1. */
    VKT_FED_STALENESS_CONSTANT = 1,
    /* s(tau) = 1 for tau <= b, else 1 / (1 + a (tau - b)); a > 0 (0 picks
     * 1), b >= 0. */
    VKT_FED_STALENESS_HINGE = 2,
} vkt_fed_staleness_kind;

typedef struct vkt_fed_staleness {
    vkt_fed_staleness_kind kind;
    float a;
    float b;
} vkt_fed_staleness;

/* s(tau) in (0, 1]. */
double vkt_fed_staleness_weight(const vkt_fed_staleness *s, uint64_t tau);
/* "poly", "poly:A", "constant", "hinge:A:B" (as the tools write it). */
vkt_status vkt_fed_staleness_parse(const char *text, vkt_fed_staleness *out);

/* ---- the aggregator ---------------------------------------------------- */

typedef enum vkt_fed_mode {
    VKT_FED_FEDAVG = 0,
    VKT_FED_FEDBUFF = 1,
} vkt_fed_mode;

typedef struct vkt_fed_options {
    vkt_fed_mode mode;
    /* Version (round id) of the initial model. */
    uint64_t first_version;
    /* Server learning rate; 0 picks 1 (plain FedAvg). */
    float server_lr;
    /* Fewest accepted updates vkt_fed_round_finish applies; 0 picks 1. */
    int min_clients;
    /* FEDBUFF: updates per server step; 0 picks 10. */
    int buffer_size;
    /* FEDBUFF: refuse updates trained from a version more than this many
     * steps old; 0 picks 16, at most 1024. */
    int max_staleness;
    vkt_fed_staleness staleness; /* FEDBUFF; zeroed: 1 / sqrt(1 + tau) */
    /* Weigh every update alike instead of by example counts. */
    bool equal_weights;
    /* > 0: refuse updates whose L2 norm (all tensors) exceeds it, so one
     * client cannot move the model arbitrarily far. */
    double max_update_norm;
    /* Limits and trust of the packet receiver (update.h). */
    vkt_update_receiver_options receiver;
} vkt_fed_options;

typedef struct vkt_fed_aggregator vkt_fed_aggregator;

/* An aggregator over a copy of `model` (unique valid names, as in
 * update.h). aggregator_keys (may be NULL: then only
 * vkt_fed_submit_update/_delta work) is copied into guarded memory.
 * options may be NULL (FedAvg, version 0). */
vkt_status vkt_fed_aggregator_create(const vkt_update_tensor *model, int count, const vkt_keypair *aggregator_keys,
                                     const vkt_fed_options *options, vkt_fed_aggregator **out);
/* The same over every parameter and state buffer of a graph (what its
 * safetensors file holds), so the model hash equals
 * vkt_graph_model_hash() of a graph holding these weights. */
vkt_status vkt_fed_aggregator_create_from_graph(const vkt_graph *g, const vkt_keypair *aggregator_keys,
                                                const vkt_fed_options *options, vkt_fed_aggregator **out);
/* Wipes the keys. NULL is ignored. */
void vkt_fed_aggregator_destroy(vkt_fed_aggregator *agg);

/* Register a client's public key (see vkt_update_receiver_add_client);
 * unknown clients are refused unless options.receiver trusts on first
 * use. */
vkt_status vkt_fed_aggregator_add_client(vkt_fed_aggregator *agg, uint64_t client_id,
                                         const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], uint64_t last_sequence);

/* The current model's version: the round id clients train from now. */
uint64_t vkt_fed_aggregator_version(const vkt_fed_aggregator *agg);
/* The current model's hash (vkt_model_hash of its tensors). */
void vkt_fed_aggregator_model_hash(const vkt_fed_aggregator *agg, uint8_t out[VKT_MODEL_HASH_BYTES]);
/* The global model: tensors in the order given at creation; values
 * point into the aggregator and change when a step is applied. */
int vkt_fed_aggregator_tensor_count(const vkt_fed_aggregator *agg);
vkt_status vkt_fed_aggregator_get_tensor(const vkt_fed_aggregator *agg, int index, vkt_update_tensor *out);
/* Copy the global model into a graph with the same parameter names and
 * shapes (every tensor must exist in the graph). All or nothing. */
vkt_status vkt_fed_aggregator_copy_to_graph(const vkt_fed_aggregator *agg, vkt_graph *g);
/* Write the global model as safetensors (float32, metadata
 * "vktrain.fed.version"), replacing `path` atomically; it loads with
 * vkt_graph_load_safetensors. */
vkt_status vkt_fed_aggregator_save(const vkt_fed_aggregator *agg, const char *path);

/* ---- submissions ------------------------------------------------------- */

typedef enum vkt_fed_refusal {
    VKT_FED_ACCEPTED = 0,
    VKT_FED_REFUSED_MALFORMED,      /* framing, authentication, payload, a client key mismatch */
    VKT_FED_REFUSED_UNSUPPORTED,    /* newer format, over the receiver's limits, out of memory */
    VKT_FED_REFUSED_ROUND,          /* trained from a version not collected now: stale or early */
    VKT_FED_REFUSED_FOREIGN_MODEL,  /* its model hash is not that version's */
    VKT_FED_REFUSED_UNKNOWN_CLIENT, /* not registered (no trust on first use) */
    VKT_FED_REFUSED_REPLAY,         /* sequence already seen from this client */
    VKT_FED_REFUSED_DUPLICATE,      /* FEDAVG: a second update from a client in one round */
    VKT_FED_REFUSED_MISMATCH,       /* a tensor the model lacks, or another shape */
    VKT_FED_REFUSED_EMPTY,          /* no examples (a zero weight) */
    VKT_FED_REFUSED_NORM,           /* over max_update_norm */
    VKT_FED_REFUSED_NONFINITE,      /* non-finite values; or (FEDBUFF) the step it completed would
                                       overflow the model: that buffer is dropped */
    VKT_FED_REFUSED_NO_KEYS,        /* a packet to an aggregator created without keys */
    VKT_FED_REFUSAL_COUNT
} vkt_fed_refusal;

/* Short fixed name, e.g. "replay". */
const char *vkt_fed_refusal_name(vkt_fed_refusal r);

/* What happened to one submission. */
typedef struct vkt_fed_receipt {
    vkt_fed_refusal refusal;
    uint64_t client_id;     /* as far as known (0 for unreadable packets) */
    uint64_t version;       /* the version it trained from */
    uint64_t staleness;     /* tau */
    double weight;          /* s(tau) (1 for FedAvg) */
    uint32_t example_count;
    double update_norm;     /* L2 norm of the decoded update */
    size_t packet_bytes;    /* 0 for vkt_fed_submit_update/_delta */
    bool applied;           /* FEDBUFF: it filled the buffer and a step was applied */
} vkt_fed_receipt;

/* Verify, decrypt, decode and add one packet (untrusted bytes). VKT_OK
 * when accepted; otherwise the refusal's status (the receiver's statuses
 * of update.h; VKT_ERR_STATE for a round, duplicate or norm refusal,
 * VKT_ERR_SHAPE for a mismatch). `receipt` may be NULL. */
vkt_status vkt_fed_submit_packet(vkt_fed_aggregator *agg, const uint8_t *packet, size_t size,
                                 vkt_fed_receipt *receipt);
/* Add an update decoded by the caller's own receiver, which has checked
 * its round and model hash: its round id names the version it trained
 * from. */
vkt_status vkt_fed_submit_update(vkt_fed_aggregator *agg, const vkt_update *update, vkt_fed_receipt *receipt);

/* Add an update given as plain deltas (no packet), e.g. from a local
 * simulation (secure aggregation uses vkt_fed_apply_sum). */
typedef struct vkt_fed_delta_info {
    uint64_t client_id;
    uint64_t version; /* trained from */
    uint32_t example_count;
} vkt_fed_delta_info;
vkt_status vkt_fed_submit_delta(vkt_fed_aggregator *agg, const vkt_fed_delta_info *info,
                                const vkt_update_tensor *delta, int count, vkt_fed_receipt *receipt);

/* ---- rounds ------------------------------------------------------------ */

typedef struct vkt_fed_round_stats {
    uint64_t version;          /* the version the step produced (finished), or collects for (pending) */
    int accepted;
    int refused;
    int refused_by[VKT_FED_REFUSAL_COUNT];
    uint64_t bytes_received;   /* every packet submitted */
    uint64_t bytes_accepted;
    uint64_t examples;         /* sum of accepted example counts */
    double update_norm;        /* L2 norm of the change applied to the global model */
    double mean_client_norm;   /* mean L2 norm of the accepted updates */
    double mean_staleness;     /* mean tau of the accepted updates */
    uint64_t max_staleness;
} vkt_fed_round_stats;

/* Apply the pending updates (FEDAVG: the round; FEDBUFF: a partial
 * buffer) if at least min_clients were accepted: the version advances
 * and *stats (may be NULL) describes the step. Otherwise VKT_ERR_STATE
 * and the round keeps collecting. */
vkt_status vkt_fed_round_finish(vkt_fed_aggregator *agg, vkt_fed_round_stats *stats);
/* Drop the pending updates and counts; the model and version stay. */
void vkt_fed_round_discard(vkt_fed_aggregator *agg);
/* The round being collected so far. */
void vkt_fed_pending_stats(const vkt_fed_aggregator *agg, vkt_fed_round_stats *out);
/* The last step applied (zeroed before the first). */
void vkt_fed_last_stats(const vkt_fed_aggregator *agg, vkt_fed_round_stats *out);

/* Add a round's updates already summed elsewhere, e.g. by secure
 * aggregation (secagg.h), whose server learns only
 *
 *     sums[k]    = sum_i(n_i * delta_i[k])   per tensor k
 *     weights[k] = sum_i(n_i)                over the clients that carried k
 *
 * (n_i = 1 for every client with equal_weights). FedAvg only, into a round
 * with nothing pending; `contributors` clients (>= min_clients) count as
 * accepted. A tensor whose weight is 0 is skipped. The sums must name
 * model tensors with their shapes, once each, and be finite; then the
 * step is applied at once as by vkt_fed_round_finish (stats may be
 * NULL; its examples is the largest weight). Refused, changing nothing,
 * otherwise. */
vkt_status vkt_fed_apply_sum(vkt_fed_aggregator *agg, const vkt_update_tensor *sums, const double *weights,
                             int count, int contributors, vkt_fed_round_stats *stats);

/* ---- key files --------------------------------------------------------- */

/* A key pair as a small text file ("vktrain-keypair-1", then hex public
 * and secret keys), written atomically with mode 0600. */
vkt_status vkt_keypair_save(const vkt_keypair *kp, const char *path);
/* Refuses a malformed file, a secret key that does not give its public
 * key, and a file with any group or other permission bits. */
vkt_status vkt_keypair_load(const char *path, vkt_keypair *out);
/* A public key alone ("vktrain-public-key-1"), for clients; written
 * atomically (mode 0644). Loading also accepts a key-pair file and
 * takes its public key. */
vkt_status vkt_public_key_save(const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], const char *path);
vkt_status vkt_public_key_load(const char *path, uint8_t out[VKT_KX_PUBLIC_KEY_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
