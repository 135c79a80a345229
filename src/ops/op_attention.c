/* Multi-head scaled dot-product attention (PyTorch's
 * scaled_dot_product_attention on the heads that nn.MultiheadAttention
 * cuts from its projections): per sample q [Tq, E], k and v [Tk, E],
 * E = heads * D, out [Tq, E] = softmax(Q K^T / sqrt(D) [+ causal mask]) V
 * per head.
 *
 * Memory, as flash attention: forward keeps only the log-sum-exp of
 * each score row [batch, heads, Tq] beside q, k, v and out (which
 * backward reads anyway); backward recomputes the probabilities from
 * it instead of keeping the [batch, heads, Tq, Tk] matrix, whose size
 * grows with the square of the sequence. Backward, with
 * delta_i = rowsum(dO o O):
 *   dV = P^T dO, dP = dO V^T, dS = P o (dP - delta),
 *   dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D),
 * as two kernels: ATTN_BWD_Q (dQ and delta) then ATTN_BWD_KV (dK, dV),
 * each thread owning the elements it writes (no atomics). */
#include <math.h>

#include "ops.h"

enum { A_HEADS, A_TQ, A_TK, A_E, A_CAUSAL };
enum { IN_Q, IN_K, IN_V };
enum { SAVED_LSE = 0 };

static bool is_sequence(const node *n)
{
    return n->dtype == VKT_F32 && n->rank == 2;
}

vkt_tensor vkt_attention(vkt_graph *g, vkt_tensor q, vkt_tensor k, vkt_tensor v, int heads, bool causal)
{
    const node *nq = op_operand(g, q, "attention");
    const node *nk = nq ? op_operand(g, k, "attention") : NULL;
    const node *nv = nk ? op_operand(g, v, "attention") : NULL;
    if (!nv)
        return VKT_NO_TENSOR;
    char sq[64], sk[64], sv[64];
    if (!is_sequence(nq) || !is_sequence(nk) || !is_sequence(nv))
        return graph_fail(g, VKT_ERR_SHAPE, "attention: q %s, k %s and v %s must be float [T, E] tensors",
                          op_shape_str(nq, sq), op_shape_str(nk, sk), op_shape_str(nv, sv));
    int E = nq->dims[1];
    if (nk->dims[1] != E || nv->dims[1] != E || nk->dims[0] != nv->dims[0])
        return graph_fail(g, VKT_ERR_SHAPE,
                          "attention: q %s, k %s, v %s: all need the same E and k, v the same length",
                          op_shape_str(nq, sq), op_shape_str(nk, sk), op_shape_str(nv, sv));
    if (nk->dims[0] < 1)
        return graph_fail(g, VKT_ERR_SHAPE, "attention: k and v have no positions");
    if (heads < 1 || E % heads != 0)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "attention: heads %d must be >= 1 and divide E = %d", heads, E);
    if (E / heads > RT_ATTN_MAX_HEAD_DIM)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "attention: head dimension %d exceeds %d", E / heads,
                          RT_ATTN_MAX_HEAD_DIM);
    node n = op_node(OP_ATTENTION, q);
    n.ninputs = 3;
    n.inputs[IN_K] = k;
    n.inputs[IN_V] = v;
    n.rank = 2;
    n.dims[0] = nq->dims[0];
    n.dims[1] = E;
    n.iattr[A_HEADS] = heads;
    n.iattr[A_TQ] = nq->dims[0];
    n.iattr[A_TK] = nk->dims[0];
    n.iattr[A_E] = E;
    n.iattr[A_CAUSAL] = causal;
    return graph_add_node(g, &n);
}

/* The parameter block every attention kernel shares. */
static rt_params attn_params(emit_ctx *e, const node *n)
{
    rt_params p = rt_params_zero();
    int D = n->iattr[A_E] / n->iattr[A_HEADS];
    p.i[0] = ec_batch(e), p.i[1] = n->iattr[A_HEADS], p.i[2] = n->iattr[A_TQ], p.i[3] = n->iattr[A_TK];
    p.i[4] = D, p.i[5] = n->iattr[A_CAUSAL];
    p.f[0] = 1.0f / sqrtf((float)D);
    return p;
}

static size_t row_stat_bytes(emit_ctx *e, const node *n)
{
    return (size_t)ec_batch(e) * (size_t)n->iattr[A_HEADS] * (size_t)n->iattr[A_TQ] * 4;
}

static void attention_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = attn_params(e, n);
    size_t lse_bytes = row_stat_bytes(e, n);
    int lse = ec_runs_backward(e, id) ? ec_saved(e, id, SAVED_LSE, lse_bytes) : ec_temp(e, lse_bytes);
    int slots[5] = {ec_value(e, n->inputs[IN_Q]), ec_value(e, n->inputs[IN_K]), ec_value(e, n->inputs[IN_V]),
                    ec_value(e, id), lse};
    ec_emit(e, RT_K_ATTN_FWD, &p, 5, slots);
}

/* The node whose memory (and gradient) node `id` shares. */
static int root_node(const emit_ctx *e, int id)
{
    while (e->alias_of[id] >= 0)
        id = e->alias_of[id];
    return id;
}

/* One ATTN_BWD_KV launch writing dK and/or dV (dk_in, dv_in: the input
 * nodes to differentiate, -1 for none). */
static void emit_kv(emit_ctx *e, rt_params p, const int *reads, int dk_in, int dv_in)
{
    int acc_k = 0, acc_v = 0;
    int dk = dk_in >= 0 ? ec_grad(e, dk_in, &acc_k) : -1;
    int dv = dv_in >= 0 ? ec_grad(e, dv_in, &acc_v) : -1;
    p.i[6] = acc_k, p.i[7] = acc_v;
    int slots[8] = {reads[0], reads[1], reads[2], reads[3], reads[4], reads[5], dk, dv};
    ec_emit(e, RT_K_ATTN_BWD_KV, &p, 8, slots);
}

static void attention_backward(emit_ctx *e, const node *n, int id)
{
    int q = n->inputs[IN_Q], k = n->inputs[IN_K], v = n->inputs[IN_V];
    bool need_k = ec_needs_grad(e, k), need_v = ec_needs_grad(e, v);
    int acc;
    int dout = ec_grad(e, id, &acc);
    rt_params p = attn_params(e, n);
    int vq = ec_value(e, q), vk = ec_value(e, k), vv = ec_value(e, v), lse = ec_saved(e, id, SAVED_LSE, 0);
    /* delta is needed by the key side even when q takes no gradient. */
    int delta = ec_temp(e, row_stat_bytes(e, n));
    int acc_q = 0;
    int dq = ec_needs_grad(e, q) ? ec_grad(e, q, &acc_q) : -1;
    p.i[6] = acc_q;
    int qslots[8] = {vq, vk, vv, ec_value(e, id), dout, lse, delta, dq};
    ec_emit(e, RT_K_ATTN_BWD_Q, &p, 8, qslots);

    int reads[6] = {vq, vk, vv, dout, lse, delta};
    if (need_k && need_v && root_node(e, k) == root_node(e, v)) {
        /* k and v share a gradient: one launch cannot write it twice. */
        emit_kv(e, p, reads, k, -1);
        emit_kv(e, p, reads, -1, v);
    } else if (need_k || need_v) {
        emit_kv(e, p, reads, need_k ? k : -1, need_v ? v : -1);
    }
}

/* Designated: fields op_def gains later stay zero (not recomputable, not
 * a loss, and each sample attends within itself only). */
const op_def op_attention_def = {
    .name = "attention", .forward = attention_forward, .backward = attention_backward};
