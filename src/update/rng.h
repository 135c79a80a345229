/* Random numbers for stochastic rounding and DP noise: libsodium's
 * CSPRNG (randombytes_buf), or, for tests only, a ChaCha20 keystream
 * from a fixed seed so results repeat. */
#ifndef VKT_UPD_RNG_H
#define VKT_UPD_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPD_RNG_BUFFER 1024

typedef struct upd_rng {
    bool seeded;
    uint8_t key[32];   /* seeded: the ChaCha20 key */
    uint64_t block;    /* seeded: index of the next keystream chunk */
    uint8_t buf[UPD_RNG_BUFFER];
    size_t pos;        /* next unread byte of buf */
    bool have_spare;   /* Box-Muller makes two normals at a time */
    double spare;
} upd_rng;

/* seed NULL: the system CSPRNG. */
void upd_rng_init(upd_rng *r, const uint8_t seed[32]);
/* Wipe the state (key and buffered bytes). */
void upd_rng_wipe(upd_rng *r);
uint32_t upd_rng_u32(upd_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double upd_rng_uniform(upd_rng *r);
/* Standard normal. */
double upd_rng_gaussian(upd_rng *r);

#endif
