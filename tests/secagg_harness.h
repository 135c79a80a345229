/* Helpers for the secure-aggregation tests: one whole round among n
 * in-process clients through serialized messages, with clients dropping
 * out at chosen points. */
#ifndef VKT_SECAGG_HARNESS_H
#define VKT_SECAGG_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/vktrain.h>

/* Where a client stops (it sends nothing from that message on). */
typedef enum sh_drop {
    SH_STAYS = 0,
    SH_BEFORE_ADVERTISE, /* never sends its keys */
    SH_BEFORE_SHARES,    /* advertised, sends no shares */
    SH_BEFORE_MASKED,    /* shared keys, sends no masked input (after round 1) */
    SH_BEFORE_UNMASK,    /* sent masked input, does not answer the unmask request (after round 2) */
} sh_drop;

typedef struct sh_round {
    vkt_secagg_params params;
    const uint32_t *const *inputs; /* per client (index - 1), params.vector_length each */
    const sh_drop *drops;          /* per client; NULL: nobody drops */
} sh_round;

/* Run the round; the status of the first server or client call that
 * failed (the stage close that fell below the threshold, typically),
 * VKT_OK with sum (vector_length values) and info otherwise. */
vkt_status sh_run(const sh_round *round, uint32_t *sum, vkt_secagg_result_info *info);

/* The plain sum mod 2^32 of the inputs of clients in `counted`. */
void sh_plain_sum(const sh_round *round, const int *counted, uint32_t *sum);

/* Deterministic pseudo-random u32s. */
void sh_fill(uint32_t *v, size_t n, uint64_t seed);

#endif
