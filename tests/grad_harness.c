#include "grad_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/compile/compile.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

bool gh_plain_memory;
size_t gh_col_chunk_bytes;
bool gh_freeze_bn;
int gh_prefix_chunk;

typedef struct gh_buffers {
    rt_buffer *params, *grads, *opt, *inputs, *scalars;
    size_t *param_off, *grad_off, *opt_off;
    size_t input_off[NODE_MAX_INPUTS];
    size_t grads_bytes;
} gh_buffers;

static void free_buffers(rt_backend *be, gh_buffers *b)
{
    rt_buffer_destroy(be, b->params);
    rt_buffer_destroy(be, b->grads);
    rt_buffer_destroy(be, b->opt);
    rt_buffer_destroy(be, b->inputs);
    rt_buffer_destroy(be, b->scalars);
    free(b->param_off);
    free(b->grad_off);
    free(b->opt_off);
}

static int setup(rt_backend *be, const vkt_graph *g, int batch, const void *const *inputs, uint32_t seed,
                 gh_buffers *b)
{
    memset(b, 0, sizeof *b);
    size_t np = (size_t)g->param_count + 1;
    b->param_off = calloc(np, sizeof(size_t));
    b->grad_off = calloc(np, sizeof(size_t));
    b->opt_off = calloc(np, sizeof(size_t));
    size_t p = 0, gr = 0;
    for (int i = 0; i < g->param_count; i++) {
        b->param_off[i] = p;
        p += (g->params[i].numel * 4 + 255) / 256 * 256;
        b->opt_off[i] = SIZE_MAX;
        b->grad_off[i] = SIZE_MAX;
        if (!g->params[i].is_state) {
            b->grad_off[i] = gr;
            gr += g->params[i].numel * 4;
        }
    }
    b->grads_bytes = gr;
    size_t in = 0;
    for (int k = 0; k < g->input_count; k++) {
        b->input_off[k] = in;
        in += (g->nodes[g->inputs[k]].numel * 4 * (size_t)batch + 255) / 256 * 256;
    }
    if (rt_buffer_create(be, p + 4, &b->params) || rt_buffer_create(be, gr + 4, &b->grads) ||
        rt_buffer_create(be, 4, &b->opt) || rt_buffer_create(be, in + 4, &b->inputs) ||
        rt_buffer_create(be, RT_SC_COUNT * 4, &b->scalars))
        return -1;
    for (int i = 0; i < g->param_count; i++)
        rt_upload(be, b->params, b->param_off[i], g->params[i].data, g->params[i].numel * 4);
    for (int k = 0; k < g->input_count; k++)
        rt_upload(be, b->inputs, b->input_off[k], inputs[k], g->nodes[g->inputs[k]].numel * 4 * (size_t)batch);
    uint32_t sc[RT_SC_COUNT] = {0};
    sc[RT_SC_SEED] = seed;
    sc[RT_SC_STEP] = 1;
    rt_upload(be, b->scalars, 0, sc, sizeof sc);
    return 0;
}

/* Under gh_freeze_bn, batch norm weights are frozen (that mode's rule). */
static bool frozen_bn_weight(const vkt_graph *g, int param)
{
    for (int id = 0; gh_freeze_bn && id < g->node_count; id++)
        if (g->nodes[id].kind == OP_BATCHNORM && g->nodes[id].params[0] == param)
            return true;
    return false;
}

static int run_plan(rt_backend *be, const vkt_graph *g, int loss, int batch, bool backward,
                    const void *const *inputs, int probe, uint32_t seed, const bool *mask, plan *pl, gh_buffers *b)
{
    bool *trainable = calloc((size_t)g->param_count + 1, sizeof(bool));
    for (int i = 0; i < g->param_count; i++)
        trainable[i] = !g->params[i].is_state && (!mask || mask[i]);
    for (int i = 0; i < g->param_count; i++)
        trainable[i] = trainable[i] && !frozen_bn_weight(g, i);
    compile_request req = {g, loss, batch, true, trainable, NULL, backward, probe, false, NULL, false, gh_plain_memory,
                           gh_col_chunk_bytes, gh_freeze_bn, gh_prefix_chunk, 0};
    int rc = -1;
    if (setup(be, g, batch, inputs, seed, b) == 0 && compile_plan(pl, &req) == VKT_OK) {
        plan_bindings pb = {b->params, b->grads, b->opt, b->inputs, b->scalars, b->param_off, b->grad_off,
                            b->opt_off, b->input_off, b->grads_bytes, NULL, NULL};
        if (plan_build_program(pl, be, &pb) == VKT_OK && rt_program_run(be, pl->program) == VKT_OK)
            rc = 0;
    }
    pl->trainable = NULL;
    free(trainable);
    return rc;
}

static double read_loss(rt_backend *be, gh_buffers *b)
{
    float sc[RT_SC_COUNT];
    rt_download(be, b->scalars, 0, sc, sizeof sc);
    return sc[RT_SC_LOSS];
}

double gh_loss(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs, uint32_t seed)
{
    plan pl;
    gh_buffers b;
    double l = NAN;
    /* A training plan (batch norm uses batch statistics, dropout its
     * mask) without an optimizer, so the weights never move. */
    if (run_plan(be, g, loss, batch, false, inputs, -1, seed, NULL, &pl, &b) == 0)
        l = read_loss(be, &b);
    plan_free(&pl, be);
    free_buffers(be, &b);
    return l;
}

static int run_masked(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs, int probe,
                      uint32_t seed, const bool *mask, grad_result *out)
{
    memset(out, 0, sizeof *out);
    plan pl;
    gh_buffers b;
    int rc = run_plan(be, g, loss, batch, true, inputs, probe, seed, mask, &pl, &b);
    if (rc == 0) {
        out->loss = read_loss(be, &b);
        out->param_grads = calloc((size_t)g->param_count + 1, sizeof(float *));
        out->input_grads = calloc((size_t)g->input_count + 1, sizeof(float *));
        for (int i = 0; i < g->param_count; i++) {
            if (pl.param_grad_slot[i] < 0)
                continue;
            out->param_grads[i] = malloc(g->params[i].numel * 4);
            rt_download(be, b.grads, b.grad_off[i], out->param_grads[i], g->params[i].numel * 4);
        }
        for (int k = 0; k < g->input_count; k++) {
            int id = g->inputs[k], s = pl.grad_slot[id];
            if (s < 0)
                continue;
            size_t bytes = g->nodes[id].numel * 4 * (size_t)batch;
            out->input_grads[k] = malloc(bytes);
            rt_download(be, pl.arena, pl.slots[s].offset, out->input_grads[k], bytes);
        }
        if (probe >= 0) {
            int id = probe;
            while (pl.alias_of[id] >= 0)
                id = pl.alias_of[id];
            const slot *s = &pl.slots[pl.value_slot[id]];
            size_t bytes = g->nodes[probe].numel * 4 * (size_t)batch;
            out->output = malloc(bytes);
            if (s->kind == SLOT_INPUT)
                rt_download(be, b.inputs, b.input_off[s->index], out->output, bytes);
            else
                rt_download(be, pl.arena, s->offset, out->output, bytes);
        }
    }
    plan_free(&pl, be);
    free_buffers(be, &b);
    return rc;
}

int gh_run(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs, int probe,
           uint32_t seed, grad_result *out)
{
    return run_masked(be, g, loss, batch, inputs, probe, seed, NULL, out);
}

int gh_run_trainable(rt_backend *be, const vkt_graph *g, int loss, int batch, const void *const *inputs,
                     const bool *trainable, grad_result *out)
{
    return run_masked(be, g, loss, batch, inputs, -1, 7, trainable, out);
}

void gh_free(const vkt_graph *g, grad_result *r)
{
    for (int i = 0; r->param_grads && i < g->param_count; i++)
        free(r->param_grads[i]);
    for (int k = 0; r->input_grads && k < g->input_count; k++)
        free(r->input_grads[k]);
    free(r->param_grads);
    free(r->input_grads);
    free(r->output);
    memset(r, 0, sizeof *r);
}

static double check_tensor(rt_backend *be, vkt_graph *g, int loss, int batch, void **inputs, float *x, size_t n,
                           const float *grad, double eps, double atol, double rtol, int max_n, const char *what)
{
    double worst = 0;
    size_t stride = n > (size_t)max_n ? n / (size_t)max_n : 1;
    for (size_t i = 0; i < n; i += stride) {
        float saved = x[i];
        x[i] = (float)(saved + eps);
        double lp = gh_loss(be, g, loss, batch, (const void *const *)inputs, 7);
        x[i] = (float)(saved - eps);
        double lm = gh_loss(be, g, loss, batch, (const void *const *)inputs, 7);
        x[i] = saved;
        double fd = (lp - lm) / (2 * eps);
        double an = grad ? grad[i] : 0.0;
        double ratio = fabs(fd - an) / (atol + rtol * fabs(an));
        if (ratio > 1)
            fprintf(stderr, "  %s[%zu]: analytic %.6g, numeric %.6g\n", what, i, an, fd);
        if (!(ratio <= worst))
            worst = isnan(ratio) ? INFINITY : ratio;
    }
    return worst;
}

double gh_check(rt_backend *be, vkt_graph *g, int loss, int batch, void **inputs, double eps, double atol,
                double rtol, int max_per_tensor, const char *label)
{
    grad_result r;
    if (gh_run(be, g, loss, batch, (const void *const *)inputs, -1, 7, &r) != 0)
        return INFINITY;
    double worst = 0;
    char what[160];
    for (int i = 0; i < g->param_count; i++) {
        if (g->params[i].is_state || frozen_bn_weight(g, i))
            continue;
        snprintf(what, sizeof what, "%s %s", label, g->params[i].name);
        double w = check_tensor(be, g, loss, batch, inputs, g->params[i].data, g->params[i].numel,
                                r.param_grads[i], eps, atol, rtol, max_per_tensor, what);
        worst = fmax(worst, w);
    }
    for (int k = 0; k < g->input_count; k++) {
        const node *n = &g->nodes[g->inputs[k]];
        if (n->dtype != VKT_F32 || !r.input_grads[k])
            continue;
        snprintf(what, sizeof what, "%s input %d", label, k);
        double w = check_tensor(be, g, loss, batch, inputs, inputs[k], n->numel * (size_t)batch, r.input_grads[k],
                                eps, atol, rtol, max_per_tensor, what);
        worst = fmax(worst, w);
    }
    gh_free(g, &r);
    return worst;
}

const plan *gh_training_plan(vkt_trainer *tr)
{
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK); /* compiles the step */
    for (int i = 0; i < TRAINER_MAX_PLANS; i++)
        if (tr->plans[i].used && tr->plans[i].training && tr->plans[i].batch == tr->batch)
            return &tr->plans[i].pl;
    fail_msg("no training plan");
    return NULL;
}

int gh_count_kernels(const plan *pl, rt_kernel k)
{
    int c = 0;
    for (int i = 0; i < pl->launch_count; i++)
        c += pl->launches[i].kernel == k;
    return c;
}
