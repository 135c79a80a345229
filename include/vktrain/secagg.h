/* vktrain — secure aggregation (Bonawitz et al. 2017, "Practical
 * Secure Aggregation for Privacy-Preserving Machine Learning"), the
 * semi-honest-server variant.
 *
 * n clients each hold a vector x_u of d integers mod 2^32; the server
 * learns sum_u x_u over the clients that completed the round, and
 * nothing else about any single x_u, even when up to n - t clients drop
 * out. Each client sends
 *
 *     y_u = x_u + PRG(b_u) + sum_{v != u} (u < v ? +1 : -1) PRG(s_uv)   (mod 2^32)
 *
 * where b_u is a fresh random seed and s_uv a seed both u and v derive
 * from an X25519 agreement; the pairwise masks cancel in the sum. t-of-n
 * Shamir shares of b_u and of u's agreement secret key, sent encrypted
 * to every other client through the server, let the server remove
 * PRG(b_u) for clients that sent y_u and the pairwise masks of clients
 * that dropped before sending it. A client reveals, for each peer,
 * either the share of b or the share of the key, never both.
 *
 * Rounds (docs/secure-aggregation.md specifies every byte):
 *   0 AdvertiseKeys          client -> server: two X25519 public keys
 *                            server -> clients: the key list (>= t clients)
 *   1 ShareKeys              client -> server: encrypted share pairs
 *                            server -> client v: the pairs addressed to v
 *   2 MaskedInputCollection  client -> server: y_u
 *                            server -> clients: who sent y (and who did not)
 *   3 Unmasking              client -> server: the shares asked for
 *                            server: the sum, when >= t clients answered
 *
 * Messages are byte buffers: the transport is the app's. It must
 * authenticate which client a message comes from (e.g. TLS with client
 * certificates) as the paper assumes; the server trusts the sender index
 * in a message as the transport's identity. Every message received, by
 * either side, is untrusted and checked strictly (version, type, round,
 * lengths, counts, order, duplicates, trailing bytes): a refused message
 * changes nothing and vkt_last_error() names the reason.
 *
 * Clients are numbered 1..n (Shamir x-coordinates); the app maps its own
 * ids onto these indices and both sides agree on the parameters out of
 * band. Objects are not thread-safe. */
#ifndef VKTRAIN_SECAGG_H
#define VKTRAIN_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shamir over GF(2^8): indices are nonzero bytes. */
#define VKT_SECAGG_MAX_CLIENTS 255
/* Masked vectors of at most this many u32 (1 GiB). */
#define VKT_SECAGG_MAX_LENGTH (1u << 28)

/* What both sides agree on before round 0. */
typedef struct vkt_secagg_params {
    uint64_t round_id;      /* binds every message and key to this round */
    uint32_t client_count;  /* n, 2..VKT_SECAGG_MAX_CLIENTS */
    /* t: the fewest clients that must stay to the end. 0 picks
     * n - floor(n / 3), so up to a third may drop. Must be > n / 2 (two
     * disjoint groups could otherwise each unmask) and <= n. */
    uint32_t threshold;
    uint32_t vector_length; /* d, 1..VKT_SECAGG_MAX_LENGTH */
} vkt_secagg_params;

/* Check params and fill the default threshold. */
vkt_status vkt_secagg_params_resolve(const vkt_secagg_params *in, vkt_secagg_params *out);

/* Free a message built by this API (NULL is ignored). */
void vkt_secagg_message_free(uint8_t *message);

/* ---- fixed-point encoding ------------------------------------------- */

/* Float vectors become integers mod 2^32 so that a sum of up to
 * max_clients of them cannot wrap: each element must lie in
 * [-range, range]; with B = floor((2^31 - 1) / max_clients) it is encoded
 * as round(x * B / range) (two's complement), so |q| <= B and a sum of
 * max_clients such values stays inside a signed 32-bit integer. The
 * decoded sum is within max_clients * step / 2 of the true sum, where
 * step = range / B. range > 0 and finite; max_clients 1..
 * VKT_SECAGG_MAX_CLIENTS. */
double vkt_secagg_quant_step(double range, uint32_t max_clients);
/* VKT_ERR_INVALID_ARG (naming the first offending element) for a value
 * outside [-range, range] or not finite; nothing is written then. */
vkt_status vkt_secagg_quantize(const float *x, size_t count, double range, uint32_t max_clients, uint32_t *out);
/* The sum of encoded vectors back to real values. */
vkt_status vkt_secagg_dequantize(const uint32_t *sum, size_t count, double range, uint32_t max_clients,
                                 double *out);

/* ---- the client ----------------------------------------------------- */

typedef struct vkt_secagg_client vkt_secagg_client;

/* Client `index` (1..n) of a round; its secrets live in guarded memory. */
vkt_status vkt_secagg_client_create(const vkt_secagg_params *params, uint32_t index, vkt_secagg_client **out);
/* Wipes every secret. NULL is ignored. */
void vkt_secagg_client_destroy(vkt_secagg_client *c);

/* Round 0: fresh key pairs; the AdvertiseKeys message. */
vkt_status vkt_secagg_client_advertise(vkt_secagg_client *c, uint8_t **msg, size_t *size);
/* Round 1: from the server's key list, the encrypted shares of b_u and
 * of the mask secret key for every other listed client. */
vkt_status vkt_secagg_client_share_keys(vkt_secagg_client *c, const uint8_t *key_list, size_t key_list_size,
                                        uint8_t **msg, size_t *size);
/* Round 2: from the shares relayed to this client, the masked input of
 * x (vector_length values). */
vkt_status vkt_secagg_client_mask_input(vkt_secagg_client *c, const uint8_t *shares, size_t shares_size,
                                        const uint32_t *x, size_t length, uint8_t **msg, size_t *size);
/* Round 3: answer the server's unmask request, once. Refused when the
 * request names a client both among those that sent masked input and
 * those that did not, when fewer than t sent masked input, or when it
 * names clients this one holds no shares of. */
vkt_status vkt_secagg_client_unmask(vkt_secagg_client *c, const uint8_t *request, size_t request_size, uint8_t **msg,
                                    size_t *size);

/* ---- the server ----------------------------------------------------- */

typedef struct vkt_secagg_server vkt_secagg_server;

typedef enum vkt_secagg_stage {
    VKT_SECAGG_COLLECT_KEYS = 0,   /* receiving AdvertiseKeys */
    VKT_SECAGG_COLLECT_SHARES = 1, /* key list out; receiving ShareKeys */
    VKT_SECAGG_COLLECT_MASKED = 2, /* shares relayed; receiving masked inputs */
    VKT_SECAGG_COLLECT_UNMASK = 3, /* unmask request out; receiving shares */
    VKT_SECAGG_DONE = 4,           /* the sum is ready */
} vkt_secagg_stage;

vkt_status vkt_secagg_server_create(const vkt_secagg_params *params, vkt_secagg_server **out);
void vkt_secagg_server_destroy(vkt_secagg_server *s);
vkt_secagg_stage vkt_secagg_server_stage(const vkt_secagg_server *s);

/* Take one client message of the current stage. Refused (nothing
 * changes): malformed or trailing bytes (FORMAT), another round, another
 * stage's message or a second one from the same client (STATE), a client
 * the stage does not expect (NOT_FOUND). *sender (may be NULL) gets the
 * client index when known. */
vkt_status vkt_secagg_server_receive(vkt_secagg_server *s, const uint8_t *msg, size_t size, uint32_t *sender);
/* End the current stage and start the next: VKT_ERR_STATE, changing
 * nothing, when fewer than t clients took part in it (the caller may
 * wait for more or abandon the round; nothing about any input has been
 * revealed). Closing the unmask stage reconstructs the seeds and
 * computes the sum. */
vkt_status vkt_secagg_server_close_stage(vkt_secagg_server *s);
/* The message that opens the current stage for client `index`: the key
 * list (COLLECT_SHARES), the shares addressed to it (COLLECT_MASKED) or
 * the unmask request (COLLECT_UNMASK). VKT_ERR_NOT_FOUND for a client
 * not in the stage. */
vkt_status vkt_secagg_server_message(const vkt_secagg_server *s, uint32_t index, uint8_t **msg, size_t *size);
/* Whether client `index` took part in the stage `stage` (sent its
 * message of that stage). */
int vkt_secagg_server_took_part(const vkt_secagg_server *s, vkt_secagg_stage stage, uint32_t index);

typedef struct vkt_secagg_result_info {
    uint32_t contributors; /* clients whose input is in the sum */
    uint32_t dropped;      /* shared keys, then sent no masked input */
    uint32_t responders;   /* answered the unmask request */
} vkt_secagg_result_info;
/* After the last stage: the sum of the contributors' inputs mod 2^32
 * (length = vector_length). info may be NULL. */
vkt_status vkt_secagg_server_result(const vkt_secagg_server *s, uint32_t *sum, size_t length,
                                    vkt_secagg_result_info *info);

#ifdef __cplusplus
}
#endif
#endif
