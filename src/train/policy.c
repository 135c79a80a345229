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

vkt_status vkt_trainable_parse(const char *text, vkt_trainable_set *out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainable_parse: out is NULL");
    *out = (vkt_trainable_set){VKT_TRAIN_ALL, NULL, 0, 0.0f, 0};
    long v;
    if (!text)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainable_parse: text is NULL");
    if (strcmp(text, "full") == 0)
        return VKT_OK;
    if (strcmp(text, "bias") == 0) {
        out->policy = VKT_TRAIN_BIAS;
        return VKT_OK;
    }
    if (strcmp(text, "auto") == 0) {
        out->policy = VKT_TRAIN_AUTO;
        return VKT_OK;
    }
    if (strncmp(text, "last:", 5) == 0 && parse_long(text + 5, 1, 100000, &v)) {
        out->policy = VKT_TRAIN_LAST_K;
        out->count = (int)v;
        return VKT_OK;
    }
    if (strncmp(text, "lora:", 5) == 0 && parse_long(text + 5, 1, 1024, &v)) {
        out->policy = VKT_TRAIN_LORA;
        out->lora_rank = (int)v;
        return VKT_OK;
    }
    if (strncmp(text, "channels:", 9) == 0 && parse_fraction(text + 9, &out->fraction)) {
        out->policy = VKT_TRAIN_CHANNELS;
        return VKT_OK;
    }
    return rt_error(VKT_ERR_INVALID_ARG,
                    "invalid policy '%s' (expected full, bias, last:K with K >= 1, channels:FRAC with 0 < FRAC <= 1, "
                    "lora:R with 1 <= R <= 1024, or auto)",
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

vkt_status policy_resolve(const vkt_graph *g, const vkt_trainable_set *set, bool *trainable)
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
