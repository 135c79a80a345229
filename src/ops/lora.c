/* LoRA adapters on linear and 1x1 convolution layers.
 *
 * y = W x + b + s * B (A x), s = alpha / rank, W frozen, A and B trained.
 * Forward keeps u = s * (A x) (rank values per output position, small)
 * for the gradient of B; backward:
 *   dB = dY u^T,  dt = s * (B^T dY),  dA = dt x^T,  dX += A^T dt.
 * Two layouts share the algebra: a linear layer's rows ([rows, in], one
 * problem) and a 1x1 convolution's per-image planes ([in, HW] per image,
 * batched GEMMs, weight gradients summed over the batch). */
#include <math.h>
#include <string.h>

#include "lora.h"
#include "runtime/rt_error.h"

enum { SAVED_LORA_U = 3 }; /* saved-tensor tag, free in both host ops */

/* ---- graph side ---- */

static bool conv_is_pointwise(const node *n)
{
    /* iattr of conv2d: 3 KH, 4 KW, 5 SH, 6 SW, 7 PH, 8 PW, 11 groups */
    const int *a = n->iattr;
    return a[3] == 1 && a[4] == 1 && a[5] == 1 && a[6] == 1 && a[7] == 0 && a[8] == 0 && a[11] == 1;
}

static bool lora_eligible(const node *n)
{
    return n->kind == OP_LINEAR || (n->kind == OP_CONV2D && conv_is_pointwise(n));
}

static int find_layer(const vkt_graph *g, const char *layer)
{
    for (int id = 0; id < g->node_count; id++)
        if (g->nodes[id].name && strcmp(g->nodes[id].name, layer) == 0 && g->nodes[id].nparams > 0)
            return id;
    return -1;
}

static vkt_status attach(vkt_graph *g, int id, int rank, float alpha)
{
    node *n = &g->nodes[id];
    const param *w = &g->params[n->params[0]];
    int64_t out = w->dims[0], in = w->dims[1];
    bool conv = n->kind == OP_CONV2D;
    int64_t adims[4] = {rank, in, 1, 1}, bdims[4] = {out, rank, 1, 1};
    int a = graph_add_param(g, n->name, "lora_A.weight", conv ? 4 : 2, adims, false);
    int b = a >= 0 ? graph_add_param(g, n->name, "lora_B.weight", conv ? 4 : 2, bdims, false) : -1;
    if (b < 0)
        return g->error;
    n = &g->nodes[id];
    g->params[a].node = g->params[b].node = id;
    g->params[a].is_adapter = g->params[b].is_adapter = true;
    /* PEFT: A as a Linear(in, rank) weight (kaiming-uniform, a = sqrt 5),
     * B zero, so the adapted layer starts as the base layer. */
    init_uniform(g, g->params[a].data, g->params[a].numel, 1.0f / sqrtf((float)in));
    n->params[n->nparams++] = a;
    n->params[n->nparams++] = b;
    n->lora_rank = rank;
    n->lora_a = a;
    n->lora_b = b;
    n->lora_scale = alpha / (float)rank;
    return VKT_OK;
}

static vkt_status check_args(vkt_graph *g, int rank, float alpha)
{
    if (!g)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_graph_add_lora: graph is NULL");
    if (g->error != VKT_OK)
        return rt_error(g->error, "graph has a build error: %s", vkt_status_name(g->error));
    if (rank < 1 || rank > 1024)
        return rt_error(VKT_ERR_INVALID_ARG, "LoRA rank %d outside 1..1024", rank);
    if (!isfinite(alpha) || alpha == 0.0f)
        return rt_error(VKT_ERR_INVALID_ARG, "LoRA alpha must be finite and non-zero");
    return VKT_OK;
}

vkt_status vkt_graph_add_lora(vkt_graph *g, const char *layer, int rank, float alpha)
{
    vkt_status st = check_args(g, rank, alpha);
    if (st != VKT_OK)
        return st;
    int id = layer ? find_layer(g, layer) : -1;
    if (id < 0)
        return rt_error(VKT_ERR_NOT_FOUND, "no layer named '%s' in the graph", layer ? layer : "(null)");
    const node *n = &g->nodes[id];
    if (!lora_eligible(n))
        return rt_error(VKT_ERR_INVALID_ARG,
                        "layer '%s' cannot take a LoRA adapter (only linear and 1x1 stride-1 unpadded ungrouped "
                        "convolutions can)",
                        layer);
    if (n->lora_rank)
        return rt_error(VKT_ERR_INVALID_ARG, "layer '%s' already has a LoRA adapter", layer);
    return attach(g, id, rank, alpha) == VKT_OK ? VKT_OK : rt_error(g->error, "adding a LoRA adapter to '%s' failed",
                                                                   layer);
}

vkt_status vkt_graph_add_lora_all(vkt_graph *g, int rank, float alpha, int *added)
{
    if (added)
        *added = 0;
    vkt_status st = check_args(g, rank, alpha);
    for (int id = 0; st == VKT_OK && id < g->node_count; id++) {
        const node *n = &g->nodes[id];
        if (!lora_eligible(n) || n->lora_rank || !n->name)
            continue;
        st = attach(g, id, rank, alpha);
        if (st != VKT_OK)
            return rt_error(st, "adding a LoRA adapter to '%s' failed", g->nodes[id].name);
        if (added)
            (*added)++;
    }
    return st;
}

/* ---- compile side ---- */

typedef struct gemm_desc {
    int M, N, K, trans_a, trans_b, lda, ldb, ldc;
    int batch, stride_a, stride_b, stride_c;
    int accum, reduce;
} gemm_desc;

static void emit_gemm(emit_ctx *e, const gemm_desc *d, int a, int b, int c)
{
    rt_params p = rt_params_zero();
    int v[15] = {d->M, d->N, d->K, d->trans_a, d->trans_b, d->lda, d->ldb, d->ldc,
                 d->batch, d->stride_a, d->stride_b, d->stride_c, 0, d->accum, d->reduce};
    memcpy(p.i, v, sizeof v);
    int slots[4] = {a, b, c, -1};
    ec_emit(e, RT_K_GEMM, &p, 4, slots);
}

static void emit_scale(emit_ctx *e, int src, int dst, size_t count, float scale)
{
    rt_params p = rt_params_zero();
    p.i[0] = (int)count;
    p.i[2] = 1;
    p.f[0] = scale;
    emit2(e, RT_K_COPY, &p, src, dst);
}

/* Matrix shapes of the adapted layer for this plan's batch. */
static lora_shape shape_of(emit_ctx *e, const node *n, const lora_layout *lay)
{
    lora_shape s;
    s.r = n->lora_rank;
    s.in = lay->in;
    s.out = lay->out;
    s.planes = lay->planes;
    s.items = lay->planes ? ec_batch(e) : 1;
    s.cols = lay->positions; /* rows (linear) or HW (conv) per item */
    s.u_count = (size_t)s.items * (size_t)s.r * (size_t)s.cols;
    return s;
}

void lora_forward(emit_ctx *e, const node *n, int id, const lora_layout *lay, int x, int y)
{
    lora_shape s = shape_of(e, n, lay);
    int a = ec_param(e, n->lora_a), b = ec_param(e, n->lora_b);
    bool keep = ec_runs_backward(e, id) && ec_param_trainable(e, n->lora_b);
    int t = ec_temp(e, s.u_count * 4);
    int u = keep ? ec_saved(e, id, SAVED_LORA_U, s.u_count * 4) : ec_temp(e, s.u_count * 4);
    if (!s.planes) { /* t[R, r] = x[R, in] A^T;  y[R, out] += u B^T */
        emit_gemm(e, &(gemm_desc){s.cols, s.r, s.in, 0, 1, s.in, s.in, s.r, 1, 0, 0, 0, 0, 0}, x, a, t);
        emit_scale(e, t, u, s.u_count, n->lora_scale);
        emit_gemm(e, &(gemm_desc){s.cols, s.out, s.r, 0, 1, s.r, s.r, s.out, 1, 0, 0, 0, 1, 0}, u, b, y);
    } else { /* per image: t[r, HW] = A x[in, HW];  y[out, HW] += B u */
        int hw = s.cols;
        emit_gemm(e, &(gemm_desc){s.r, hw, s.in, 0, 0, s.in, hw, hw, s.items, 0, s.in * hw, s.r * hw, 0, 0}, a, x, t);
        emit_scale(e, t, u, s.u_count, n->lora_scale);
        emit_gemm(e, &(gemm_desc){s.out, hw, s.r, 0, 0, s.r, hw, hw, s.items, 0, s.r * hw, s.out * hw, 1, 0},
                  b, u, y);
    }
}

void lora_backward(emit_ctx *e, const node *n, int id, const lora_layout *lay, int x, int dy)
{
    lora_shape s = shape_of(e, n, lay);
    bool need_da = ec_param_trainable(e, n->lora_a), need_db = ec_param_trainable(e, n->lora_b);
    bool need_dx = ec_needs_grad(e, n->inputs[0]);
    int hw = s.cols, acc;
    if (need_db) {
        int u = ec_saved(e, id, SAVED_LORA_U, 0);
        int db = ec_param_grad(e, n->lora_b, &acc);
        if (!s.planes) /* dB[out, r] = dY^T[out, R] u[R, r] */
            emit_gemm(e, &(gemm_desc){s.out, s.r, s.cols, 1, 0, s.out, s.r, s.r, 1, 0, 0, 0, acc, 0}, dy, u, db);
        else /* dB[out, r] = sum_b dY[out, HW] u^T[HW, r] */
            emit_gemm(e, &(gemm_desc){s.out, s.r, hw, 0, 1, hw, hw, s.r, s.items, s.out * hw, s.r * hw, 0, acc, 1},
                      dy, u, db);
    }
    if (!need_da && !need_dx)
        return;
    int b = ec_param(e, n->lora_b), a = ec_param(e, n->lora_a);
    int du = ec_temp(e, s.u_count * 4), dt = ec_temp(e, s.u_count * 4);
    if (!s.planes) /* du[R, r] = dY[R, out] B[out, r] */
        emit_gemm(e, &(gemm_desc){s.cols, s.r, s.out, 0, 0, s.out, s.r, s.r, 1, 0, 0, 0, 0, 0}, dy, b, du);
    else /* du[r, HW] = B^T[r, out] dY[out, HW] */
        emit_gemm(e, &(gemm_desc){s.r, hw, s.out, 1, 0, s.r, hw, hw, s.items, 0, s.out * hw, s.r * hw, 0, 0}, b, dy, du);
    emit_scale(e, du, dt, s.u_count, n->lora_scale);
    if (need_da) {
        int da = ec_param_grad(e, n->lora_a, &acc);
        if (!s.planes) /* dA[r, in] = dt^T[r, R] x[R, in] */
            emit_gemm(e, &(gemm_desc){s.r, s.in, s.cols, 1, 0, s.r, s.in, s.in, 1, 0, 0, 0, acc, 0}, dt, x, da);
        else /* dA[r, in] = sum_b dt[r, HW] x^T[HW, in] */
            emit_gemm(e, &(gemm_desc){s.r, s.in, hw, 0, 1, hw, hw, s.in, s.items, s.r * hw, s.in * hw, 0, acc, 1},
                      dt, x, da);
    }
    if (need_dx) { /* the base layer wrote its part of dX already */
        int dx = ec_grad(e, n->inputs[0], &acc);
        if (!s.planes) /* dX[R, in] += dt[R, r] A[r, in] */
            emit_gemm(e, &(gemm_desc){s.cols, s.in, s.r, 0, 0, s.r, s.in, s.in, 1, 0, 0, 0, 1, 0}, dt, a, dx);
        else /* dX[in, HW] += A^T[in, r] dt[r, HW] */
            emit_gemm(e, &(gemm_desc){s.in, hw, s.r, 1, 0, s.in, hw, hw, s.items, 0, s.r * hw, s.in * hw, 1, 0},
                      a, dt, dx);
    }
}
