/* The growing byte writer. Growth copies into a fresh block and wipes the
 * old one, since realloc could leave plaintext in freed memory. */
#include "bytes.h"

#include <stdlib.h>

#include <sodium.h>

bool upd_buf_reserve(upd_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra <= b->cap - b->len)
        return true;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *data = malloc(cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    if (b->len)
        memcpy(data, b->data, b->len);
    if (b->data) {
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void upd_buf_put(upd_buf *b, const void *src, size_t n)
{
    if (n == 0 || !upd_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

void upd_buf_wipe(upd_buf *b)
{
    if (b->data) {
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void upd_wipe_free(void *p, size_t bytes)
{
    if (p) {
        sodium_memzero(p, bytes);
        free(p);
    }
}
