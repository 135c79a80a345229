/* Trainable-set policies: parsing the tools' spelling and resolving a
 * policy to a per-parameter trainable flag. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph_internal.h"
#include "policy.h"
#include "runtime/rt_error.h"

static bool parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_fraction(const char *text, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !(v > 0.0 && v <= 1.0))
        return false;
    *out = (float)v;
    return true;
}

/* The policy before any "+last:K"; false for an unknown one. */
static bool parse_base(const char *text, vkt_trainable_set *out)
{
    long v;
    if (strcmp(text, "full") == 0)
        return true;
    if (strcmp(text, "bias") == 0) {
        out->policy = VKT_TRAIN_BIAS;
        return true;
    }
    if (strcmp(text, "auto") == 0) {
        out->policy = VKT_TRAIN_AUTO;
        return true;
    }
    if (strncmp(text, "last:", 5) == 0 && parse_long(text + 5, 1, 100000, &v)) {
        out->policy = VKT_TRAIN_LAST_K;
        out->count = (int)v;
        return true;
    }
    if (strncmp(text, "lora:", 5) == 0 && parse_long(text + 5, 1, 1024, &v)) {
        out->policy = VKT_TRAIN_LORA;
        out->lora_rank = (int)v;
        return true;
    }
    if (strncmp(text, "channels:", 9) == 0 && parse_fraction(text + 9, &out->fraction)) {
        out->policy = VKT_TRAIN_CHANNELS;
        return true;
    }
    return false;
}

vkt_status vkt_trainable_parse(const char *text, vkt_trainable_set *out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainable_parse: out is NULL");
    *out = (vkt_trainable_set){VKT_TRAIN_ALL, NULL, 0, 0.0f, 0, 0};
    if (!text)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainable_parse: text is NULL");
    char base[64];
    const char *plus = strchr(text, '+');
    size_t n = plus ? (size_t)(plus - text) : strlen(text);
    long head = 0;
    bool ok = n < sizeof base;
    if (ok) {
        memcpy(base, text, n);
        base[n] = '\0';
        ok = parse_base(base, out);
    }
    if (ok && plus)
        ok = (out->policy == VKT_TRAIN_BIAS || out->policy == VKT_TRAIN_LORA) && strncmp(plus + 1, "last:", 5) == 0 &&
             parse_long(plus + 6, 1, 100000, &head);
    out->head_layers = (int)head;
    if (ok)
        return VKT_OK;
    *out = (vkt_trainable_set){VKT_TRAIN_ALL, NULL, 0, 0.0f, 0, 0};
    return rt_error(VKT_ERR_INVALID_ARG,
                    "invalid policy '%s' (expected full, bias, last:K with K >= 1, channels:FRAC with 0 < FRAC <= 1, "
                    "lora:R with 1 <= R <= 1024, or auto; bias and lora:R may add +last:K)",
                    text);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Parameters of the last `k` nodes that own trainable parameters. */
static void mark_last_layers(const vkt_graph *g, int k, bool *trainable)
{
    for (int id = g->node_count - 1; id >= 0 && k > 0; id--) {
        const node *n = &g->nodes[id];
        bool any = false;
        for (int j = 0; j < n->nparams; j++) {
            const param *p = &g->params[n->params[j]];
            if (!p->is_state && !p->is_adapter)
                trainable[n->params[j]] = any = true;
        }
        k -= any;
    }
}

static vkt_status mark_named(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable)
{
    if (set->count < 0 || (set->count > 0 && !set->names))
        return rt_error(VKT_ERR_INVALID_ARG, "invalid trainable set");
    for (int k = 0; k < set->count; k++) {
        int i = set->names[k] ? graph_param_find(g, set->names[k]) : -1;
        if (i < 0)
            return rt_error(VKT_ERR_NOT_FOUND, "trainable set names '%s', which is not a parameter of the graph",
                            set->names[k] ? set->names[k] : "(null)");
        if (g->params[i].is_state)
            return rt_error(VKT_ERR_INVALID_ARG, "'%s' is a state buffer and cannot be trained", set->names[k]);
        trainable[i] = true;
    }
    return VKT_OK;
}

static vkt_status resolve_base(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable)
{
    vkt_trainable_policy policy = set ? set->policy : VKT_TRAIN_ALL;
    bool adapters = false;
    for (int i = 0; i < g->param_count; i++) {
        const param *p = &g->params[i];
        adapters |= p->is_adapter;
        /* Adapters are only trained by the LoRA policy (or by name):
         * "full" fine-tuning of a model with adapters trains the base. */
        trainable[i] = !p->is_state && !p->is_adapter &&
                       (policy == VKT_TRAIN_ALL || (policy == VKT_TRAIN_BIAS && ends_with(p->name, ".bias")));
    }
    switch (policy) {
    case VKT_TRAIN_ALL:
    case VKT_TRAIN_BIAS: return VKT_OK;
    case VKT_TRAIN_CHANNELS: /* rows of the weights are chosen by policy_select_rows */
        for (int i = 0; i < g->param_count; i++)
            trainable[i] = !g->params[i].is_state && !g->params[i].is_adapter;
        return VKT_OK;
    case VKT_TRAIN_LAST_K:
        if (set->count < 1)
            return rt_error(VKT_ERR_INVALID_ARG, "last-k policy needs k >= 1 (got %d)", set->count);
        mark_last_layers(g, set->count, trainable);
        return VKT_OK;
    case VKT_TRAIN_NAMED: return mark_named(g, set, trainable);
    case VKT_TRAIN_LORA:
        if (!adapters)
            return rt_error(VKT_ERR_INVALID_ARG, "the LoRA policy needs adapters in the graph (vkt_graph_add_lora)");
        for (int i = 0; i < g->param_count; i++)
            trainable[i] = g->params[i].is_adapter;
        return VKT_OK;
    default: return rt_error(VKT_ERR_INVALID_ARG, "unknown trainable policy %d", (int)policy);
    }
}

vkt_status policy_resolve(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable)
{
    vkt_status st = resolve_base(g, set, trainable);
    int head = set ? set->head_layers : 0;
    if (st != VKT_OK || head == 0)
        return st;
    if (head < 0 || (set->policy != VKT_TRAIN_BIAS && set->policy != VKT_TRAIN_LORA))
        return rt_error(VKT_ERR_INVALID_ARG, "head_layers %d: only bias and LoRA policies add whole layers", head);
    mark_last_layers(g, head, trainable);
    return VKT_OK;
}

/* The weight of a linear or ungrouped conv layer: its rows are output
 * channels, which a sparse update can train a subset of. */
static bool has_channel_rows(const vkt_graph *g, int pi)
{
    const param *p = &g->params[pi];
    const node *n = &g->nodes[p->node];
    if (p->is_state || p->is_adapter || n->nparams == 0 || n->params[0] != pi)
        return false;
    return n->kind == OP_LINEAR || (n->kind == OP_CONV2D && n->iattr[11] == 1); /* groups */
}

typedef struct row_norm {
    double norm;
    int row;
} row_norm;

static int by_norm_desc(const void *a, const void *b)
{
    const row_norm *x = a, *y = b;
    if (x->norm != y->norm)
        return x->norm < y->norm ? 1 : -1;
    return x->row - y->row; /* ties: lower row first, deterministic */
}

static int by_row(const void *a, const void *b)
{
    return *(const int32_t *)a - *(const int32_t *)b;
}

vkt_status policy_select_rows(const vkt_graph *g, const vkt_trainable_set *set, const bool *trainable,
                              row_selection *out)
{
    size_t np = (size_t)g->param_count + 1;
    out->rows_k = calloc(np, sizeof(int));
    out->index_offset = calloc(np, sizeof(size_t));
    out->index = NULL;
    out->index_bytes = 0;
    if (!out->rows_k || !out->index_offset)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory selecting channels");
    if (!set || set->policy != VKT_TRAIN_CHANNELS)
        return VKT_OK;
    if (!(set->fraction > 0.0f && set->fraction <= 1.0f))
        return rt_error(VKT_ERR_INVALID_ARG, "channels policy needs 0 < fraction <= 1 (got %g)", (double)set->fraction);
    /* The classifier (the last layer with a weight) is trained in full:
     * every class needs its row. */
    int head = -1;
    for (int i = 0; i < g->param_count; i++)
        if (has_channel_rows(g, i))
            head = i;
    size_t total = 0;
    for (int i = 0; i < g->param_count; i++) {
        if (!trainable[i] || !has_channel_rows(g, i) || i == head)
            continue;
        int rows = (int)g->params[i].dims[0];
        int k = (int)ceil((double)set->fraction * rows);
        k = k < 1 ? 1 : k > rows ? rows : k;
        if (k < rows) {
            out->rows_k[i] = k;
            total += (size_t)k;
        }
    }
    out->index = malloc((total ? total : 1) * sizeof(int32_t));
    row_norm *norms = NULL;
    if (!out->index)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory selecting channels");
    size_t at = 0;
    for (int i = 0; i < g->param_count; i++) {
        int k = out->rows_k[i];
        if (!k)
            continue;
        const param *p = &g->params[i];
        size_t rows = (size_t)p->dims[0], width = p->numel / rows;
        row_norm *grown = realloc(norms, rows * sizeof *norms);
        if (!grown) {
            free(norms);
            return rt_error(VKT_ERR_NO_MEMORY, "out of memory selecting channels");
        }
        norms = grown;
        for (size_t r = 0; r < rows; r++) {
            double sum = 0.0;
            for (size_t j = 0; j < width; j++)
                sum += (double)p->data[r * width + j] * p->data[r * width + j];
            norms[r] = (row_norm){sum, (int)r};
        }
        qsort(norms, rows, sizeof *norms, by_norm_desc);
        out->index_offset[i] = at * sizeof(int32_t);
        for (int r = 0; r < k; r++)
            out->index[at + (size_t)r] = norms[r].row;
        qsort(out->index + at, (size_t)k, sizeof(int32_t), by_row); /* ascending: friendlier memory access */
        at += (size_t)k;
    }
    free(norms);
    out->index_bytes = at * sizeof(int32_t);
    return VKT_OK;
}

void row_selection_free(row_selection *s)
{
    free(s->rows_k);
    free(s->index);
    free(s->index_offset);
    memset(s, 0, sizeof *s);
}
