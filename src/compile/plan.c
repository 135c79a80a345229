/* Plan building blocks: slots, launches, and turning a plan into a
 * backend program (memory placement is in placement.c). */
#include "plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_error.h"

vkt_status plan_init(plan *pl, const vkt_graph *g, int batch, bool training, const bool *trainable)
{
    memset(pl, 0, sizeof *pl);
    pl->graph = g;
    pl->batch = batch;
    pl->training = training;
    pl->trainable = trainable;
    pl->scalars_slot = -1;
    pl->label_node = -1;
    pl->label_phase = PLAN_FORWARD;
    size_t n = (size_t)g->node_count, np = (size_t)g->param_count;
    pl->value_slot = malloc((n + 1) * sizeof(int));
    pl->grad_slot = malloc((n + 1) * sizeof(int));
    pl->alias_of = malloc((n + 1) * sizeof(int));
    pl->grad_written = calloc(n + 1, sizeof(bool));
    pl->needs_grad = calloc(n + 1, sizeof(bool));
    pl->runs_backward = calloc(n + 1, sizeof(bool));
    pl->saved_slot = malloc((n * SAVED_PER_NODE + 1) * sizeof(int));
    pl->param_grad_slot = malloc((np + 1) * sizeof(int));
    pl->param_grad_written = calloc(np + 1, sizeof(bool));
    if (!pl->value_slot || !pl->grad_slot || !pl->alias_of || !pl->grad_written || !pl->needs_grad ||
        !pl->runs_backward || !pl->saved_slot || !pl->param_grad_slot || !pl->param_grad_written) {
        plan_free(pl, NULL);
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory planning");
    }
    for (size_t i = 0; i < n; i++)
        pl->value_slot[i] = pl->grad_slot[i] = pl->alias_of[i] = -1;
    for (size_t i = 0; i < n * SAVED_PER_NODE; i++)
        pl->saved_slot[i] = -1;
    for (size_t i = 0; i < np; i++)
        pl->param_grad_slot[i] = -1;
    return VKT_OK;
}

void plan_free(plan *pl, rt_backend *be)
{
    if (be) {
        rt_program_destroy(be, pl->program);
        rt_buffer_destroy(be, pl->arena);
    }
    free(pl->slots);
    free(pl->launches);
    free(pl->value_slot);
    free(pl->recompute);
    free(pl->rematerialized);
    free(pl->chunk_local);
    free(pl->grad_slot);
    free(pl->alias_of);
    free(pl->grad_written);
    free(pl->needs_grad);
    free(pl->runs_backward);
    free(pl->saved_slot);
    free(pl->param_grad_slot);
    free(pl->param_grad_written);
    memset(pl, 0, sizeof *pl);
}

void ec_fail(emit_ctx *e, vkt_status st)
{
    if (e->error == VKT_OK)
        e->error = st;
}

static int add_slot(emit_ctx *e, slot_kind kind, size_t bytes, int index)
{
    if (e->error != VKT_OK)
        return -1;
    if (e->slot_count == e->slot_cap) {
        int cap = e->slot_cap ? e->slot_cap * 2 : 64;
        slot *s = realloc(e->slots, (size_t)cap * sizeof *s);
        if (!s) {
            ec_fail(e, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
            return -1;
        }
        e->slots = s;
        e->slot_cap = cap;
    }
    e->slots[e->slot_count] = (slot){kind, bytes, index, 0, -1, -1, -1};
    return e->slot_count++;
}

int plan_add_arena_slot(plan *pl, size_t bytes)
{
    return add_slot(pl, SLOT_ARENA, bytes, -1);
}

int plan_add_view_slot(plan *pl, int base, size_t offset, size_t bytes)
{
    int s = add_slot(pl, SLOT_VIEW, bytes, base);
    if (s >= 0)
        pl->slots[s].offset = offset;
    return s;
}

/* A launch argument on a view becomes the same bytes of its base. */
static plan_arg resolve_view(const emit_ctx *e, plan_arg a)
{
    while (a.slot >= 0 && e->slots[a.slot].kind == SLOT_VIEW) {
        const slot *v = &e->slots[a.slot];
        if (a.bytes == 0)
            a.bytes = a.offset < v->bytes ? v->bytes - a.offset : 0;
        a.offset += v->offset;
        a.slot = v->index;
    }
    return a;
}

void plan_recompute_lifetimes(plan *pl)
{
    for (int s = 0; s < pl->slot_count; s++)
        pl->slots[s].first_use = pl->slots[s].last_use = -1;
    for (int i = 0; i < pl->launch_count; i++)
        for (int a = 0; a < pl->launches[i].nargs; a++) {
            int s = pl->launches[i].args[a].slot;
            if (s < 0)
                continue;
            if (pl->slots[s].first_use < 0)
                pl->slots[s].first_use = i;
            pl->slots[s].last_use = i;
        }
}

static int root_of(const emit_ctx *e, int id)
{
    while (e->alias_of[id] >= 0)
        id = e->alias_of[id];
    return id;
}

static size_t value_bytes(const emit_ctx *e, int id)
{
    const node *n = &e->graph->nodes[id];
    return n->numel * (size_t)e->batch * 4; /* F32 and I32 are both 4 bytes */
}

int ec_value(emit_ctx *e, int id)
{
    id = root_of(e, id);
    if (e->chunk_local && e->chunk_local[id]) {
        ec_fail(e, rt_error(VKT_ERR_STATE, "internal: node %d's value was local to a chunk of the frozen prefix", id));
        return -1;
    }
    if (e->in_backward && e->recompute && e->recompute[id] && !e->rematerialized[id]) {
        e->rematerialized[id] = true;
        e->value_slot[id] = -1; /* forward's slot dies after its forward reads */
        e->rematerialize(e, id);
    }
    if (e->value_slot[id] < 0) {
        const node *n = &e->graph->nodes[id];
        if (n->kind == OP_INPUT)
            e->value_slot[id] = add_slot(e, SLOT_INPUT, value_bytes(e, id), n->iattr[0]);
        else
            e->value_slot[id] = add_slot(e, SLOT_ARENA, value_bytes(e, id), -1);
    }
    return e->value_slot[id];
}

int ec_grad(emit_ctx *e, int id, int *accum)
{
    id = root_of(e, id);
    if (e->grad_slot[id] < 0)
        e->grad_slot[id] = add_slot(e, SLOT_ARENA, value_bytes(e, id), -1);
    *accum = e->grad_written[id] ? 1 : 0;
    e->grad_written[id] = true;
    return e->grad_slot[id];
}

bool ec_needs_grad(const emit_ctx *e, int id)
{
    return e->needs_grad[id];
}

int ec_param(emit_ctx *e, int p)
{
    return add_slot(e, SLOT_PARAM, e->graph->params[p].numel * 4, p);
}

bool ec_param_trainable(const emit_ctx *e, int p)
{
    return e->training && e->trainable[p];
}

int ec_param_rows(const emit_ctx *e, int p)
{
    return e->param_rows ? e->param_rows[p] : 0;
}

size_t ec_param_grad_numel(const emit_ctx *e, int p)
{
    const param *pa = &e->graph->params[p];
    int k = ec_param_rows(e, p);
    return k ? (size_t)k * (pa->numel / (size_t)pa->dims[0]) : pa->numel;
}

int ec_param_index(emit_ctx *e, int p)
{
    return add_slot(e, SLOT_INDEX, (size_t)ec_param_rows(e, p) * 4, p);
}

int ec_param_grad(emit_ctx *e, int p, int *accum)
{
    if (e->param_grad_slot[p] < 0)
        e->param_grad_slot[p] = add_slot(e, e->arena_grads ? SLOT_ARENA : SLOT_GRAD, ec_param_grad_numel(e, p) * 4, p);
    *accum = e->param_grad_written[p] ? 1 : 0;
    e->param_grad_written[p] = true;
    return e->param_grad_slot[p];
}

int ec_temp(emit_ctx *e, size_t bytes)
{
    return add_slot(e, SLOT_ARENA, bytes, -1);
}

int ec_saved(emit_ctx *e, int id, int tag, size_t bytes)
{
    int *s = &e->saved_slot[id * SAVED_PER_NODE + tag];
    if (*s < 0)
        *s = add_slot(e, SLOT_ARENA, bytes, -1);
    return *s;
}

int ec_scalars(emit_ctx *e)
{
    if (e->scalars_slot < 0)
        e->scalars_slot = add_slot(e, SLOT_SCALARS, RT_SC_COUNT * 4, -1);
    return e->scalars_slot;
}

bool ec_training(const emit_ctx *e)
{
    return e->training;
}

bool ec_freeze_bn(const emit_ctx *e)
{
    return e->freeze_bn;
}

int ec_first_sample(const emit_ctx *e)
{
    return e->first_sample;
}

int ec_mean_over(const emit_ctx *e)
{
    return e->mean_over ? e->mean_over : e->batch;
}

bool ec_compact_saved(const emit_ctx *e)
{
    return !e->plain_memory;
}

bool ec_runs_backward(const emit_ctx *e, int id)
{
    return e->runs_backward[id];
}

int ec_batch(const emit_ctx *e)
{
    return e->batch;
}

void ec_alias(emit_ctx *e, int alias, int target)
{
    e->alias_of[alias] = root_of(e, target);
}

void ec_emit_args(emit_ctx *e, rt_kernel k, const rt_params *p, int nargs, const plan_arg *args)
{
    if (e->error != VKT_OK)
        return;
    if (e->launch_count == e->launch_cap) {
        int cap = e->launch_cap ? e->launch_cap * 2 : 64;
        plan_launch *l = realloc(e->launches, (size_t)cap * sizeof *l);
        if (!l) {
            ec_fail(e, rt_error(VKT_ERR_NO_MEMORY, "out of memory planning"));
            return;
        }
        e->launches = l;
        e->launch_cap = cap;
    }
    plan_launch *l = &e->launches[e->launch_count];
    l->kernel = k;
    l->nargs = nargs;
    l->params = *p;
    l->node = e->label_node;
    l->phase = e->label_phase;
    for (int i = 0; i < RT_MAX_ARGS; i++)
        l->args[i] = i < nargs ? resolve_view(e, args[i]) : (plan_arg){-1, 0, 0};
    for (int i = 0; i < nargs; i++) {
        if (l->args[i].slot < 0)
            continue;
        slot *s = &e->slots[l->args[i].slot];
        if (s->first_use < 0)
            s->first_use = e->launch_count;
        s->last_use = e->launch_count;
    }
    e->launch_count++;
}

void ec_emit(emit_ctx *e, rt_kernel k, const rt_params *p, int nargs, const int *slots)
{
    plan_arg args[RT_MAX_ARGS];
    for (int i = 0; i < nargs && i < RT_MAX_ARGS; i++)
        args[i] = (plan_arg){slots[i], 0, 0};
    ec_emit_args(e, k, p, nargs, args);
}

static vkt_status slot_view(const plan *pl, const plan_bindings *b, int si, rt_view *v)
{
    const slot *s = &pl->slots[si];
    v->size = s->bytes;
    switch (s->kind) {
    case SLOT_ARENA: v->buf = pl->arena; v->offset = s->offset; break;
    case SLOT_PARAM: v->buf = b->params; v->offset = b->param_offset[s->index]; break;
    case SLOT_GRAD:
        if (b->grad_offset[s->index] == SIZE_MAX)
            return rt_error(VKT_ERR_STATE, "internal: gradient of a frozen parameter requested");
        v->buf = b->grads;
        v->offset = b->grad_offset[s->index];
        break;
    case SLOT_GRADS_ALL: v->buf = b->grads; v->offset = 0; v->size = b->grads_total_bytes; break;
    case SLOT_OPT:
        /* index encodes param * 2 + which state (0: first, 1: second). */
        v->buf = b->opt;
        v->offset = b->opt_offset[s->index / 2] + (size_t)(s->index % 2) * s->bytes;
        break;
    case SLOT_INDEX:
        if (!b->indices || !b->index_offset)
            return rt_error(VKT_ERR_STATE, "internal: row indices requested without an index buffer");
        v->buf = b->indices;
        v->offset = b->index_offset[s->index];
        break;
    case SLOT_INPUT: v->buf = b->inputs; v->offset = b->input_offset[s->index]; break;
    case SLOT_SCALARS: v->buf = b->scalars; v->offset = 0; break;
    case SLOT_VIEW: return rt_error(VKT_ERR_STATE, "internal: a launch names a view slot");
    }
    return VKT_OK;
}

vkt_status plan_build_program(plan *pl, rt_backend *be, const plan_bindings *b)
{
    if (pl->error != VKT_OK)
        return pl->error;
    vkt_status st = rt_buffer_create(be, pl->arena_bytes ? pl->arena_bytes : 4, &pl->arena);
    if (st != VKT_OK)
        return st;
    rt_launch *ls = calloc((size_t)pl->launch_count + 1, sizeof *ls);
    if (!ls)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory building a program");
    for (int i = 0; i < pl->launch_count && st == VKT_OK; i++) {
        const plan_launch *pl_l = &pl->launches[i];
        rt_launch *l = &ls[i];
        l->kernel = pl_l->kernel;
        l->nargs = pl_l->nargs;
        l->params = pl_l->params;
        for (int a = 0; a < pl_l->nargs && st == VKT_OK; a++) {
            const plan_arg *pa = &pl_l->args[a];
            if (pa->slot < 0) {
                l->args[a] = (rt_view){NULL, 0, 0};
                continue;
            }
            st = slot_view(pl, b, pa->slot, &l->args[a]);
            if (st != VKT_OK)
                break;
            if (pa->offset > l->args[a].size || pa->bytes > l->args[a].size - pa->offset) {
                st = rt_error(VKT_ERR_STATE, "internal: %s argument %d outside its tensor", rt_kernel_name(l->kernel), a);
                break;
            }
            l->args[a].offset += pa->offset;
            l->args[a].size = pa->bytes ? pa->bytes : l->args[a].size - pa->offset;
        }
    }
    if (st == VKT_OK)
        st = rt_program_create(be, ls, pl->launch_count, &pl->program);
    free(ls);
    return st;
}

int ec_opt_state(emit_ctx *e, int p, int which)
{
    return add_slot(e, SLOT_OPT, ec_param_grad_numel(e, p) * 4, p * 2 + which);
}

int ec_grads_all(emit_ctx *e)
{
    return add_slot(e, SLOT_GRADS_ALL, 0, -1);
}
