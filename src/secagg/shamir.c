/* Shamir t-of-n secret sharing of 32-byte secrets over GF(2^8), each
 * byte shared with its own random polynomial.
 *
 * Why GF(2^8) rather than a prime field: the secrets (mask seeds, X25519
 * secret keys) are byte strings, so a byte-wise field shares them with
 * no encoding, no reduction bias and shares exactly as long as the
 * secret (32 bytes); its only limit, x-coordinates 1..255, caps a round
 * at 255 clients, which is what one cohort of devices is anyway.
 * Arithmetic uses the AES polynomial x^8 + x^4 + x^3 + x + 1 and no
 * tables, so no secret byte ever indexes memory. */
#include <sodium.h>

#include "secagg_internal.h"
#include "runtime/rt_error.h"

/* a * b in GF(2^8), in constant time. */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t product = 0;
    for (int i = 0; i < 8; i++) {
        product ^= (uint8_t)(-(b & 1) & a);
        uint8_t carry = (uint8_t)-(a >> 7);
        a = (uint8_t)((a << 1) ^ (carry & 0x1b));
        b >>= 1;
    }
    return product;
}

/* a^-1 = a^254 (a != 0). */
static uint8_t gf_inv(uint8_t a)
{
    uint8_t result = 1, power = a;
    for (int e = 254; e; e >>= 1) {
        if (e & 1)
            result = gf_mul(result, power);
        power = gf_mul(power, power);
    }
    return result;
}

static bool distinct_nonzero(const uint8_t *xs, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (xs[i] == 0)
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (xs[i] == xs[j])
                return false;
    }
    return true;
}

vkt_status sa_shamir_split(const uint8_t secret[SA_KEY_BYTES], uint32_t threshold, const uint8_t *xs, uint32_t count,
                           uint8_t (*shares)[SA_KEY_BYTES])
{
    if (threshold < 1 || threshold > count || count > VKT_SECAGG_MAX_CLIENTS || !distinct_nonzero(xs, count))
        return rt_error(VKT_ERR_INVALID_ARG, "shamir: need 1 <= t <= n <= 255 and distinct nonzero indices");
    /* coefficients[k][j]: the x^(k+1) coefficient of byte j's polynomial */
    uint8_t (*coefficients)[SA_KEY_BYTES] = sodium_malloc((size_t)threshold * SA_KEY_BYTES);
    if (!coefficients)
        return rt_error(VKT_ERR_NO_MEMORY, "shamir: out of memory");
    randombytes_buf(coefficients, (size_t)(threshold - 1) * SA_KEY_BYTES);
    for (uint32_t i = 0; i < count; i++) {
        for (int j = 0; j < SA_KEY_BYTES; j++) {
            /* Horner from the highest coefficient down to the secret. */
            uint8_t y = 0;
            for (uint32_t k = threshold - 1; k >= 1; k--)
                y = (uint8_t)(gf_mul(y, xs[i]) ^ coefficients[k - 1][j]);
            shares[i][j] = (uint8_t)(gf_mul(y, xs[i]) ^ secret[j]);
        }
    }
    sodium_free(coefficients);
    return VKT_OK;
}

vkt_status sa_shamir_combine(const uint8_t *xs, const uint8_t (*shares)[SA_KEY_BYTES], uint32_t count,
                             uint32_t threshold, uint8_t secret[SA_KEY_BYTES])
{
    if (count < threshold)
        return rt_error(VKT_ERR_STATE, "shamir: %u shares cannot reconstruct a %u-of-n secret", count, threshold);
    if (count > VKT_SECAGG_MAX_CLIENTS || !distinct_nonzero(xs, count))
        return rt_error(VKT_ERR_INVALID_ARG, "shamir: share indices must be distinct and nonzero");
    uint8_t out[SA_KEY_BYTES] = {0};
    for (uint32_t i = 0; i < count; i++) {
        /* Lagrange basis at 0: prod_{j != i} x_j / (x_j - x_i); minus is xor. */
        uint8_t num = 1, den = 1;
        for (uint32_t j = 0; j < count; j++) {
            if (j == i)
                continue;
            num = gf_mul(num, xs[j]);
            den = gf_mul(den, (uint8_t)(xs[j] ^ xs[i]));
        }
        uint8_t basis = gf_mul(num, gf_inv(den));
        for (int b = 0; b < SA_KEY_BYTES; b++)
            out[b] ^= gf_mul(basis, shares[i][b]);
    }
    memcpy(secret, out, SA_KEY_BYTES);
    sodium_memzero(out, sizeof out);
    return VKT_OK;
}
