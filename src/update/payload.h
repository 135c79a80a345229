/* The update payload: the plaintext that the packet encrypts. A 44-byte
 * payload header (codec stages, counts, DP parameters, sizes) and the
 * body (one record per tensor), the body optionally one zstd frame.
 * docs/update-packet.md is the specification. */
#ifndef VKT_UPD_PAYLOAD_H
#define VKT_UPD_PAYLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <vktrain/update.h>

#include "bytes.h"

#define UPD_PAYLOAD_HEADER_BYTES 44
#define UPD_MAX_NAME 255
#define UPD_MAX_TENSORS 65535
#define UPD_MAX_NUMEL 0x7fffffffu
/* name length, name, rank, dims, k */
#define UPD_MAX_TENSOR_HEADER (1 + UPD_MAX_NAME + 1 + 4 * VKT_MAX_RANK + 4)

enum {
    UPD_STAGE_TOPK = 1u << 0,
    UPD_STAGE_INT8 = 1u << 1,
    UPD_STAGE_ZSTD = 1u << 2,
    UPD_STAGE_DP = 1u << 3,
    UPD_STAGE_ALL = 0xfu,
};

typedef struct upd_payload_params {
    uint32_t stages;
    uint32_t int8_block;  /* INT8 only */
    uint32_t example_count;
    float topk_fraction;  /* TOPK only */
    float dp_clip, dp_noise; /* DP only */
    int zstd_level;       /* ZSTD only */
} upd_payload_params;

/* One tensor as the encoder sends it. */
typedef struct upd_enc_tensor {
    const char *name;
    int rank;
    const int64_t *dims;
    uint32_t numel;
    uint32_t k;               /* sent values; numel without TOPK */
    const uint32_t *indices;  /* TOPK: k ascending indices */
    const float *values;      /* without INT8: k values */
    const float *scales;      /* INT8: upd_block_count(k, block) scales */
    const int8_t *q;          /* INT8: k values */
} upd_enc_tensor;

/* Append the payload to `out` (which the caller wipes). *body_bytes gets
 * the body size before zstd. Tensors must be in name order. */
vkt_status upd_payload_encode(const upd_payload_params *p, const upd_enc_tensor *tensors, int count, upd_buf *out,
                              size_t *body_bytes);

typedef struct upd_limits {
    uint64_t max_elements;
    uint32_t max_tensors;
} upd_limits;

/* Decoded tensors. */
typedef struct upd_tensor {
    char *name;
    int rank;
    int64_t dims[VKT_MAX_RANK];
    uint64_t numel;
    float *values; /* into the update's storage */
} upd_tensor;

struct vkt_update {
    vkt_update_info info;
    upd_tensor *tensors;
    int count;
    float *storage;
};

/* Parse and decode a payload (untrusted bytes) into a new update whose
 * info holds the payload's fields (the caller adds the header's). Every
 * count, size, index and value is checked; anything off is
 * VKT_ERR_FORMAT, a payload over the limits VKT_ERR_UNSUPPORTED. */
vkt_status upd_payload_decode(const uint8_t *data, size_t size, const upd_limits *limits, vkt_update **out);

/* Largest body a payload with these fields may declare. */
uint64_t upd_body_bound(uint32_t stages, uint32_t block, uint32_t tensors, uint64_t elements);

/* Names are 1..255 bytes of printable ASCII without spaces, so a name
 * can be quoted in an error message as it is. */
bool upd_name_valid(const char *name, size_t len);

#endif
