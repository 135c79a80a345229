/* Little-endian byte writing and bounds-checked reading for update
 * packets. The writer grows a buffer and wipes every copy it leaves
 * behind (packet plaintext is private). The reader never reads past its
 * end: every get returns false instead. */
#ifndef VKT_UPD_BYTES_H
#define VKT_UPD_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- loads and stores (unaligned-safe) ------------------------------- */

static inline void upd_store_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void upd_store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void upd_store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t upd_load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t upd_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t upd_load_le64(const uint8_t *p)
{
    return (uint64_t)upd_load_le32(p) | ((uint64_t)upd_load_le32(p + 4) << 32);
}

static inline uint32_t upd_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float upd_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- growing writer ------------------------------------------------- */

typedef struct upd_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* an allocation failed; later puts do nothing */
} upd_buf;

/* Make room for `extra` more bytes. */
bool upd_buf_reserve(upd_buf *b, size_t extra);
void upd_buf_put(upd_buf *b, const void *src, size_t n);
/* Wipe and free the bytes; the buffer is empty afterwards. */
void upd_buf_wipe(upd_buf *b);
/* Wipe `bytes` bytes at p, then free p (NULL is ignored). */
void upd_wipe_free(void *p, size_t bytes);

static inline void upd_buf_u8(upd_buf *b, uint8_t v)
{
    upd_buf_put(b, &v, 1);
}

static inline void upd_buf_u32(upd_buf *b, uint32_t v)
{
    uint8_t t[4];
    upd_store_le32(t, v);
    upd_buf_put(b, t, 4);
}

static inline void upd_buf_u64(upd_buf *b, uint64_t v)
{
    uint8_t t[8];
    upd_store_le64(t, v);
    upd_buf_put(b, t, 8);
}

static inline void upd_buf_f32(upd_buf *b, float v)
{
    upd_buf_u32(b, upd_f32_bits(v));
}

/* Unsigned LEB128: 7 bits per byte, low group first, high bit set on
 * every byte but the last. A u32 takes 1..5 bytes. */
static inline void upd_buf_varint(upd_buf *b, uint32_t v)
{
    uint8_t t[5];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    upd_buf_put(b, t, n);
}

/* ---- bounds-checked reader ------------------------------------------- */

typedef struct upd_reader {
    const uint8_t *p;
    size_t left;
} upd_reader;

static inline bool upd_get_bytes(upd_reader *r, const uint8_t **out, size_t n)
{
    if (r->left < n)
        return false;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static inline bool upd_get_u8(upd_reader *r, uint8_t *v)
{
    const uint8_t *p;
    if (!upd_get_bytes(r, &p, 1))
        return false;
    *v = p[0];
    return true;
}

static inline bool upd_get_u32(upd_reader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!upd_get_bytes(r, &p, 4))
        return false;
    *v = upd_load_le32(p);
    return true;
}

static inline bool upd_get_u64(upd_reader *r, uint64_t *v)
{
    const uint8_t *p;
    if (!upd_get_bytes(r, &p, 8))
        return false;
    *v = upd_load_le64(p);
    return true;
}

static inline bool upd_get_f32(upd_reader *r, float *v)
{
    uint32_t u;
    if (!upd_get_u32(r, &u))
        return false;
    *v = upd_f32_from_bits(u);
    return true;
}

typedef enum upd_varint_result {
    UPD_VARINT_OK = 0,
    UPD_VARINT_TRUNCATED,
    UPD_VARINT_BAD, /* longer than 5 bytes, over 32 bits, or overlong */
} upd_varint_result;

/* Strict LEB128 u32: exactly one encoding per value is accepted (no
 * trailing zero groups), so a packet has one byte form. */
static inline upd_varint_result upd_get_varint(upd_reader *r, uint32_t *v)
{
    uint32_t value = 0;
    for (int i = 0; i < 5; i++) {
        uint8_t byte;
        if (!upd_get_u8(r, &byte))
            return UPD_VARINT_TRUNCATED;
        if (i == 4 && byte > 0x0f)
            return UPD_VARINT_BAD; /* bits above 32, or a sixth byte */
        value |= (uint32_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (i > 0 && byte == 0)
                return UPD_VARINT_BAD; /* overlong */
            *v = value;
            return UPD_VARINT_OK;
        }
    }
    return UPD_VARINT_BAD;
}

#endif
