/* Optimizer configuration and emission. Update rules themselves are
 * kernels (RT_K_SGD, RT_K_ADAMW); the host only supplies per-step
 * scalars (learning rate, step number, Adam's bias corrections) so the
 * recorded program never changes. */
#include "optimizer.h"

#include <math.h>
#include <string.h>

#include "runtime/rt_error.h"

vkt_status optimizer_config_check(vkt_optimizer_config *c)
{
    if (c->kind != VKT_OPT_SGD && c->kind != VKT_OPT_ADAMW)
        return rt_error(VKT_ERR_INVALID_ARG, "unknown optimizer kind %d", (int)c->kind);
    if (c->kind == VKT_OPT_ADAMW) {
        if (c->beta1 == 0 && c->beta2 == 0 && c->eps == 0) {
            c->beta1 = 0.9f;
            c->beta2 = 0.999f;
            c->eps = 1e-8f;
        }
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0))
            return rt_error(VKT_ERR_INVALID_ARG, "adamw: betas must be in [0, 1) and eps > 0");
    }
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return rt_error(VKT_ERR_INVALID_ARG, "learning rate %g must be finite and >= 0", (double)c->lr);
    if (!(c->weight_decay >= 0) || !(c->momentum >= 0) || !(c->dampening >= 0) || !(c->clip_grad_norm >= 0))
        return rt_error(VKT_ERR_INVALID_ARG, "weight decay, momentum, dampening and clip norm must be >= 0");
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return rt_error(VKT_ERR_INVALID_ARG, "nesterov momentum requires momentum > 0 and zero dampening");
    const vkt_schedule *s = &c->schedule;
    switch (s->kind) {
    case VKT_SCHED_CONSTANT: break;
    case VKT_SCHED_STEP:
        if (s->step_size < 1 || !(s->gamma > 0))
            return rt_error(VKT_ERR_INVALID_ARG, "step schedule needs step_size >= 1 and gamma > 0");
        break;
    case VKT_SCHED_COSINE:
        if (s->total_steps < 1 || s->warmup_steps < 0 || s->warmup_steps > s->total_steps || !(s->min_lr >= 0))
            return rt_error(VKT_ERR_INVALID_ARG,
                            "cosine schedule needs total_steps >= 1, 0 <= warmup_steps <= total_steps, min_lr >= 0");
        break;
    default: return rt_error(VKT_ERR_INVALID_ARG, "unknown schedule kind %d", (int)s->kind);
    }
    return VKT_OK;
}

int optimizer_state_count(const vkt_optimizer_config *c)
{
    if (c->kind == VKT_OPT_ADAMW)
        return 2;
    return c->momentum > 0 ? 1 : 0;
}

const char *optimizer_state_name(const vkt_optimizer_config *c, int which)
{
    if (c->kind == VKT_OPT_ADAMW)
        return which == 0 ? "exp_avg" : "exp_avg_sq";
    return "momentum_buffer";
}

void optimizer_emit_param(emit_ctx *e, const vkt_optimizer_config *c, int pi)
{
    const vkt_graph *g = e->graph;
    bool clip = c->clip_grad_norm > 0;
    if (!ec_param_trainable(e, pi) || e->param_grad_slot[pi] < 0)
        return; /* frozen, or unreachable from the loss: torch skips grad-less params too */
    int count = (int)ec_param_grad_numel(e, pi), acc;
    int grad = ec_param_grad(e, pi, &acc);
    /* Profiles count the update to the parameter's layer. */
    int label = e->label_node;
    plan_phase phase = e->label_phase;
    e->label_node = g->params[pi].node;
    e->label_phase = PLAN_OPTIMIZER;
    /* A partial parameter is updated through a compact copy of its
     * trained rows, scattered back afterwards. */
    int weight = ec_param(e, pi), target = weight;
    rt_params rows = rt_params_zero();
    if (ec_param_rows(e, pi)) {
        rows.i[0] = 1, rows.i[1] = (int)g->params[pi].dims[0], rows.i[2] = ec_param_rows(e, pi);
        rows.i[3] = (int)(g->params[pi].numel / (size_t)g->params[pi].dims[0]);
        target = ec_temp(e, (size_t)count * 4);
        int gather[3] = {weight, ec_param_index(e, pi), target};
        ec_emit(e, RT_K_GATHER_ROWS, &rows, 3, gather);
    }
    rt_params p = rt_params_zero();
    p.i[0] = count;
    if (c->kind == VKT_OPT_SGD) {
        bool mom = c->momentum > 0;
        p.i[1] = mom, p.i[2] = c->nesterov, p.i[3] = clip;
        p.f[0] = c->momentum, p.f[1] = c->dampening, p.f[2] = c->weight_decay;
        int slots[4] = {target, grad, mom ? ec_opt_state(e, pi, 0) : -1, ec_scalars(e)};
        ec_emit(e, RT_K_SGD, &p, 4, slots);
    } else {
        p.i[1] = clip;
        p.f[0] = c->beta1, p.f[1] = c->beta2, p.f[2] = c->eps, p.f[3] = c->weight_decay;
        int slots[5] = {target, grad, ec_opt_state(e, pi, 0), ec_opt_state(e, pi, 1), ec_scalars(e)};
        ec_emit(e, RT_K_ADAMW, &p, 5, slots);
    }
    if (target != weight) {
        int scatter[3] = {target, ec_param_index(e, pi), weight};
        ec_emit(e, RT_K_SCATTER_ROWS, &rows, 3, scatter);
    }
    e->label_node = label;
    e->label_phase = phase;
}

void optimizer_emit(emit_ctx *e, const vkt_optimizer_config *c)
{
    const vkt_graph *g = e->graph;
    bool clip = c->clip_grad_norm > 0;
    if (clip) {
        /* The trainer lays out one gradient per trainable parameter,
         * back to back: the norm runs over that whole range. */
        size_t total = 0;
        for (int pi = 0; pi < g->param_count; pi++)
            if (ec_param_trainable(e, pi))
                total += ec_param_grad_numel(e, pi);
        rt_params p = rt_params_zero();
        p.i[0] = (int)total;
        p.f[0] = c->clip_grad_norm;
        int slots[2] = {ec_grads_all(e), ec_scalars(e)};
        ec_emit(e, RT_K_GRAD_NORM, &p, 2, slots);
    }
    for (int pi = 0; pi < g->param_count; pi++)
        optimizer_emit_param(e, c, pi);
}

double schedule_lr(const vkt_optimizer_config *c, int64_t step)
{
    const vkt_schedule *s = &c->schedule;
    double lr = c->lr;
    switch (s->kind) {
    case VKT_SCHED_CONSTANT: return lr;
    case VKT_SCHED_STEP: return lr * pow((double)s->gamma, (double)(step / s->step_size));
    case VKT_SCHED_COSINE:
        if (step < s->warmup_steps)
            return lr * (double)(step + 1) / (double)s->warmup_steps;
        if (step >= s->total_steps)
            return s->min_lr;
        {
            double t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
            return s->min_lr + (lr - s->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * t));
        }
    }
    return lr;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

void optimizer_step_scalars(const vkt_optimizer_config *c, int64_t step, uint32_t seed, uint32_t *sc)
{
    int64_t t = step + 1; /* torch counts steps from 1 */
    sc[RT_SC_LR] = f32_bits((float)schedule_lr(c, step));
    sc[RT_SC_STEP] = (uint32_t)(t > UINT32_MAX ? UINT32_MAX : t);
    sc[RT_SC_SEED] = seed;
    if (c->kind == VKT_OPT_ADAMW) {
        sc[RT_SC_BIAS_CORR1] = f32_bits((float)(1.0 - pow((double)c->beta1, (double)t)));
        sc[RT_SC_BIAS_CORR2] = f32_bits((float)(1.0 - pow((double)c->beta2, (double)t)));
    }
}
