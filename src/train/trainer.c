/* The trainer: owns the persistent buffers (weights, gradients,
 * optimizer state, inputs, scalars), compiles plans on demand (one per
 * batch size and mode, normally the full batch and the partial last
 * one), and runs a step as: upload batch + step scalars, run program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph_internal.h"
#include "optimizer.h"
#include "policy.h"
#include "runtime/rt_error.h"
#include "trainer_internal.h"

/* I32 inputs that feed a label or index consumer get a bound checked on
 * upload, so no kernel ever sees an out-of-range class or row. */
static void find_input_limits(vkt_trainer *tr)
{
    const vkt_graph *g = tr->graph;
    for (int id = 0; id < g->node_count; id++) {
        const node *n = &g->nodes[id];
        int src, limit;
        if (n->kind == OP_SOFTMAX_CE)
            src = n->inputs[1], limit = n->iattr[0];
        else if (n->kind == OP_EMBEDDING)
            src = n->inputs[0], limit = n->iattr[0];
        else
            continue;
        while (g->nodes[src].kind == OP_RESHAPE)
            src = g->nodes[src].inputs[0];
        if (g->nodes[src].kind != OP_INPUT)
            continue;
        int in = g->nodes[src].iattr[0];
        if (tr->input_limit[in] == 0 || limit < tr->input_limit[in])
            tr->input_limit[in] = limit;
    }
}

static vkt_status layout_buffers(vkt_trainer *tr)
{
    const vkt_graph *g = tr->graph;
    size_t np = (size_t)g->param_count + 1;
    tr->trainable = calloc(np, sizeof(bool));
    tr->param_offset = calloc(np, sizeof(size_t));
    tr->grad_offset = calloc(np, sizeof(size_t));
    tr->opt_offset = calloc(np, sizeof(size_t));
    if (!tr->trainable || !tr->param_offset || !tr->grad_offset || !tr->opt_offset)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a trainer");
    return VKT_OK;
}

bool trainer_grads_persistent(const vkt_trainer *tr)
{
    return tr->opt.clip_grad_norm > 0 || trainer_micro_batched(tr, tr->batch);
}

bool trainer_micro_batched(const vkt_trainer *tr, int batch)
{
    return tr->micro_batch > 0 && tr->micro_batch < batch;
}

size_t trainer_state_numel(const vkt_trainer *tr, int i)
{
    const param *p = &tr->graph->params[i];
    int k = tr->rows.rows_k ? tr->rows.rows_k[i] : 0;
    return k ? (size_t)k * (p->numel / (size_t)p->dims[0]) : p->numel;
}

static void assign_offsets(vkt_trainer *tr)
{
    const vkt_graph *g = tr->graph;
    /* 256-byte alignment keeps every tensor bindable as a storage buffer. */
    size_t p = 0, gr = 0, o = 0;
    for (int i = 0; i < g->param_count; i++) {
        size_t bytes = g->params[i].numel * 4;
        tr->param_offset[i] = p;
        p += (bytes + 255) / 256 * 256;
        tr->grad_offset[i] = tr->opt_offset[i] = SIZE_MAX;
        bytes = trainer_state_numel(tr, i) * 4;
        if (tr->trainable[i]) {
            tr->grad_offset[i] = gr;
            gr += bytes; /* packed: the clipping norm reads them as one range */
            if (tr->opt_states) {
                tr->opt_offset[i] = o;
                o += (bytes * (size_t)tr->opt_states + 255) / 256 * 256;
            }
        }
    }
    tr->params_bytes = p;
    tr->grads_bytes = gr;
    tr->opt_bytes = o;
    size_t in = 0;
    for (int k = 0; k < g->input_count; k++) {
        const node *n = &g->nodes[g->inputs[k]];
        tr->input_sample_bytes[k] = n->numel * 4;
        tr->input_offset[k] = in;
        in += (n->numel * 4 * (size_t)tr->batch + 255) / 256 * 256;
    }
    tr->inputs_bytes = in;
}

static void destroy_buffers(vkt_trainer *tr)
{
    for (int i = 0; i < TRAINER_MAX_PLANS; i++)
        if (tr->plans[i].used) {
            plan_free(&tr->plans[i].pl, tr->be);
            tr->plans[i].used = false;
        }
    rt_buffer *bufs[] = {tr->params, tr->grads, tr->opt_state, tr->inputs, tr->train_scalars, tr->eval_scalars,
                         tr->indices};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        rt_buffer_destroy(tr->be, bufs[i]);
    tr->params = tr->grads = tr->opt_state = tr->inputs = tr->train_scalars = tr->eval_scalars = NULL;
    tr->indices = NULL;
}

static vkt_status create_buffers(vkt_trainer *tr)
{
    rt_backend *be = tr->be;
    vkt_status st = rt_buffer_create(be, tr->params_bytes ? tr->params_bytes : 4, &tr->params);
    if (st == VKT_OK) /* without clipping, gradients live in each plan's arena */
        st = rt_buffer_create(be, trainer_grads_persistent(tr) && tr->grads_bytes ? tr->grads_bytes : 4, &tr->grads);
    if (st == VKT_OK)
        st = rt_buffer_create(be, tr->opt_bytes ? tr->opt_bytes : 4, &tr->opt_state);
    if (st == VKT_OK)
        st = rt_buffer_create(be, tr->inputs_bytes ? tr->inputs_bytes : 4, &tr->inputs);
    if (st == VKT_OK)
        st = rt_buffer_create(be, RT_SC_COUNT * 4, &tr->train_scalars);
    if (st == VKT_OK)
        st = rt_buffer_create(be, RT_SC_COUNT * 4, &tr->eval_scalars);
    if (st == VKT_OK)
        st = rt_buffer_create(be, tr->rows.index_bytes ? tr->rows.index_bytes : 4, &tr->indices);
    if (st == VKT_OK && tr->rows.index_bytes) /* constant for the trainer's life */
        st = rt_upload(be, tr->indices, 0, tr->rows.index, tr->rows.index_bytes);
    return st;
}

vkt_status trainer_upload_params(vkt_trainer *tr)
{
    const vkt_graph *g = tr->graph;
    for (int i = 0; i < g->param_count; i++) {
        vkt_status st = rt_upload(tr->be, tr->params, tr->param_offset[i], g->params[i].data, g->params[i].numel * 4);
        if (st != VKT_OK)
            return st;
    }
    return VKT_OK;
}

vkt_status trainer_download_params(vkt_trainer *tr)
{
    vkt_graph *g = tr->graph;
    for (int i = 0; i < g->param_count; i++) {
        param *p = &g->params[i];
        if (p->is_counter) {
            if (!tr->counter_frozen[i])
                p->data[0] += (float)tr->counter_steps; /* BN counts its training batches */
            continue;
        }
        vkt_status st = rt_download(tr->be, tr->params, tr->param_offset[i], p->data, p->numel * 4);
        if (st != VKT_OK)
            return st;
    }
    tr->counter_steps = 0;
    return VKT_OK;
}

/* Compiles the training step now and compares its plan with the budget. */
static vkt_status check_budget(vkt_trainer *tr, size_t budget)
{
    vkt_memory_report m;
    vkt_status st = vkt_trainer_memory(tr, &m);
    if (st != VKT_OK || m.total_bytes <= budget)
        return st;
    return rt_error(VKT_ERR_NO_MEMORY,
                    "the training step needs %zu bytes (weights %zu, gradients %zu, optimizer %zu, activations %zu, "
                    "inputs %zu), over the %zu-byte memory budget",
                    m.total_bytes, m.params_bytes, m.grads_bytes, m.optimizer_bytes, m.activations_bytes, m.io_bytes,
                    budget);
}

/* Batch norm layers that frozen statistics run like evaluation count
 * no training batches. */
static vkt_status mark_frozen_counters(vkt_trainer *tr)
{
    const vkt_graph *g = tr->graph;
    tr->counter_frozen = calloc((size_t)g->param_count + 1, sizeof *tr->counter_frozen);
    if (!tr->counter_frozen)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a trainer");
    for (int id = 0; tr->freeze_bn && id < g->node_count; id++) {
        const node *n = &g->nodes[id];
        if (n->kind == OP_BATCHNORM && !tr->trainable[n->params[0]])
            for (int k = 0; k < n->nparams; k++)
                tr->counter_frozen[n->params[k]] = g->params[n->params[k]].is_counter;
    }
    return VKT_OK;
}

vkt_status vkt_trainer_create(vkt_context *ctx, vkt_graph *graph, vkt_tensor loss, const vkt_trainer_options *options,
                              vkt_trainer **out)
{
    if (!out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainer_create: out is NULL");
    *out = NULL;
    if (!ctx || !graph || !options)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_trainer_create: context, graph and options are required");
    if (graph->error != VKT_OK)
        return rt_error(graph->error, "graph has a build error: %s", vkt_status_name(graph->error));
    if (loss < 0 || loss >= graph->node_count ||
        (graph->nodes[loss].kind != OP_SOFTMAX_CE && graph->nodes[loss].kind != OP_MSE))
        return rt_error(VKT_ERR_INVALID_ARG, "tensor %d is not a loss of this graph", loss);
    if (options->batch_size < 1 || options->batch_size > (1 << 20))
        return rt_error(VKT_ERR_INVALID_ARG, "batch size %d out of range 1..%d", options->batch_size, 1 << 20);
    if (options->micro_batch < 0)
        return rt_error(VKT_ERR_INVALID_ARG, "micro-batch %d must be >= 0", options->micro_batch);
    if (options->trainable && options->trainable->policy == VKT_TRAIN_AUTO)
        return trainer_create_auto(ctx, graph, loss, options, out);

    vkt_trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating a trainer");
    tr->ctx = ctx;
    tr->be = ctx->backend;
    tr->graph = graph;
    tr->loss = loss;
    tr->opt = options->optimizer;
    tr->batch = options->batch_size;
    tr->seed = options->seed;
    tr->recoverable = options->recoverable;
    tr->fp16_activations = options->fp16_activations;
    tr->recompute = options->recompute;
    tr->freeze_bn = options->freeze_bn_stats;
    tr->frozen_chunk = options->frozen_chunk;
    tr->micro_batch = options->micro_batch;
    tr->policy = options->trainable ? *options->trainable : (vkt_trainable_set){.policy = VKT_TRAIN_ALL};
    tr->policy.names = NULL; /* the caller's array need not outlive this call */
    vkt_status st = optimizer_config_check(&tr->opt);
    if (st == VKT_OK)
        st = layout_buffers(tr);
    if (st == VKT_OK)
        st = policy_resolve(graph, options->trainable, tr->trainable);
    if (st == VKT_OK)
        st = policy_select_rows(graph, options->trainable, tr->trainable, &tr->rows);
    if (st == VKT_OK)
        st = mark_frozen_counters(tr);
    if (st == VKT_OK) {
        tr->opt_states = optimizer_state_count(&tr->opt);
        assign_offsets(tr);
        find_input_limits(tr);
        st = create_buffers(tr);
    }
    if (st == VKT_OK)
        st = trainer_upload_params(tr);
    if (st == VKT_OK && options->memory_budget > 0)
        st = check_budget(tr, options->memory_budget);
    if (st == VKT_OK && trainer_micro_batched(tr, tr->batch)) {
        vkt_memory_report m; /* compiles the step: a graph micro-batches cannot run fails here */
        st = vkt_trainer_memory(tr, &m);
    }
    if (st != VKT_OK) {
        vkt_trainer_destroy(tr);
        return st;
    }
    *out = tr;
    return VKT_OK;
}

void vkt_trainer_destroy(vkt_trainer *tr)
{
    if (!tr)
        return;
    destroy_buffers(tr);
    free(tr->snap_params);
    free(tr->snap_opt);
    free(tr->trainable);
    free(tr->counter_frozen);
    row_selection_free(&tr->rows);
    free(tr->param_offset);
    free(tr->grad_offset);
    free(tr->opt_offset);
    free(tr);
}

/* Chunks of fewer samples save little more memory (the boundary values
 * stay whole) but multiply small launches: on the cnn, 4-sample chunks
 * step as fast as the whole batch, 1-sample chunks 30% slower. */
#define MIN_AUTO_CHUNK 4

/* Compiles `req` with and without recomputation when it asks for it, and
 * with the frozen prefix in ever smaller chunks (down to MIN_AUTO_CHUNK)
 * when the trainer lets the compiler choose; keeps the plan with the
 * smallest arena (ties, and chunks that save under 10% of the step's
 * planned memory, go to the plan with fewer launches). */
static vkt_status compile_smallest(const vkt_trainer *tr, compile_request req, plan *out)
{
    int chunks[8] = {0}, nchunks = 1;
    /* A step in micro-batches runs every layer a few samples at a time already. */
    bool prefix = req.training && !(req.micro_batch > 0 && req.micro_batch < req.batch);
    if (prefix && tr->frozen_chunk > 0)
        chunks[0] = tr->frozen_chunk;
    else if (prefix && tr->frozen_chunk == 0)
        for (int c = req.batch / 2; c >= MIN_AUTO_CHUNK && nchunks < 8; c /= 2)
            chunks[nchunks++] = c;
    /* Gains count against the whole step, not just the arena: saving a
     * tenth of the mlp's tiny arena would cost 4x its step time. */
    size_t fixed = tr->params_bytes + tr->opt_bytes + tr->inputs_bytes;
    if (trainer_grads_persistent(tr))
        fixed += tr->grads_bytes;
    bool have = false;
    vkt_status st = VKT_OK;
    for (int r = req.recompute ? 1 : 0; r >= 0 && st == VKT_OK; r--) {
        for (int k = 0; k < nchunks; k++) {
            plan cand;
            compile_request q = req;
            q.recompute = r;
            q.prefix_chunk = chunks[k];
            st = compile_plan(&cand, &q);
            if (st != VKT_OK) {
                plan_free(&cand, NULL); /* what planning had allocated */
                break;
            }
            bool chunked = cand.chunk_local != NULL;
            size_t now = fixed + cand.arena_bytes, best = have ? fixed + out->arena_bytes : 0;
            bool better = !have || (r && tr->force_recompute) ||
                          (chunks[k] == 0 ? now <= best : chunked && now * 10 <= best * 9);
            if (!have || better) {
                if (have)
                    plan_free(out, NULL);
                *out = cand;
                have = true;
            } else {
                plan_free(&cand, NULL);
            }
            if (chunks[k] != 0 && !chunked)
                break; /* no frozen prefix: smaller chunks change nothing */
        }
        if (r && tr->force_recompute)
            break;
    }
    if (st != VKT_OK && have)
        plan_free(out, NULL);
    return st;
}

/* The plan for (batch, mode), compiled on first use. Full-batch plans
 * stay; a partial-batch plan replaces the previous partial one. */
static vkt_status get_plan(vkt_trainer *tr, int batch, bool training, plan **out)
{
    cached_plan *free_slot = NULL, *partial = NULL;
    for (int i = 0; i < TRAINER_MAX_PLANS; i++) {
        cached_plan *c = &tr->plans[i];
        if (!c->used) {
            if (!free_slot)
                free_slot = c;
            continue;
        }
        if (c->batch == batch && c->training == training) {
            *out = &c->pl;
            return VKT_OK;
        }
        if (c->batch != tr->batch && c->training == training)
            partial = c;
    }
    cached_plan *c = free_slot ? free_slot : partial;
    if (!c)
        return rt_error(VKT_ERR_STATE, "internal: no plan slot free");
    if (c->used) {
        plan_free(&c->pl, tr->be);
        c->used = false;
    }
    /* Recomputation pays only where the recomputed values' inputs are
     * kept anyway (conv -> bn -> relu): compile_smallest decides. */
    compile_request req = {tr->graph, tr->loss, batch, training, tr->trainable, &tr->opt, false, -1,
                           tr->fp16_activations, tr->rows.rows_k, tr->recompute && training, tr->plain_memory, 0,
                           tr->freeze_bn, 0, training ? tr->micro_batch : 0};
    vkt_status st = compile_smallest(tr, req, &c->pl);
    plan_bindings b = {tr->params, tr->grads, tr->opt_state, tr->inputs,
                       training ? tr->train_scalars : tr->eval_scalars,
                       tr->param_offset, tr->grad_offset, tr->opt_offset, tr->input_offset, tr->grads_bytes,
                       tr->indices, tr->rows.index_offset};
    if (st == VKT_OK)
        st = plan_build_program(&c->pl, tr->be, &b);
    if (st != VKT_OK) {
        plan_free(&c->pl, tr->be);
        return st;
    }
    c->used = true;
    c->batch = batch;
    c->training = training;
    *out = &c->pl;
    return VKT_OK;
}

static vkt_status upload_inputs(vkt_trainer *tr, const void *const *inputs, int count)
{
    const vkt_graph *g = tr->graph;
    if (!inputs)
        return rt_error(VKT_ERR_INVALID_ARG, "inputs is NULL");
    for (int k = 0; k < g->input_count; k++) {
        if (!inputs[k])
            return rt_error(VKT_ERR_INVALID_ARG, "input %d ('%s') is NULL", k,
                            g->nodes[g->inputs[k]].name ? g->nodes[g->inputs[k]].name : "?");
        size_t n = tr->input_sample_bytes[k] / 4 * (size_t)count;
        if (tr->input_limit[k] > 0) {
            const int32_t *v = inputs[k];
            for (size_t i = 0; i < n; i++)
                if (v[i] < 0 || v[i] >= tr->input_limit[k])
                    return rt_error(VKT_ERR_INVALID_ARG, "input '%s' value %d at %zu is outside [0, %d)",
                                    g->nodes[g->inputs[k]].name ? g->nodes[g->inputs[k]].name : "?", v[i], i,
                                    tr->input_limit[k]);
        }
        vkt_status st = rt_upload(tr->be, tr->inputs, tr->input_offset[k], inputs[k], n * 4);
        if (st != VKT_OK)
            return st;
    }
    return VKT_OK;
}

static uint32_t step_seed(uint64_t seed, int64_t step)
{
    uint64_t z = seed ^ ((uint64_t)step * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(z ^ (z >> 31));
}

static vkt_status check_count(const vkt_trainer *tr, int count)
{
    if (count < 1 || count > tr->batch)
        return rt_error(VKT_ERR_INVALID_ARG, "batch of %d samples outside 1..%d", count, tr->batch);
    return VKT_OK;
}

/* Checks shared by step and evaluation, then the plan for the batch. */
vkt_status trainer_begin_run(vkt_trainer *tr, int count, bool training, plan **pl)
{
    if (!tr)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer is NULL");
    if (tr->device_failed)
        return rt_error(VKT_ERR_STATE, "the trainer's device failed: move it with vkt_trainer_migrate() first");
    vkt_status st = check_count(tr, count);
    return st == VKT_OK ? get_plan(tr, count, training, pl) : st;
}

/* Host copy of the state as of now (the previous step has completed:
 * downloads wait for it). */
static vkt_status take_snapshot(vkt_trainer *tr)
{
    if (!tr->snap_params) {
        tr->snap_params = malloc(tr->params_bytes ? tr->params_bytes : 4);
        tr->snap_opt = malloc(tr->opt_bytes ? tr->opt_bytes : 4);
        if (!tr->snap_params || !tr->snap_opt)
            return rt_error(VKT_ERR_NO_MEMORY, "out of memory for the recovery snapshot");
    }
    vkt_status st = rt_download(tr->be, tr->params, 0, tr->snap_params, tr->params_bytes);
    if (st == VKT_OK && tr->opt_bytes)
        st = rt_download(tr->be, tr->opt_state, 0, tr->snap_opt, tr->opt_bytes);
    if (st == VKT_OK) {
        tr->snap_step = tr->step;
        tr->snap_counter_steps = tr->counter_steps;
        tr->snap_valid = true;
    }
    return st;
}

/* A device error inside a step: remember it and say how to go on. */
static vkt_status device_failed(vkt_trainer *tr, vkt_status st)
{
    if (st != VKT_ERR_DEVICE)
        return st;
    tr->device_failed = true;
    char cause[400];
    snprintf(cause, sizeof cause, "%s", rt_error_message());
    if (tr->recoverable && tr->snap_valid)
        return rt_error(st, "%s during step %lld; the state after step %lld is kept: continue with "
                        "vkt_trainer_migrate()", cause, (long long)tr->step + 1, (long long)tr->snap_step);
    return rt_error(st, "%s during step %lld (the trainer was not created recoverable: the weights since the "
                    "last checkpoint are lost)", cause, (long long)tr->step + 1);
}

vkt_status vkt_trainer_step(vkt_trainer *tr, const void *const *inputs, int count)
{
    return trainer_run_step(tr, inputs, count, NULL);
}

vkt_status trainer_run_step(vkt_trainer *tr, const void *const *inputs, int count, uint64_t *launch_ns)
{
    plan *pl = NULL;
    vkt_status st = trainer_begin_run(tr, count, true, &pl);
    if (st == VKT_OK && tr->recoverable)
        st = take_snapshot(tr);
    if (st == VKT_OK)
        st = upload_inputs(tr, inputs, count);
    if (st != VKT_OK)
        return device_failed(tr, st);
    uint32_t sc[RT_SC_BIAS_CORR2 + 1] = {0};
    optimizer_step_scalars(&tr->opt, tr->step, step_seed(tr->seed, tr->step), sc);
    st = rt_upload(tr->be, tr->train_scalars, 0, sc, sizeof sc);
    if (st == VKT_OK)
        st = launch_ns ? rt_program_profile(tr->be, pl->program, launch_ns) : rt_program_run(tr->be, pl->program);
    if (st != VKT_OK)
        return device_failed(tr, st);
    tr->step++;
    tr->counter_steps++;
    return VKT_OK;
}

vkt_status vkt_trainer_migrate(vkt_trainer *tr, vkt_context *ctx)
{
    if (!tr || !ctx)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer and context are required");
    if (tr->device_failed && !(tr->recoverable && tr->snap_valid))
        return rt_error(VKT_ERR_STATE, "the device failed and the trainer kept no snapshot (create it recoverable)");
    if (!tr->device_failed) {
        vkt_status st = take_snapshot(tr); /* the current state becomes the one to move */
        if (st != VKT_OK)
            return st;
    }
    destroy_buffers(tr); /* on a lost device this only releases handles */
    tr->ctx = ctx;
    tr->be = ctx->backend;
    vkt_status st = create_buffers(tr);
    if (st == VKT_OK)
        st = rt_upload(tr->be, tr->params, 0, tr->snap_params, tr->params_bytes);
    if (st == VKT_OK && tr->opt_bytes)
        st = rt_upload(tr->be, tr->opt_state, 0, tr->snap_opt, tr->opt_bytes);
    if (st != VKT_OK) {
        tr->device_failed = true; /* still recoverable from the snapshot */
        return st;
    }
    tr->step = tr->snap_step;
    tr->counter_steps = tr->snap_counter_steps;
    tr->device_failed = false;
    return VKT_OK;
}

vkt_status vkt_trainer_eval_batch(vkt_trainer *tr, const void *const *inputs, int count)
{
    plan *pl = NULL;
    vkt_status st = trainer_begin_run(tr, count, false, &pl);
    if (st == VKT_OK)
        st = upload_inputs(tr, inputs, count);
    if (st == VKT_OK)
        st = rt_program_run(tr->be, pl->program);
    return device_failed(tr, st);
}

static vkt_status read_metrics(vkt_trainer *tr, rt_buffer *sc_buf, vkt_metrics *out)
{
    if (!tr || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer and out are required");
    union { float f; uint32_t u; } sc[RT_SC_COUNT];
    vkt_status st = rt_download(tr->be, sc_buf, 0, sc, sizeof sc);
    if (st != VKT_OK)
        return st;
    uint32_t samples = sc[RT_SC_SAMPLES].u;
    out->samples = samples;
    out->loss_mean = samples ? (double)sc[RT_SC_LOSS_SUM].f / samples : 0;
    out->accuracy = samples ? (double)sc[RT_SC_CORRECT].u / samples : 0;
    out->last_loss = sc[RT_SC_LOSS].f;
    out->grad_norm = sc[RT_SC_GRAD_NORM].f;
    uint32_t zero[3] = {0, 0, 0}; /* LOSS_SUM, CORRECT, SAMPLES */
    return rt_upload(tr->be, sc_buf, RT_SC_LOSS_SUM * 4, zero, sizeof zero);
}

vkt_status vkt_trainer_read_train_metrics(vkt_trainer *tr, vkt_metrics *out)
{
    return read_metrics(tr, tr ? tr->train_scalars : NULL, out);
}

vkt_status vkt_trainer_read_eval_metrics(vkt_trainer *tr, vkt_metrics *out)
{
    return read_metrics(tr, tr ? tr->eval_scalars : NULL, out);
}

int64_t vkt_trainer_step_count(const vkt_trainer *tr)
{
    return tr ? tr->step : 0;
}

float vkt_trainer_current_lr(const vkt_trainer *tr)
{
    return tr ? (float)schedule_lr(&tr->opt, tr->step) : 0.0f;
}

vkt_status vkt_trainer_sync_weights(vkt_trainer *tr)
{
    if (!tr)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer is NULL");
    return trainer_download_params(tr);
}

vkt_status vkt_trainer_memory(const vkt_trainer *tr, vkt_memory_report *out)
{
    if (!tr || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer and out are required");
    memset(out, 0, sizeof *out);
    out->params_bytes = tr->params_bytes;
    out->grads_bytes = trainer_grads_persistent(tr) ? tr->grads_bytes : 0;
    out->trained_params = tr->grads_bytes / sizeof(float);
    out->optimizer_bytes = tr->opt_bytes;
    out->io_bytes = tr->inputs_bytes + 2 * RT_SC_COUNT * 4;
    /* The full-batch training plan is what a step needs; plan it now if
     * no step has run yet (compile once, reused by the first step). */
    plan *pl = NULL;
    vkt_status st = get_plan((vkt_trainer *)tr, tr->batch, true, &pl);
    if (st != VKT_OK)
        return st;
    out->activations_bytes = pl->arena_bytes;
    out->total_bytes = out->params_bytes + out->grads_bytes + out->optimizer_bytes + out->io_bytes +
                       out->activations_bytes;
    return VKT_OK;
}

vkt_status vkt_trainer_policy(const vkt_trainer *tr, vkt_trainable_set *out)
{
    if (!tr || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "trainer and out are required");
    *out = tr->policy;
    return VKT_OK;
}
