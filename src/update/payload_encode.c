/* Writing the payload: header, tensor records, optional zstd. */
#include <zstd.h>

#include "codec.h"
#include "payload.h"
#include "runtime/rt_error.h"

bool upd_name_valid(const char *name, size_t len)
{
    if (len < 1 || len > UPD_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return false;
    return true;
}

uint64_t upd_body_bound(uint32_t stages, uint32_t block, uint32_t tensors, uint64_t elements)
{
    uint64_t per_element = (stages & UPD_STAGE_INT8) ? 1 : 4;
    if (stages & UPD_STAGE_TOPK)
        per_element += 5; /* a varint gap */
    uint64_t bound = (uint64_t)tensors * UPD_MAX_TENSOR_HEADER + elements * per_element;
    if ((stages & UPD_STAGE_INT8) && block > 0)
        bound += 4 * (elements / block + tensors); /* a scale per started block */
    return bound;
}

static void put_tensor(upd_buf *b, const upd_payload_params *p, const upd_enc_tensor *t)
{
    size_t name_len = strlen(t->name);
    upd_buf_u8(b, (uint8_t)name_len);
    upd_buf_put(b, t->name, name_len);
    upd_buf_u8(b, (uint8_t)t->rank);
    for (int d = 0; d < t->rank; d++)
        upd_buf_u32(b, (uint32_t)t->dims[d]);
    if (p->stages & UPD_STAGE_TOPK) {
        upd_buf_u32(b, t->k);
        /* Gap encoding: the first index as is, then each distance to the
         * previous minus one (indices are strictly increasing). */
        for (uint32_t j = 0; j < t->k; j++)
            upd_buf_varint(b, j == 0 ? t->indices[0] : t->indices[j] - t->indices[j - 1] - 1);
    }
    if (p->stages & UPD_STAGE_INT8) {
        uint32_t blocks = upd_block_count(t->k, p->int8_block);
        for (uint32_t i = 0; i < blocks; i++)
            upd_buf_f32(b, t->scales[i]);
        upd_buf_put(b, t->q, t->k);
    } else {
        for (uint32_t j = 0; j < t->k; j++)
            upd_buf_f32(b, t->values[j]);
    }
}

static void put_header(upd_buf *b, const upd_payload_params *p, int count, uint64_t elements, uint64_t body_size)
{
    upd_buf_u32(b, p->stages);
    upd_buf_u32(b, (p->stages & UPD_STAGE_INT8) ? p->int8_block : 0);
    upd_buf_u32(b, (uint32_t)count);
    upd_buf_u32(b, p->example_count);
    upd_buf_f32(b, (p->stages & UPD_STAGE_TOPK) ? p->topk_fraction : 0.0f);
    upd_buf_f32(b, (p->stages & UPD_STAGE_DP) ? p->dp_clip : 0.0f);
    upd_buf_f32(b, (p->stages & UPD_STAGE_DP) ? p->dp_noise : 0.0f);
    upd_buf_u64(b, elements);
    upd_buf_u64(b, body_size);
}

static vkt_status compress_into(upd_buf *out, const upd_buf *body, int level)
{
    size_t bound = ZSTD_compressBound(body->len);
    if (!upd_buf_reserve(out, bound))
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory compressing %zu bytes", body->len);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx)
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: cannot create a zstd context");
    /* The decoder requires the content size in the frame header. */
    size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    if (!ZSTD_isError(r))
        r = ZSTD_compress2(cctx, out->data + out->len, bound, body->data, body->len);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r))
        return rt_error(VKT_ERR_UNSUPPORTED, "update packet: zstd compression failed: %s", ZSTD_getErrorName(r));
    out->len += r;
    return VKT_OK;
}

vkt_status upd_payload_encode(const upd_payload_params *p, const upd_enc_tensor *tensors, int count, upd_buf *out,
                              size_t *body_bytes)
{
    upd_buf body = {0};
    uint64_t elements = 0;
    for (int i = 0; i < count; i++) {
        put_tensor(&body, p, &tensors[i]);
        elements += tensors[i].numel;
    }
    if (body.failed) {
        upd_buf_wipe(&body);
        return rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory encoding the update");
    }
    put_header(out, p, count, elements, body.len);
    vkt_status st = VKT_OK;
    if (p->stages & UPD_STAGE_ZSTD)
        st = compress_into(out, &body, p->zstd_level);
    else
        upd_buf_put(out, body.data, body.len);
    *body_bytes = body.len;
    upd_buf_wipe(&body);
    if (st == VKT_OK && out->failed)
        st = rt_error(VKT_ERR_NO_MEMORY, "update packet: out of memory encoding the update");
    return st;
}
