/* Building a packet: update = trained - base; DP (clip, noise) on the
 * whole update; add the error-feedback residual; per tensor top-k, int8,
 * and the new residual = (update + old residual) - what the aggregator
 * will decode; payload (gap-encoded indices, zstd); encryption. DP comes
 * first so everything after it only post-processes the privatised
 * update. Nothing in the encoder changes unless the packet is built. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "codec.h"
#include "dp.h"
#include "encoder_internal.h"
#include "packet.h"
#include "payload.h"
#include "tensors.h"
#include "runtime/rt_error.h"

/* Per-round working memory; all of it holds update values and is wiped. */
typedef struct work {
    int count;
    int *order;          /* tensors in name order */
    uint32_t *numel;     /* per input tensor */
    uint64_t *offset;    /* per name-order position, into v */
    uint64_t total;
    float *v;            /* update (+ residual); the new residual afterwards */
    uint32_t *k;         /* per position */
    uint64_t sent;
    uint32_t *idx;       /* top-k indices, per position at koff */
    uint64_t *koff;
    float *vals;         /* sent values */
    float *recon;        /* what the aggregator will decode */
    float *scales;
    uint64_t *soff;
    int8_t *q;
    float **new_res;     /* per position: residual arrays to install */
    char **new_names;    /* per position: names of residuals not yet kept */
    upd_enc_tensor *et;
} work;

static void work_free(work *w)
{
    upd_wipe_free(w->v, w->total * sizeof(float));
    upd_wipe_free(w->vals, w->sent * sizeof(float));
    upd_wipe_free(w->recon, w->sent * sizeof(float));
    upd_wipe_free(w->q, w->sent);
    upd_wipe_free(w->idx, w->sent * sizeof(uint32_t));
    if (w->scales)
        upd_wipe_free(w->scales, w->soff[w->count] * sizeof(float));
    if (w->new_res)
        for (int i = 0; i < w->count; i++)
            if (w->new_res[i])
                upd_wipe_free(w->new_res[i], (size_t)w->numel[w->order[i]] * sizeof(float));
    free(w->new_res);
    if (w->new_names)
        for (int i = 0; i < w->count; i++)
            free(w->new_names[i]);
    free(w->new_names);
    free(w->order);
    free(w->numel);
    free(w->offset);
    free(w->k);
    free(w->koff);
    free(w->soff);
    free(w->et);
}

static vkt_status check_inputs(const vkt_update_tensor *base, const vkt_update_tensor *values, int count,
                               uint32_t *numel)
{
    for (int i = 0; i < count; i++) {
        vkt_status st = upd_tensor_check(&values[i], base ? "trained tensor" : "update tensor", i, &numel[i]);
        if (st != VKT_OK)
            return st;
        if (!base)
            continue;
        uint32_t base_numel;
        if ((st = upd_tensor_check(&base[i], "base tensor", i, &base_numel)) != VKT_OK)
            return st;
        bool same = strcmp(base[i].name, values[i].name) == 0 && base[i].rank == values[i].rank;
        for (int d = 0; same && d < base[i].rank; d++)
            same = base[i].dims[d] == values[i].dims[d];
        if (!same)
            return rt_error(VKT_ERR_SHAPE, "base tensor %d ('%s') and trained tensor %d ('%s') differ in name or shape",
                            i, base[i].name, i, values[i].name);
    }
    return VKT_OK;
}

static upd_residual *find_residual(vkt_update_encoder *enc, const char *name)
{
    for (int i = 0; i < enc->residual_count; i++)
        if (strcmp(enc->residuals[i].name, name) == 0)
            return &enc->residuals[i];
    return NULL;
}

static bool lossy(const vkt_update_codec *c)
{
    return (c->topk_fraction > 0.0f && c->topk_fraction < 1.0f) || c->int8_block > 0;
}

static uint32_t stages_of(const vkt_update_codec *c)
{
    uint32_t s = 0;
    if (c->topk_fraction > 0.0f && c->topk_fraction < 1.0f)
        s |= UPD_STAGE_TOPK;
    if (c->int8_block > 0)
        s |= UPD_STAGE_INT8;
    if (c->zstd_level > 0)
        s |= UPD_STAGE_ZSTD;
    if (c->dp_clip > 0.0f)
        s |= UPD_STAGE_DP;
    return s;
}

/* v = values - base in name order; refuses non-finite results. */
static vkt_status fill_update(work *w, const vkt_update_tensor *base, const vkt_update_tensor *values)
{
    for (int p = 0; p < w->count; p++) {
        int i = w->order[p];
        float *v = w->v + w->offset[p];
        for (uint32_t j = 0; j < w->numel[i]; j++) {
            v[j] = base ? values[i].values[j] - base[i].values[j] : values[i].values[j];
            if (!isfinite(v[j]))
                return rt_error(VKT_ERR_INVALID_ARG, "tensor '%s': element %u of the update is not finite",
                                values[i].name, j);
        }
    }
    return VKT_OK;
}

static vkt_status add_residuals(vkt_update_encoder *enc, work *w, const vkt_update_tensor *values)
{
    for (int p = 0; p < w->count; p++) {
        int i = w->order[p];
        upd_residual *r = find_residual(enc, values[i].name);
        if (!r)
            continue;
        if (r->numel != w->numel[i])
            return rt_error(VKT_ERR_SHAPE,
                            "tensor '%s' has %u elements, its error-feedback residual %u "
                            "(vkt_update_encoder_reset_residuals after a model change)",
                            values[i].name, w->numel[i], r->numel);
        float *v = w->v + w->offset[p];
        for (uint32_t j = 0; j < r->numel; j++) {
            v[j] += r->values[j];
            if (!isfinite(v[j]))
                return rt_error(VKT_ERR_INVALID_ARG, "tensor '%s': update plus residual is not finite at %u",
                                values[i].name, j);
        }
    }
    return VKT_OK;
}

static vkt_status alloc_work(work *w, uint32_t stages, uint32_t block, float fraction, uint32_t min_numel)
{
    w->offset = malloc((size_t)(w->count + 1) * sizeof *w->offset);
    w->k = malloc((size_t)w->count * sizeof *w->k);
    w->koff = malloc((size_t)(w->count + 1) * sizeof *w->koff);
    w->soff = malloc((size_t)(w->count + 1) * sizeof *w->soff);
    w->new_res = calloc((size_t)w->count, sizeof *w->new_res);
    w->new_names = calloc((size_t)w->count, sizeof *w->new_names);
    w->et = calloc((size_t)w->count, sizeof *w->et);
    if (!w->offset || !w->k || !w->koff || !w->soff || !w->new_res || !w->new_names || !w->et)
        return rt_error(VKT_ERR_NO_MEMORY, "update encoder: out of memory");
    w->offset[0] = w->koff[0] = w->soff[0] = 0;
    for (int p = 0; p < w->count; p++) {
        uint32_t n = w->numel[w->order[p]];
        w->k[p] = (stages & UPD_STAGE_TOPK) && n > min_numel ? upd_topk_count(fraction, n) : n;
        w->offset[p + 1] = w->offset[p] + n;
        w->koff[p + 1] = w->koff[p] + w->k[p];
        w->soff[p + 1] = w->soff[p] + ((stages & UPD_STAGE_INT8) ? upd_block_count(w->k[p], block) : 0);
    }
    w->total = w->offset[w->count];
    w->sent = w->koff[w->count];
    if (w->total > SIZE_MAX / sizeof(float) / 2)
        return rt_error(VKT_ERR_NO_MEMORY, "update encoder: update too large");
    w->v = malloc(w->total * sizeof(float));
    w->vals = malloc(w->sent * sizeof(float));
    w->recon = malloc(w->sent * sizeof(float));
    w->q = malloc(w->sent ? w->sent : 1);
    w->idx = malloc(w->sent * sizeof(uint32_t));
    w->scales = malloc((w->soff[w->count] ? w->soff[w->count] : 1) * sizeof(float));
    if (!w->v || !w->vals || !w->recon || !w->q || !w->idx || !w->scales)
        return rt_error(VKT_ERR_NO_MEMORY, "update encoder: out of memory for %llu elements",
                        (unsigned long long)w->total);
    return VKT_OK;
}

/* Top-k and int8 on tensor p; v becomes its new residual. */
static void compress_tensor(work *w, int p, uint32_t stages, uint32_t block, upd_rng *rng)
{
    uint32_t n = w->numel[w->order[p]], k = w->k[p];
    float *v = w->v + w->offset[p];
    uint32_t *idx = w->idx + w->koff[p];
    float *vals = w->vals + w->koff[p], *recon = w->recon + w->koff[p];
    if (stages & UPD_STAGE_TOPK)
        upd_topk_select(v, n, k, idx);
    else
        for (uint32_t j = 0; j < k; j++)
            idx[j] = j;
    for (uint32_t j = 0; j < k; j++)
        vals[j] = v[idx[j]];
    if (stages & UPD_STAGE_INT8)
        upd_quantize_int8(vals, k, block, rng, w->scales + w->soff[p], w->q + w->koff[p], recon);
    else
        memcpy(recon, vals, (size_t)k * sizeof(float));
    for (uint32_t j = 0; j < k; j++)
        v[idx[j]] = (stages & UPD_STAGE_INT8) ? v[idx[j]] - recon[j] : 0.0f;
}

/* New residual arrays (and names) for every tensor, allocated before the
 * packet is sealed so that installing them afterwards cannot fail. */
static vkt_status prepare_residuals(vkt_update_encoder *enc, work *w, const vkt_update_tensor *values)
{
    int missing = 0;
    for (int p = 0; p < w->count; p++) {
        const char *name = values[w->order[p]].name;
        uint32_t n = w->numel[w->order[p]];
        w->new_res[p] = malloc((size_t)n * sizeof(float));
        if (!w->new_res[p])
            return rt_error(VKT_ERR_NO_MEMORY, "update encoder: out of memory for residuals");
        memcpy(w->new_res[p], w->v + w->offset[p], (size_t)n * sizeof(float));
        if (!find_residual(enc, name)) {
            if (!(w->new_names[p] = strdup(name)))
                return rt_error(VKT_ERR_NO_MEMORY, "update encoder: out of memory for residuals");
            missing++;
        }
    }
    if (missing) {
        upd_residual *grown = realloc(enc->residuals, (size_t)(enc->residual_count + missing) * sizeof *grown);
        if (!grown)
            return rt_error(VKT_ERR_NO_MEMORY, "update encoder: out of memory for residuals");
        enc->residuals = grown; /* capacity only: the count changes at install */
    }
    return VKT_OK;
}

static void install_residuals(vkt_update_encoder *enc, work *w)
{
    for (int p = 0; p < w->count; p++) {
        uint32_t n = w->numel[w->order[p]];
        upd_residual *r;
        if (w->new_names[p]) {
            r = &enc->residuals[enc->residual_count++];
            *r = (upd_residual){.name = w->new_names[p], .numel = n, .values = NULL};
            w->new_names[p] = NULL;
        } else {
            r = find_residual(enc, w->et[p].name);
        }
        upd_wipe_free(r->values, (size_t)r->numel * sizeof(float));
        r->values = w->new_res[p];
        w->new_res[p] = NULL;
    }
}

static vkt_status build_packet(vkt_update_encoder *enc, work *w, const vkt_update_round *round,
                               const uint8_t *model_hash, const vkt_update_tensor *values, uint32_t stages,
                               uint8_t **packet, size_t *size, size_t *body_bytes)
{
    const vkt_update_codec *c = &enc->codec;
    for (int p = 0; p < w->count; p++) {
        const vkt_update_tensor *t = &values[w->order[p]];
        w->et[p] = (upd_enc_tensor){
            .name = t->name, .rank = t->rank, .dims = t->dims, .numel = w->numel[w->order[p]], .k = w->k[p],
            .indices = w->idx + w->koff[p], .values = w->vals + w->koff[p],
            .scales = w->scales + w->soff[p], .q = w->q + w->koff[p],
        };
    }
    upd_payload_params pp = {
        .stages = stages, .int8_block = (uint32_t)c->int8_block, .example_count = round->example_count,
        .topk_fraction = c->topk_fraction, .dp_clip = c->dp_clip, .dp_noise = c->dp_noise,
        .zstd_level = c->zstd_level,
    };
    upd_buf plain = {0};
    vkt_status st = upd_payload_encode(&pp, w->et, w->count, &plain, body_bytes);
    if (st == VKT_OK) {
        upd_header h = {.round_id = round->round_id, .client_id = enc->client_id, .sequence = enc->next_sequence};
        memcpy(h.model_hash, model_hash, VKT_MODEL_HASH_BYTES);
        st = upd_packet_seal(&h, enc->keys, enc->aggregator_pk, plain.data, plain.len, packet, size);
    }
    upd_buf_wipe(&plain);
    return st;
}

vkt_status upd_encode(vkt_update_encoder *enc, const vkt_update_round *round, const uint8_t *model_hash,
                      const vkt_update_tensor *base, const vkt_update_tensor *values, int count, uint8_t **packet,
                      size_t *size)
{
    if (packet)
        *packet = NULL;
    if (size)
        *size = 0;
    if (!enc || !round || !model_hash || !values || !packet || !size)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode: NULL argument");
    if (count < 1 || count > UPD_MAX_TENSORS)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode: %d tensors (1..%d)", count, UPD_MAX_TENSORS);
    if (enc->next_sequence == UINT64_MAX)
        return rt_error(VKT_ERR_STATE, "vkt_update_encode: sequence numbers exhausted");

    const vkt_update_codec *c = &enc->codec;
    uint32_t stages = stages_of(c), block = (uint32_t)c->int8_block;
    bool feedback = c->error_feedback && lossy(c);
    work w = {.count = count};
    w.order = malloc((size_t)count * sizeof *w.order);
    w.numel = malloc((size_t)count * sizeof *w.numel);
    vkt_status st = w.order && w.numel ? VKT_OK : rt_error(VKT_ERR_NO_MEMORY, "vkt_update_encode: out of memory");
    if (st == VKT_OK)
        st = check_inputs(base, values, count, w.numel);
    if (st == VKT_OK)
        st = upd_sort_by_name(values, count, w.order);
    if (st == VKT_OK)
        st = alloc_work(&w, stages, block, c->topk_fraction, c->topk_min_numel);
    if (st == VKT_OK)
        st = fill_update(&w, base, values);

    double norm = 0.0;
    bool clipped = false;
    if (st == VKT_OK && (stages & UPD_STAGE_DP)) {
        upd_dp_apply(w.v, w.total, c->dp_clip, c->dp_noise, &enc->rng, &norm, &clipped);
        for (uint64_t j = 0; j < w.total && st == VKT_OK; j++)
            if (!isfinite(w.v[j]))
                st = rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode: DP noise overflowed (clip x noise too large)");
    } else if (st == VKT_OK) {
        norm = upd_l2_norm(w.v, w.total);
    }
    if (st == VKT_OK && feedback)
        st = add_residuals(enc, &w, values);
    if (st == VKT_OK)
        for (int p = 0; p < count; p++)
            compress_tensor(&w, p, stages, block, &enc->rng);
    if (st == VKT_OK && feedback)
        st = prepare_residuals(enc, &w, values);
    size_t body_bytes = 0;
    if (st == VKT_OK)
        st = build_packet(enc, &w, round, model_hash, values, stages, packet, size, &body_bytes);
    if (st == VKT_OK && feedback)
        install_residuals(enc, &w);
    if (st == VKT_OK) {
        enc->next_sequence++;
        enc->have_stats = true;
        enc->stats = (vkt_update_stats){
            .update_norm = norm, .clipped = clipped, .elements = w.total, .sent_values = w.sent,
            .body_bytes = body_bytes, .packet_bytes = *size,
            .residual_norm = upd_residuals_norm(enc->residuals, enc->residual_count),
        };
    }
    work_free(&w);
    return st;
}

vkt_status vkt_update_encode(vkt_update_encoder *enc, const vkt_update_round *round,
                             const uint8_t model_hash[VKT_MODEL_HASH_BYTES], const vkt_update_tensor *base,
                             const vkt_update_tensor *trained, int count, uint8_t **packet, size_t *size)
{
    if (!base)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encode: no base tensors");
    return upd_encode(enc, round, model_hash, base, trained, count, packet, size);
}

vkt_status vkt_update_encode_delta(vkt_update_encoder *enc, const vkt_update_round *round,
                                   const uint8_t model_hash[VKT_MODEL_HASH_BYTES], const vkt_update_tensor *delta,
                                   int count, uint8_t **packet, size_t *size)
{
    return upd_encode(enc, round, model_hash, NULL, delta, count, packet, size);
}
