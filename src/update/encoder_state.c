/* Saving and restoring an encoder's error-feedback residuals and next
 * sequence number, so an app that is stopped between rounds (as mobile
 * apps are) keeps both. A safetensors file, written atomically: one F32
 * entry "residual.<name>" [numel] per tensor; metadata
 * vktrain.format = vktrain-update-state-1, vktrain.client_id,
 * vktrain.sequence (decimal). No keys are stored. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "encoder_internal.h"
#include "payload.h"
#include "src/io/safetensors.h"
#include "runtime/rt_error.h"

#define STATE_FORMAT "vktrain-update-state-1"
#define PREFIX "residual."

vkt_status vkt_update_encoder_save_state(const vkt_update_encoder *enc, const char *path)
{
    if (!enc || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encoder_save_state: NULL argument");
    int n = enc->residual_count;
    st_entry *entries = calloc((size_t)(n ? n : 1), sizeof *entries);
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    int64_t *shapes = calloc((size_t)(n ? n : 1), sizeof *shapes);
    vkt_status st = entries && names && shapes ? VKT_OK : rt_error(VKT_ERR_NO_MEMORY, "out of memory saving '%s'", path);
    for (int i = 0; st == VKT_OK && i < n; i++) {
        const upd_residual *r = &enc->residuals[i];
        size_t len = strlen(PREFIX) + strlen(r->name) + 1;
        if (!(names[i] = malloc(len))) {
            st = rt_error(VKT_ERR_NO_MEMORY, "out of memory saving '%s'", path);
            break;
        }
        snprintf(names[i], len, PREFIX "%s", r->name);
        shapes[i] = r->numel;
        entries[i] = (st_entry){.name = names[i], .dtype = ST_F32, .rank = 1, .shape = &shapes[i], .data = r->values};
    }
    char client[24], sequence[24];
    snprintf(client, sizeof client, "%" PRIu64, enc->client_id);
    snprintf(sequence, sizeof sequence, "%" PRIu64, enc->next_sequence);
    st_kv meta[3] = {{"vktrain.format", STATE_FORMAT}, {"vktrain.client_id", client}, {"vktrain.sequence", sequence}};
    if (st == VKT_OK)
        st = st_write(path, entries, n, meta, 3);
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(entries);
    free(shapes);
    return st;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static vkt_status load_residual(const st_tensor *t, const char *path, upd_residual *r)
{
    const char *name = t->name + strlen(PREFIX);
    if (strncmp(t->name, PREFIX, strlen(PREFIX)) != 0 || !upd_name_valid(name, strlen(name)))
        return rt_error(VKT_ERR_FORMAT, "'%s': unexpected entry '%s'", path, t->name);
    if (t->dtype != ST_F32 || t->rank != 1 || t->numel < 1 || t->numel > UPD_MAX_NUMEL)
        return rt_error(VKT_ERR_FORMAT, "'%s': entry '%s' is not a 1-D F32 tensor", path, t->name);
    r->numel = (uint32_t)t->numel;
    r->name = strdup(name);
    r->values = malloc(t->numel * sizeof(float));
    if (!r->name || !r->values)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory loading '%s'", path);
    vkt_status st = st_tensor_to_f32(t, r->values, t->numel);
    for (uint32_t j = 0; st == VKT_OK && j < r->numel; j++)
        if (!isfinite(r->values[j]))
            st = rt_error(VKT_ERR_FORMAT, "'%s': entry '%s' holds a non-finite value", path, t->name);
    return st;
}

vkt_status vkt_update_encoder_load_state(vkt_update_encoder *enc, const char *path)
{
    if (!enc || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_encoder_load_state: NULL argument");
    st_file *f;
    vkt_status st = st_read(path, &f);
    if (st != VKT_OK)
        return st;
    uint64_t client = 0, sequence = 0;
    const char *format = st_meta_get(f, "vktrain.format");
    if (!format || strcmp(format, STATE_FORMAT) != 0)
        st = rt_error(VKT_ERR_FORMAT, "'%s' is not a vktrain update state file", path);
    else if (!parse_u64(st_meta_get(f, "vktrain.client_id"), &client) ||
             !parse_u64(st_meta_get(f, "vktrain.sequence"), &sequence) || sequence == 0)
        st = rt_error(VKT_ERR_FORMAT, "'%s': bad client id or sequence", path);
    else if (client != enc->client_id)
        st = rt_error(VKT_ERR_STATE, "'%s' belongs to client %" PRIu64 ", not %" PRIu64, path, client, enc->client_id);

    upd_residual *res = NULL;
    int n = st == VKT_OK ? f->count : 0;
    if (st == VKT_OK && n > 0 && !(res = calloc((size_t)n, sizeof *res)))
        st = rt_error(VKT_ERR_NO_MEMORY, "out of memory loading '%s'", path);
    for (int i = 0; st == VKT_OK && i < n; i++)
        st = load_residual(&f->tensors[i], path, &res[i]);
    st_free(f);
    if (st != VKT_OK) {
        upd_residuals_free(res, n);
        return st;
    }
    upd_residuals_free(enc->residuals, enc->residual_count);
    enc->residuals = res;
    enc->residual_count = n;
    enc->next_sequence = sequence;
    return VKT_OK;
}
