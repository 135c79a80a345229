/* vktrain — federated model updates: what may leave the device.
 *
 * When an app opts in, a client sends only a model update: the
 * difference between its trained weights and the base model it
 * received (optionally only a trainable subset), identified by the
 * SHA-256 hash of that base model. The update is, in this order:
 *
 *   1. optionally privatised (DP-FedAvg): its global L2 norm clipped to
 *      C, then Gaussian noise of standard deviation z * C added to every
 *      element, drawn from libsodium's CSPRNG;
 *   2. compressed: top-k sparsification per tensor (with an
 *      error-feedback residual kept by the encoder across rounds),
 *      block-wise int8 quantisation with stochastic rounding,
 *      gap-encoded (varint) indices, zstd; every stage can be off;
 *   3. encrypted and authenticated: crypto_kx session keys between the
 *      client's key pair and the aggregator's public key,
 *      XChaCha20-Poly1305 with the whole plaintext header (round id,
 *      client id, sequence number, model hash, client public key) as
 *      associated data.
 *
 * The receiving side (the aggregator) verifies, decrypts and decodes
 * packets with strict bounds checks and refuses stale (other round),
 * foreign (other model or key) and replayed (sequence not above the
 * last accepted one) packets. docs/update-packet.md specifies the bytes.
 *
 * Every input on the receiving side is untrusted: a bad packet gives an
 * error with vkt_last_error() naming the problem, never a crash. */
#ifndef VKTRAIN_UPDATE_H
#define VKTRAIN_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VKT_MODEL_HASH_BYTES 32
#define VKT_KX_PUBLIC_KEY_BYTES 32
#define VKT_KX_SECRET_KEY_BYTES 32
#define VKT_KX_SEED_BYTES 32

/* ---- tensors and model hashes -------------------------------------- */

/* A named float32 tensor. Names are 1..255 bytes; rank 0..VKT_MAX_RANK,
 * every dimension >= 1, at most 2^31 - 1 elements. */
typedef struct vkt_update_tensor {
    const char *name;
    int rank;
    int64_t dims[VKT_MAX_RANK];
    const float *values; /* numel values, row-major */
} vkt_update_tensor;

/* SHA-256 over the tensors in canonical order (sorted by name, bytewise)
 * as docs/update-packet.md defines it: names, shapes and the bits of
 * every value. Order of `tensors` does not matter; names must be unique. */
vkt_status vkt_model_hash(const vkt_update_tensor *tensors, int count, uint8_t out[VKT_MODEL_HASH_BYTES]);

/* The hash of every parameter and state buffer of the graph (what its
 * safetensors weights file holds, integer counters as float32). */
vkt_status vkt_graph_model_hash(const vkt_graph *g, uint8_t out[VKT_MODEL_HASH_BYTES]);

/* A copy of a graph's parameters and state buffers as received (the base
 * model of a round) and its hash, for vkt_update_encode_graph. */
typedef struct vkt_update_base vkt_update_base;
vkt_status vkt_update_base_create(const vkt_graph *g, vkt_update_base **out);
void vkt_update_base_destroy(vkt_update_base *base);
void vkt_update_base_hash(const vkt_update_base *base, uint8_t out[VKT_MODEL_HASH_BYTES]);

/* ---- keys ------------------------------------------------------------ */

/* A crypto_kx key pair: the aggregator's long-term pair, or a client's. */
typedef struct vkt_keypair {
    uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES];
    uint8_t secret_key[VKT_KX_SECRET_KEY_BYTES];
} vkt_keypair;

/* A fresh key pair from the CSPRNG. */
vkt_status vkt_keypair_generate(vkt_keypair *out);
/* The key pair derived from a secret 32-byte seed (same seed, same pair). */
vkt_status vkt_keypair_from_seed(const uint8_t seed[VKT_KX_SEED_BYTES], vkt_keypair *out);
/* Overwrite the secret key (and the rest) with zeros. */
void vkt_keypair_wipe(vkt_keypair *kp);

/* ---- codec settings -------------------------------------------------- */

typedef struct vkt_update_codec {
    /* Top-k: send the ceil(topk_fraction * numel) largest-magnitude
     * elements of each tensor (at least one). 0 or 1: dense. */
    float topk_fraction;
    /* Top-k leaves tensors of at most this many elements whole: biases
     * and small heads cost little to send and a 1% sample of them is a
     * handful of values. 0: top-k applies to every tensor. */
    uint32_t topk_min_numel;
    /* Keep what was not sent (top-k) or was lost to rounding (int8) in a
     * per-tensor residual that is added to the next round's update, so
     * the sum of sent updates tracks the sum of true ones. Recommended
     * whenever top-k or int8 is on. */
    bool error_feedback;
    /* Block-wise int8 with stochastic rounding: each run of int8_block
     * sent values shares one float scale (max |value| / 127). 0: fp32
     * values. 1..65536. */
    int int8_block;
    /* zstd level 1..ZSTD_maxCLevel() (typically 22); 0: no zstd. */
    int zstd_level;
    /* DP-FedAvg: dp_clip > 0 clips the update's global L2 norm to
     * dp_clip, then adds N(0, (dp_noise * dp_clip)^2) to every element
     * (dp_noise >= 0). dp_clip == 0: off (dp_noise must be 0). */
    float dp_clip;
    float dp_noise;
} vkt_update_codec;

/* Parse a codec as tools write it: comma-separated items among
 * "topk=FRAC", "topkmin=N" (topk_min_numel), "int8=BLOCK", "zstd=LEVEL",
 * "ef" (error feedback), "dp=CLIP:NOISE", or "dense" (everything off;
 * alone). Items not given are off. Example:
 * "topk=0.01,topkmin=4096,ef,int8=256,zstd=3". */
vkt_status vkt_update_codec_parse(const char *text, vkt_update_codec *out);

/* ---- the client: encoder --------------------------------------------- */

typedef struct vkt_update_encoder vkt_update_encoder;

/* An encoder for one client: its codec, its id (chosen by the app or the
 * aggregator), its long-term key pair (copied into guarded memory) and
 * the aggregator's public key. It holds the error-feedback residuals and
 * the next sequence number (starting at 1). */
vkt_status vkt_update_encoder_create(const vkt_update_codec *codec, uint64_t client_id,
                                     const vkt_keypair *client_keys,
                                     const uint8_t aggregator_public_key[VKT_KX_PUBLIC_KEY_BYTES],
                                     vkt_update_encoder **out);
/* Wipes keys and residuals. NULL is ignored. */
void vkt_update_encoder_destroy(vkt_update_encoder *enc);

/* The sequence number the next packet will carry; every packet built
 * uses the next one. An app that restarts restores it (it must never go
 * back: the aggregator refuses a sequence it has seen). */
uint64_t vkt_update_encoder_sequence(const vkt_update_encoder *enc);
vkt_status vkt_update_encoder_set_sequence(vkt_update_encoder *enc, uint64_t next_sequence);
/* Forget the error-feedback residuals (e.g. when a new base model has a
 * different architecture). */
void vkt_update_encoder_reset_residuals(vkt_update_encoder *enc);

/* Save / restore the residuals and the next sequence number (a
 * safetensors file written atomically; no keys in it). Loading replaces
 * both, or changes nothing on error. */
vkt_status vkt_update_encoder_save_state(const vkt_update_encoder *enc, const char *path);
vkt_status vkt_update_encoder_load_state(vkt_update_encoder *enc, const char *path);

/* TESTS ONLY. Make stochastic rounding and DP noise a deterministic
 * function of `seed` instead of the system CSPRNG (NULL restores the
 * CSPRNG). Never use it in a deployed app: predictable noise voids the
 * privacy guarantee. Nonces stay random. */
void vkt_update_encoder_set_insecure_test_seed(vkt_update_encoder *enc, const uint8_t seed[32]);

typedef struct vkt_update_round {
    uint64_t round_id;
    uint32_t example_count; /* local examples trained on (FedAvg weight) */
} vkt_update_round;

/* What the last successful encode did. */
typedef struct vkt_update_stats {
    double update_norm;    /* L2 norm of the update before DP clipping */
    bool clipped;          /* DP clipping scaled it down */
    uint64_t elements;     /* dense elements of the update */
    uint64_t sent_values;  /* values in the packet (sum of k) */
    size_t body_bytes;     /* encoded body before zstd */
    size_t packet_bytes;   /* the whole packet */
    double residual_norm;  /* L2 norm of every residual after this round */
} vkt_update_stats;
vkt_status vkt_update_encoder_stats(const vkt_update_encoder *enc, vkt_update_stats *out);

/* Build a packet from base and trained values: trained[i] - base[i] for
 * each i (same name and shape). model_hash identifies the whole base
 * model (vkt_model_hash). On success *packet (free with
 * vkt_update_packet_free) and *size are set, the sequence advances and
 * the residuals are updated; on error nothing changes. Values must be
 * finite. */
vkt_status vkt_update_encode(vkt_update_encoder *enc, const vkt_update_round *round,
                             const uint8_t model_hash[VKT_MODEL_HASH_BYTES], const vkt_update_tensor *base,
                             const vkt_update_tensor *trained, int count, uint8_t **packet, size_t *size);
/* As vkt_update_encode with the update already computed. */
vkt_status vkt_update_encode_delta(vkt_update_encoder *enc, const vkt_update_round *round,
                                   const uint8_t model_hash[VKT_MODEL_HASH_BYTES], const vkt_update_tensor *delta,
                                   int count, uint8_t **packet, size_t *size);
/* The update of `trained` (after vkt_trainer_sync_weights) against the
 * base snapshot, over the parameters named in `names` (the trainable
 * subset), or every parameter that is not a state buffer when names is
 * NULL. The model hash is the base's. */
vkt_status vkt_update_encode_graph(vkt_update_encoder *enc, const vkt_update_round *round,
                                   const vkt_update_base *base, const vkt_graph *trained, const char *const *names,
                                   int name_count, uint8_t **packet, size_t *size);
void vkt_update_packet_free(uint8_t *packet);

/* ---- the aggregator: receiver ---------------------------------------- */

typedef struct vkt_update_receiver vkt_update_receiver;

typedef struct vkt_update_receiver_options {
    /* Refuse packets whose update has more elements (all tensors
     * together); bounds every allocation. 0: 1 << 24. */
    uint64_t max_elements;
    /* Refuse packets with more tensors. 0: 4096. At most 65535. */
    int max_tensors;
    /* Accept clients not registered with vkt_update_receiver_add_client
     * and bind their id to the first public key they authenticate with
     * (trust on first use). false: unknown clients are refused. */
    bool accept_unknown_clients;
} vkt_update_receiver_options;

/* options may be NULL (defaults). The key pair is copied into guarded
 * memory. */
vkt_status vkt_update_receiver_create(const vkt_keypair *aggregator_keys, const vkt_update_receiver_options *options,
                                      vkt_update_receiver **out);
/* Wipes the secret key. NULL is ignored. */
void vkt_update_receiver_destroy(vkt_update_receiver *rx);

/* The round packets must belong to, and the hash of the model it
 * distributed; until set, every packet is refused. */
vkt_status vkt_update_receiver_set_round(vkt_update_receiver *rx, uint64_t round_id,
                                         const uint8_t model_hash[VKT_MODEL_HASH_BYTES]);
/* Register a client's public key and the highest sequence number already
 * accepted from it (0 for none): the replay window, restorable after a
 * restart. Registering a known id again replaces both. */
vkt_status vkt_update_receiver_add_client(vkt_update_receiver *rx, uint64_t client_id,
                                          const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], uint64_t last_sequence);
/* The highest sequence accepted from a client (VKT_ERR_NOT_FOUND for an
 * unknown id). */
vkt_status vkt_update_receiver_last_sequence(const vkt_update_receiver *rx, uint64_t client_id, uint64_t *out);

/* A decoded update: dense float deltas per tensor. */
typedef struct vkt_update vkt_update;

typedef struct vkt_update_info {
    uint64_t round_id;
    uint64_t client_id;
    uint64_t sequence;
    uint32_t example_count;
    float topk_fraction;  /* 0: dense */
    int int8_block;       /* 0: fp32 values */
    bool zstd;
    float dp_clip;        /* 0: no DP */
    float dp_noise;
    int tensor_count;
    uint64_t elements;    /* dense elements, all tensors */
    uint64_t sent_values; /* values the packet carried */
    size_t packet_bytes;
} vkt_update_info;

/* Verify, decrypt and decode one packet. Refused, changing nothing:
 * - VKT_ERR_FORMAT: malformed, truncated or trailing bytes, a failed
 *   authentication (altered, or sealed for another aggregator), a
 *   client key other than the one registered for its id;
 * - VKT_ERR_STATE: no round set, another round (stale or early), another
 *   base model, a sequence not above the client's last one (replay);
 * - VKT_ERR_NOT_FOUND: an unknown client (without accept_unknown_clients);
 * - VKT_ERR_UNSUPPORTED: a newer format version, or more tensors or
 *   elements than this receiver's limits.
 * On success the client's sequence is recorded and *out holds the
 * update (free with vkt_update_destroy). */
vkt_status vkt_update_receive(vkt_update_receiver *rx, const uint8_t *packet, size_t size, vkt_update **out);

void vkt_update_destroy(vkt_update *u);
void vkt_update_get_info(const vkt_update *u, vkt_update_info *out);
int vkt_update_tensor_count(const vkt_update *u);
/* Tensor `index` (in name order); values point into the update. */
vkt_status vkt_update_get_tensor(const vkt_update *u, int index, vkt_update_tensor *out);
/* The tensor named `name`, or VKT_ERR_NOT_FOUND. */
vkt_status vkt_update_find_tensor(const vkt_update *u, const char *name, vkt_update_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
