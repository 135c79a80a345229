/* Checkpoints: one safetensors file with the weights (PyTorch names),
 * each trainable parameter's optimizer state as
 * "optimizer.<param>.<state>" (torch's state names), and metadata:
 * vktrain.format, vktrain.step, vktrain.optimizer, plus the app's own
 * entries under "app.". Loading checks everything before changing
 * anything. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/safetensors.h"
#include "../io/weights_internal.h"
#include "optimizer.h"
#include "runtime/rt_error.h"
#include "trainer_internal.h"

#define CHECKPOINT_FORMAT "vktrain-checkpoint-1"
#define APP_PREFIX "app."

static const char *optimizer_name(const vkt_optimizer_config *c)
{
    return c->kind == VKT_OPT_ADAMW ? "adamw" : "sgd";
}

static char *state_key(const char *param, const char *state)
{
    size_t n = strlen("optimizer.") + strlen(param) + strlen(state) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "optimizer.%s.%s", param, state);
    return k;
}

/* Fingerprint (FNV-1a, hex) of which rows each partial parameter trains:
 * its optimizer state is only meaningful for the same selection. "all"
 * when every trainable parameter trains every row. */
static void selection_text(const vkt_trainer *tr, char out[24])
{
    uint64_t h = 0xcbf29ce484222325ull;
    bool any = false;
    for (int i = 0; i < tr->graph->param_count; i++) {
        int k = tr->rows.rows_k[i];
        if (!k)
            continue;
        any = true;
        const int32_t *idx = (const int32_t *)((const char *)tr->rows.index + tr->rows.index_offset[i]);
        uint32_t words[2] = {(uint32_t)i, (uint32_t)k};
        for (int w = 0; w < 2 + k; w++) {
            uint32_t v = w < 2 ? words[w] : (uint32_t)idx[w - 2];
            for (int b = 0; b < 4; b++) {
                h ^= (v >> (8 * b)) & 0xffu;
                h *= 0x100000001b3ull;
            }
        }
    }
    if (any)
        snprintf(out, 24, "%016" PRIx64, h);
    else
        snprintf(out, 24, "all");
}

/* Count trainable parameters that carry optimizer state. */
static int state_tensor_count(const vkt_trainer *tr)
{
    int n = 0;
    for (int i = 0; i < tr->graph->param_count; i++)
        if (tr->trainable[i])
            n += tr->opt_states;
    return n;
}

vkt_status vkt_trainer_save_checkpoint(vkt_trainer *tr, const char *path, const vkt_kv *meta, int meta_count)
{
    if (!tr || !path || meta_count < 0 || (meta_count > 0 && !meta))
        return rt_error(VKT_ERR_INVALID_ARG, "trainer, path and metadata are required");
    vkt_status st = trainer_download_params(tr);
    if (st != VKT_OK)
        return st;
    const vkt_graph *g = tr->graph;
    int nstate = state_tensor_count(tr), total = g->param_count + nstate;
    st_entry *entries = calloc((size_t)total + 1, sizeof *entries);
    int64_t *counters = calloc((size_t)g->param_count + 1, sizeof *counters);
    int64_t(*state_dims)[2] = calloc((size_t)g->param_count + 1, sizeof *state_dims);
    char selection[24];
    char **keys = calloc((size_t)nstate + 1, sizeof *keys);
    float *state = malloc(tr->opt_bytes ? tr->opt_bytes : 4);
    st_kv *kv = calloc((size_t)meta_count + 4, sizeof *kv);
    char **app_keys = calloc((size_t)meta_count + 1, sizeof *app_keys);
    char step_text[32];
    if (!entries || !counters || !state_dims || !keys || !state || !kv || !app_keys) {
        st = rt_error(VKT_ERR_NO_MEMORY, "out of memory writing checkpoint %s", path);
        goto done;
    }
    weights_entries(g, entries, counters);
    for (int i = 0; i < g->param_count; i++)
        if (tr->rows.rows_k[i]) {
            state_dims[i][0] = tr->rows.rows_k[i];
            state_dims[i][1] = (int64_t)(g->params[i].numel / (size_t)g->params[i].dims[0]);
        }
    if (tr->opt_bytes)
        st = rt_download(tr->be, tr->opt_state, 0, state, tr->opt_bytes);
    int e = g->param_count, k = 0;
    for (int i = 0; st == VKT_OK && i < g->param_count; i++) {
        if (!tr->trainable[i])
            continue;
        for (int s = 0; s < tr->opt_states; s++) {
            keys[k] = state_key(g->params[i].name, optimizer_state_name(&tr->opt, s));
            if (!keys[k]) {
                st = rt_error(VKT_ERR_NO_MEMORY, "out of memory writing checkpoint");
                break;
            }
            size_t numel = trainer_state_numel(tr, i);
            const float *data = (const float *)((const char *)state + tr->opt_offset[i]) + (size_t)s * numel;
            /* A partial parameter's state holds its trained rows: [k, rest]. */
            entries[e++] = numel == g->params[i].numel
                               ? (st_entry){keys[k++], ST_F32, g->params[i].rank, g->params[i].dims, data}
                               : (st_entry){keys[k++], ST_F32, 2, state_dims[i], data};
        }
    }
    snprintf(step_text, sizeof step_text, "%" PRId64, tr->step);
    kv[0] = (st_kv){(char *)"vktrain.format", (char *)CHECKPOINT_FORMAT};
    kv[1] = (st_kv){(char *)"vktrain.step", step_text};
    kv[2] = (st_kv){(char *)"vktrain.optimizer", (char *)optimizer_name(&tr->opt)};
    for (int m = 0; st == VKT_OK && m < meta_count; m++) {
        if (!meta[m].key || !meta[m].value) {
            st = rt_error(VKT_ERR_INVALID_ARG, "checkpoint metadata entry %d has a NULL key or value", m);
            break;
        }
        size_t n = strlen(APP_PREFIX) + strlen(meta[m].key) + 1;
        app_keys[m] = malloc(n);
        if (!app_keys[m]) {
            st = rt_error(VKT_ERR_NO_MEMORY, "out of memory writing checkpoint");
            break;
        }
        snprintf(app_keys[m], n, APP_PREFIX "%s", meta[m].key);
        kv[3 + m] = (st_kv){app_keys[m], (char *)meta[m].value};
    }
    selection_text(tr, selection);
    kv[3 + meta_count] = (st_kv){(char *)"vktrain.rows", selection};
    if (st == VKT_OK)
        st = st_write(path, entries, e, kv, 4 + meta_count);
done:
    for (int i = 0; keys && i < nstate; i++)
        free(keys[i]);
    for (int m = 0; app_keys && m < meta_count; m++)
        free(app_keys[m]);
    free(app_keys);
    free(keys);
    free(kv);
    free(state);
    free(counters);
    free(state_dims);
    free(entries);
    return st;
}

static vkt_status parse_step(const char *text, const char *path, int64_t *step)
{
    char *end;
    if (!text)
        return rt_error(VKT_ERR_FORMAT, "%s: checkpoint has no vktrain.step", path);
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || v < 0)
        return rt_error(VKT_ERR_FORMAT, "%s: bad vktrain.step '%s'", path, text);
    *step = v;
    return VKT_OK;
}

/* Gather and convert the optimizer state into `state` (opt_bytes). */
static vkt_status read_state(const vkt_trainer *tr, const st_file *f, const char *path, float *state)
{
    const vkt_graph *g = tr->graph;
    for (int i = 0; i < g->param_count; i++) {
        if (!tr->trainable[i])
            continue;
        for (int s = 0; s < tr->opt_states; s++) {
            char *key = state_key(g->params[i].name, optimizer_state_name(&tr->opt, s));
            if (!key)
                return rt_error(VKT_ERR_NO_MEMORY, "out of memory reading checkpoint");
            const st_tensor *t = st_find(f, key);
            vkt_status st = VKT_OK;
            if (!t)
                st = rt_error(VKT_ERR_NOT_FOUND, "%s: no optimizer state '%s'", path, key);
            else if (t->numel != trainer_state_numel(tr, i))
                st = rt_error(VKT_ERR_SHAPE, "%s: optimizer state '%s' has %llu elements, expected %zu", path, key,
                              (unsigned long long)t->numel, trainer_state_numel(tr, i));
            else {
                float *dst = (float *)((char *)state + tr->opt_offset[i]) + (size_t)s * t->numel;
                st = st_tensor_to_f32(t, dst, t->numel);
            }
            free(key);
            if (st != VKT_OK)
                return st;
        }
    }
    return VKT_OK;
}

vkt_status vkt_trainer_load_checkpoint(vkt_trainer *tr, const char *path, vkt_kv_fn lookup, void *user)
{
    if (!tr || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer and path are required");
    st_file *f;
    vkt_status st = st_read(path, &f);
    if (st != VKT_OK)
        return st;
    vkt_graph *g = tr->graph;
    float **values = calloc((size_t)g->param_count + 1, sizeof *values);
    float *state = calloc(1, tr->opt_bytes ? tr->opt_bytes : 4);
    int64_t step = 0;
    const char *format = st_meta_get(f, "vktrain.format");
    const char *opt = st_meta_get(f, "vktrain.optimizer");
    if (!values || !state)
        st = rt_error(VKT_ERR_NO_MEMORY, "out of memory reading checkpoint %s", path);
    else if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        st = rt_error(VKT_ERR_FORMAT, "%s: not a vktrain checkpoint (format '%s')", path, format ? format : "none");
    else if (!opt || strcmp(opt, optimizer_name(&tr->opt)) != 0)
        st = rt_error(VKT_ERR_INVALID_ARG, "%s: checkpoint was written by optimizer '%s', this trainer uses '%s'", path,
                      opt ? opt : "none", optimizer_name(&tr->opt));
    if (st == VKT_OK)
        st = parse_step(st_meta_get(f, "vktrain.step"), path, &step);
    if (st == VKT_OK) {
        /* Files from before sparse updates carry no selection: "all". */
        char selection[24];
        const char *rows = st_meta_get(f, "vktrain.rows");
        selection_text(tr, selection);
        if (strcmp(rows ? rows : "all", selection) != 0)
            st = rt_error(VKT_ERR_INVALID_ARG,
                          "%s: checkpoint trains other channels (selection %s) than this trainer (%s)", path,
                          rows ? rows : "all", selection);
    }
    if (st == VKT_OK)
        st = weights_read_params(g, f, path, values);
    if (st == VKT_OK)
        st = read_state(tr, f, path, state);
    if (st == VKT_OK) {
        /* Everything checked: commit to graph and device. */
        for (int i = 0; i < g->param_count; i++)
            if (values[i]) /* NULL: an adapter the file lacks keeps its value */
                memcpy(g->params[i].data, values[i], g->params[i].numel * sizeof(float));
        tr->counter_steps = 0;
        st = trainer_upload_params(tr);
        if (st == VKT_OK && tr->opt_bytes)
            st = rt_upload(tr->be, tr->opt_state, 0, state, tr->opt_bytes);
        if (st == VKT_OK)
            tr->step = step;
    }
    if (st == VKT_OK && lookup)
        for (int m = 0; m < f->meta_count; m++)
            if (strncmp(f->meta[m].key, APP_PREFIX, strlen(APP_PREFIX)) == 0)
                lookup(f->meta[m].key + strlen(APP_PREFIX), f->meta[m].value, user);
    if (values)
        weights_free_values(g, values);
    free(state);
    st_free(f);
    return st;
}

vkt_status vkt_checkpoint_read_metadata(const char *path, vkt_kv_fn fn, void *user)
{
    if (!path || !fn)
        return rt_error(VKT_ERR_INVALID_ARG, "path and callback are required");
    st_file *f;
    vkt_status st = st_read(path, &f);
    if (st != VKT_OK)
        return st;
    const char *format = st_meta_get(f, "vktrain.format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        st = rt_error(VKT_ERR_FORMAT, "%s: not a vktrain checkpoint (format '%s')", path, format ? format : "none");
    for (int m = 0; st == VKT_OK && m < f->meta_count; m++)
        if (strncmp(f->meta[m].key, APP_PREFIX, strlen(APP_PREFIX)) == 0)
            fn(f->meta[m].key + strlen(APP_PREFIX), f->meta[m].value, user);
    st_free(f);
    return st;
}
