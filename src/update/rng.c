/* Buffered random bytes: 1 KiB at a time from randombytes_buf, or from
 * crypto_stream_chacha20_ietf keyed by the test seed with the chunk
 * index as nonce (a deterministic stream that never repeats). */
#include "rng.h"

#include <math.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"

void upd_rng_init(upd_rng *r, const uint8_t seed[32])
{
    sodium_memzero(r, sizeof *r);
    r->seeded = seed != NULL;
    if (seed)
        memcpy(r->key, seed, sizeof r->key);
    r->pos = UPD_RNG_BUFFER; /* empty: refill on first use */
}

void upd_rng_wipe(upd_rng *r)
{
    sodium_memzero(r, sizeof *r);
    r->pos = UPD_RNG_BUFFER;
}

static void refill(upd_rng *r)
{
    if (r->seeded) {
        uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
        upd_store_le64(nonce, r->block++);
        crypto_stream_chacha20_ietf(r->buf, sizeof r->buf, nonce, r->key);
    } else {
        randombytes_buf(r->buf, sizeof r->buf);
    }
    r->pos = 0;
}

static void take(upd_rng *r, uint8_t *out, size_t n)
{
    if (r->pos + n > UPD_RNG_BUFFER)
        refill(r);
    memcpy(out, r->buf + r->pos, n);
    sodium_memzero(r->buf + r->pos, n); /* a used random byte is never kept */
    r->pos += n;
}

uint32_t upd_rng_u32(upd_rng *r)
{
    uint8_t b[4];
    take(r, b, sizeof b);
    return upd_load_le32(b);
}

double upd_rng_uniform(upd_rng *r)
{
    uint8_t b[8];
    take(r, b, sizeof b);
    return (double)(upd_load_le64(b) >> 11) * 0x1.0p-53;
}

/* Box-Muller: u1 in (0, 1] keeps the logarithm finite. */
double upd_rng_gaussian(upd_rng *r)
{
    if (r->have_spare) {
        r->have_spare = false;
        return r->spare;
    }
    double u1 = 1.0 - upd_rng_uniform(r);
    double u2 = upd_rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->have_spare = true;
    return radius * cos(angle);
}
