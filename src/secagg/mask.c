/* The masks' PRG: ChaCha20 keyed by a 32-byte seed, read as a stream of
 * little-endian u32s, added to (or subtracted from) a vector mod 2^32.
 * It runs in fixed-size chunks so a long vector needs no second buffer
 * of its size. A zero nonce is safe: every seed keys one stream only
 * (b_u is fresh per round; s_uv is derived with the round id). */
#include <sodium.h>

#include "secagg_internal.h"

#define CHUNK_BYTES 4096 /* 64 ChaCha20 blocks */

void sa_mask_add(const uint8_t seed[SA_KEY_BYTES], int sign, uint32_t *v, size_t count)
{
    static const uint8_t zeros[CHUNK_BYTES];
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t stream[CHUNK_BYTES];
    uint64_t block = 0;
    for (size_t done = 0; done < count;) {
        size_t n = count - done < CHUNK_BYTES / 4 ? count - done : CHUNK_BYTES / 4;
        crypto_stream_chacha20_xor_ic(stream, zeros, n * 4, nonce, block, seed);
        block += CHUNK_BYTES / 64;
        if (sign > 0)
            for (size_t i = 0; i < n; i++)
                v[done + i] += upd_load_le32(stream + 4 * i);
        else
            for (size_t i = 0; i < n; i++)
                v[done + i] -= upd_load_le32(stream + 4 * i);
        done += n;
    }
    sodium_memzero(stream, sizeof stream);
}
