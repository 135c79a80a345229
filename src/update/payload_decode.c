/* Reading a payload. Everything here comes from a client and is
 * untrusted even after authentication (an enrolled client may be
 * malicious): each field is checked before it sizes anything, the body
 * size is capped by what the declared tensors could need before zstd
 * runs, and the decoded update must account for every byte. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include <zstd.h>

#include "codec.h"
#include "payload.h"
#include "runtime/rt_error.h"

#define FAIL(...) rt_error(VKT_ERR_FORMAT, "update packet: " __VA_ARGS__)
/* zstd may not use a window over 2^27 bytes (128 MiB) while decoding. */
#define UPD_ZSTD_WINDOW_LOG_MAX 27

typedef struct payload_header {
    uint32_t stages, block, tensors, examples;
    float topk, clip, noise;
    uint64_t elements, body_size;
} payload_header;

static vkt_status read_header(upd_reader *r, const upd_limits *lim, payload_header *h)
{
    if (!upd_get_u32(r, &h->stages) || !upd_get_u32(r, &h->block) || !upd_get_u32(r, &h->tensors) ||
        !upd_get_u32(r, &h->examples) || !upd_get_f32(r, &h->topk) || !upd_get_f32(r, &h->clip) ||
        !upd_get_f32(r, &h->noise) || !upd_get_u64(r, &h->elements) || !upd_get_u64(r, &h->body_size))
        return FAIL("payload shorter than its %d-byte header", UPD_PAYLOAD_HEADER_BYTES);

    if (h->stages & ~UPD_STAGE_ALL)
        return FAIL("unknown codec stage bits 0x%x", h->stages & ~UPD_STAGE_ALL);
    if (h->stages & UPD_STAGE_INT8) {
        if (h->block < 1 || h->block > UPD_MAX_BLOCK)
            return FAIL("int8 block size %u outside 1..%d", h->block, UPD_MAX_BLOCK);
    } else if (h->block != 0) {
        return FAIL("int8 block size %u without the int8 stage", h->block);
    }
    if (h->stages & UPD_STAGE_TOPK) {
        if (!(h->topk > 0.0f && h->topk < 1.0f))
            return FAIL("top-k fraction %g outside (0, 1)", (double)h->topk);
    } else if (upd_f32_bits(h->topk) != 0) {
        return FAIL("top-k fraction set without the top-k stage");
    }
    if (h->stages & UPD_STAGE_DP) {
        if (!(isfinite(h->clip) && h->clip > 0.0f))
            return FAIL("DP clip norm %g is not finite and positive", (double)h->clip);
        if (!(isfinite(h->noise) && h->noise >= 0.0f))
            return FAIL("DP noise multiplier %g is not finite and non-negative", (double)h->noise);
    } else if (upd_f32_bits(h->clip) != 0 || upd_f32_bits(h->noise) != 0) {
        return FAIL("DP parameters set without the DP stage");
    }
    if (h->tensors < 1)
        return FAIL("no tensors");
    if (h->tensors > lim->max_tensors)
        return rt_error(VKT_ERR_UNSUPPORTED, "update packet: %u tensors, over this receiver's limit of %u",
                        h->tensors, lim->max_tensors);
    if (h->elements < h->tensors)
        return FAIL("%llu elements for %u tensors", (unsigned long long)h->elements, h->tensors);
    if (h->elements > lim->max_elements)
        return rt_error(VKT_ERR_UNSUPPORTED, "update packet: %llu elements, over this receiver's limit of %llu",
                        (unsigned long long)h->elements, (unsigned long long)lim->max_elements);
    uint64_t bound = upd_body_bound(h->stages, h->block, h->tensors, h->elements);
    if (h->body_size < 1 || h->body_size > bound)
        return FAIL("declared body of %llu bytes, outside 1..%llu for %llu elements",
                    (unsigned long long)h->body_size, (unsigned long long)bound, (unsigned long long)h->elements);
    return VKT_OK;
}

/* The zstd frame must be exactly one frame, declare exactly the body
 * size, and decompress to exactly that many bytes. */
static vkt_status inflate(const uint8_t *src, size_t len, uint64_t body_size, uint8_t **out)
{
    if (len < 4 || upd_load_le32(src) != ZSTD_MAGICNUMBER)
        return FAIL("body is not a zstd frame");
    unsigned long long declared = ZSTD_getFrameContentSize(src, len);
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR)
        return FAIL("zstd frame without a readable content size");
    if (declared != body_size)
        return FAIL("zstd frame holds %llu bytes, the payload declares %llu", declared,
                    (unsigned long long)body_size);
    size_t frame = ZSTD_findFrameCompressedSize(src, len);
    if (ZSTD_isError(frame))
        return FAIL("corrupt zstd frame: %s", ZSTD_getErrorName(frame));
    if (frame != len)
        return FAIL("%zu bytes after the zstd frame", len - frame);

    uint8_t *body = malloc((size_t)body_size);
    if (!body)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory for a %llu-byte body",
                        (unsigned long long)body_size);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) {
        free(body);
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: cannot create a zstd context");
    }
    size_t r = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, UPD_ZSTD_WINDOW_LOG_MAX);
    if (!ZSTD_isError(r))
        r = ZSTD_decompressDCtx(dctx, body, (size_t)body_size, src, len);
    ZSTD_freeDCtx(dctx);
    if (ZSTD_isError(r) || r != body_size) {
        upd_wipe_free(body, (size_t)body_size);
        if (ZSTD_isError(r))
            return FAIL("zstd frame does not decompress: %s", ZSTD_getErrorName(r));
        return FAIL("zstd frame decompressed to %zu bytes, not %llu", r, (unsigned long long)body_size);
    }
    *out = body;
    return VKT_OK;
}

typedef struct tensor_reader {
    upd_reader r;
    const payload_header *h;
    int index;            /* of the tensor being read, for messages */
    const char *prev_name;
    size_t prev_len;
    uint64_t used;        /* elements of the tensors read so far */
} tensor_reader;

static vkt_status read_name(tensor_reader *tr, upd_tensor *t)
{
    uint8_t len;
    const uint8_t *name;
    if (!upd_get_u8(&tr->r, &len) || !upd_get_bytes(&tr->r, &name, len))
        return FAIL("tensor %d: truncated name", tr->index);
    if (!upd_name_valid((const char *)name, len))
        return FAIL("tensor %d: name is empty or not printable ASCII", tr->index);
    if (tr->prev_name) {
        size_t common = len < tr->prev_len ? len : tr->prev_len;
        int c = memcmp(tr->prev_name, name, common);
        if (c > 0 || (c == 0 && tr->prev_len >= len))
            return FAIL("tensor %d ('%.*s'): names not in strictly increasing order", tr->index, (int)len,
                        (const char *)name);
    }
    tr->prev_name = (const char *)name;
    tr->prev_len = len;
    t->name = malloc((size_t)len + 1);
    if (!t->name)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory");
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    return VKT_OK;
}

static vkt_status read_shape(tensor_reader *tr, upd_tensor *t)
{
    uint8_t rank;
    if (!upd_get_u8(&tr->r, &rank))
        return FAIL("tensor %d ('%s'): truncated shape", tr->index, t->name);
    if (rank > VKT_MAX_RANK)
        return FAIL("tensor %d ('%s'): rank %u over %d", tr->index, t->name, rank, VKT_MAX_RANK);
    uint64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        uint32_t dim;
        if (!upd_get_u32(&tr->r, &dim))
            return FAIL("tensor %d ('%s'): truncated shape", tr->index, t->name);
        if (dim < 1 || dim > UPD_MAX_NUMEL)
            return FAIL("tensor %d ('%s'): dimension %d is %u", tr->index, t->name, d, dim);
        numel *= dim; /* < 2^31 * 2^31: no overflow before the check */
        if (numel > UPD_MAX_NUMEL)
            return FAIL("tensor %d ('%s'): more than %u elements", tr->index, t->name, UPD_MAX_NUMEL);
        t->dims[d] = dim;
    }
    if (numel > tr->h->elements - tr->used)
        return FAIL("tensor %d ('%s'): %llu elements, more than the %llu declared remain", tr->index, t->name,
                    (unsigned long long)numel, (unsigned long long)(tr->h->elements - tr->used));
    t->rank = rank;
    t->numel = numel;
    return VKT_OK;
}

/* Top-k: k, then k gap-encoded indices, each checked against numel. */
static vkt_status read_indices(tensor_reader *tr, const upd_tensor *t, uint32_t *k, uint32_t **idx)
{
    if (!upd_get_u32(&tr->r, k))
        return FAIL("tensor %d ('%s'): truncated value count", tr->index, t->name);
    if (*k > t->numel)
        return FAIL("tensor %d ('%s'): %u values for %llu elements", tr->index, t->name, *k,
                    (unsigned long long)t->numel);
    *idx = malloc((size_t)(*k ? *k : 1) * sizeof **idx);
    if (!*idx)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory");
    uint64_t next = 0; /* smallest index the next one may have */
    for (uint32_t j = 0; j < *k; j++) {
        uint32_t gap;
        upd_varint_result vr = upd_get_varint(&tr->r, &gap);
        if (vr != UPD_VARINT_OK)
            return FAIL("tensor %d ('%s'): %s index %u", tr->index, t->name,
                        vr == UPD_VARINT_TRUNCATED ? "truncated" : "malformed varint in", j);
        uint64_t index = next + gap;
        if (index >= t->numel)
            return FAIL("tensor %d ('%s'): index %llu out of range (%llu elements)", tr->index, t->name,
                        (unsigned long long)index, (unsigned long long)t->numel);
        (*idx)[j] = (uint32_t)index;
        next = index + 1;
    }
    return VKT_OK;
}

static vkt_status read_int8_values(tensor_reader *tr, const upd_tensor *t, uint32_t k, const uint32_t *idx)
{
    uint32_t block = tr->h->block, blocks = upd_block_count(k, block);
    const uint8_t *scale_bytes, *q;
    if (!upd_get_bytes(&tr->r, &scale_bytes, (size_t)blocks * 4) || !upd_get_bytes(&tr->r, &q, k))
        return FAIL("tensor %d ('%s'): truncated int8 values", tr->index, t->name);
    for (uint32_t b = 0; b < blocks; b++) {
        float scale = upd_f32_from_bits(upd_load_le32(scale_bytes + 4 * (size_t)b));
        /* Bounded so that 127 * scale stays finite. */
        if (!(scale >= 0.0f && scale <= FLT_MAX / UPD_INT8_MAX))
            return FAIL("tensor %d ('%s'): int8 scale %u is %g (must be finite, >= 0 and <= FLT_MAX/127)",
                        tr->index, t->name, b, (double)scale);
        uint32_t hi = b * block + block < k ? b * block + block : k;
        for (uint32_t j = b * block; j < hi; j++) {
            int8_t v = (int8_t)q[j];
            if (v < -UPD_INT8_MAX)
                return FAIL("tensor %d ('%s'): int8 value -128 at %u", tr->index, t->name, j);
            t->values[idx ? idx[j] : j] = upd_dequant(v, scale);
        }
    }
    return VKT_OK;
}

static vkt_status read_f32_values(tensor_reader *tr, const upd_tensor *t, uint32_t k, const uint32_t *idx)
{
    const uint8_t *p;
    if (!upd_get_bytes(&tr->r, &p, (size_t)k * 4))
        return FAIL("tensor %d ('%s'): truncated values", tr->index, t->name);
    for (uint32_t j = 0; j < k; j++) {
        float v = upd_f32_from_bits(upd_load_le32(p + 4 * (size_t)j));
        if (!isfinite(v))
            return FAIL("tensor %d ('%s'): value %u is not finite", tr->index, t->name, j);
        t->values[idx ? idx[j] : j] = v;
    }
    return VKT_OK;
}

static vkt_status read_tensor(tensor_reader *tr, vkt_update *u, upd_tensor *t)
{
    vkt_status st = read_name(tr, t);
    if (st == VKT_OK)
        st = read_shape(tr, t);
    if (st != VKT_OK)
        return st;
    t->values = u->storage + tr->used;
    tr->used += t->numel;

    uint32_t k = (uint32_t)t->numel, *idx = NULL;
    if (tr->h->stages & UPD_STAGE_TOPK)
        st = read_indices(tr, t, &k, &idx);
    if (st == VKT_OK)
        st = (tr->h->stages & UPD_STAGE_INT8) ? read_int8_values(tr, t, k, idx) : read_f32_values(tr, t, k, idx);
    free(idx);
    u->info.sent_values += k;
    return st;
}

static vkt_status decode_body(const uint8_t *body, const payload_header *h, vkt_update *u)
{
    u->storage = calloc((size_t)h->elements, sizeof(float));
    u->tensors = calloc(h->tensors, sizeof *u->tensors);
    if (!u->storage || !u->tensors)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory for %llu elements",
                        (unsigned long long)h->elements);
    tensor_reader tr = {.r = {body, (size_t)h->body_size}, .h = h};
    for (uint32_t i = 0; i < h->tensors; i++) {
        tr.index = (int)i;
        u->count = (int)i + 1;
        vkt_status st = read_tensor(&tr, u, &u->tensors[i]);
        if (st != VKT_OK)
            return st;
    }
    if (tr.used != h->elements)
        return FAIL("tensors hold %llu elements, the payload declares %llu", (unsigned long long)tr.used,
                    (unsigned long long)h->elements);
    if (tr.r.left)
        return FAIL("%zu bytes after the last tensor", tr.r.left);
    return VKT_OK;
}

vkt_status upd_payload_decode(const uint8_t *data, size_t size, const upd_limits *limits, vkt_update **out)
{
    *out = NULL;
    upd_reader r = {data, size};
    payload_header h = {0};
    vkt_status st = read_header(&r, limits, &h);
    if (st != VKT_OK)
        return st;

    const uint8_t *body = r.p;
    uint8_t *inflated = NULL;
    if (h.stages & UPD_STAGE_ZSTD) {
        st = inflate(r.p, r.left, h.body_size, &inflated);
        if (st != VKT_OK)
            return st;
        body = inflated;
    } else if (r.left != h.body_size) {
        return FAIL("body of %zu bytes, the payload declares %llu", r.left, (unsigned long long)h.body_size);
    }

    vkt_update *u = calloc(1, sizeof *u);
    if (!u) {
        upd_wipe_free(inflated, (size_t)h.body_size);
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory");
    }
    u->info.example_count = h.examples;
    u->info.topk_fraction = (h.stages & UPD_STAGE_TOPK) ? h.topk : 0.0f;
    u->info.int8_block = (int)h.block;
    u->info.zstd = (h.stages & UPD_STAGE_ZSTD) != 0;
    u->info.dp_clip = h.clip;
    u->info.dp_noise = h.noise;
    u->info.tensor_count = (int)h.tensors;
    u->info.elements = h.elements;
    st = decode_body(body, &h, u);
    upd_wipe_free(inflated, (size_t)h.body_size);
    if (st != VKT_OK) {
        vkt_update_destroy(u);
        return st;
    }
    *out = u;
    return VKT_OK;
}
