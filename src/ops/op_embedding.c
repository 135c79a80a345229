/* Embedding lookup (torch.nn.Embedding): weight [num, dim], N(0, 1)
 * initialisation. Indices are checked on the host when a batch is fed. */
#include "ops.h"

vkt_tensor vkt_embedding(vkt_graph *g, vkt_tensor indices, int num_embeddings, int dim, const char *name)
{
    const node *in = op_operand(g, indices, "embedding");
    if (!in)
        return VKT_NO_TENSOR;
    const char *nm = name ? name : "?";
    if (in->dtype != VKT_I32)
        return graph_fail(g, VKT_ERR_SHAPE, "embedding '%s': indices must be an I32 tensor", nm);
    if (in->rank >= VKT_MAX_RANK)
        return graph_fail(g, VKT_ERR_SHAPE, "embedding '%s': indices of rank %d leave no room for the embedding "
                          "dimension", nm, in->rank);
    if (num_embeddings < 1 || dim < 1)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "embedding '%s': num_embeddings and dim must be >= 1", nm);
    node n = op_node(OP_EMBEDDING, indices);
    n.rank = in->rank + 1;
    for (int i = 0; i < in->rank; i++)
        n.dims[i] = in->dims[i];
    n.dims[in->rank] = dim;
    n.iattr[0] = num_embeddings;
    n.iattr[1] = dim;
    n.name = (char *)name;
    int64_t wd[2] = {num_embeddings, dim};
    int w = graph_add_param(g, name, "weight", 2, wd, false);
    if (w < 0)
        return VKT_NO_TENSOR;
    init_normal(g, g->params[w].data, g->params[w].numel, 1.0f);
    n.params[n.nparams++] = w;
    return graph_add_node(g, &n);
}

static rt_params embed_params(emit_ctx *e, const node *n)
{
    rt_params p = rt_params_zero();
    p.i[0] = (int)((size_t)ec_batch(e) * (n->numel / (size_t)n->iattr[1]));
    p.i[1] = n->iattr[0], p.i[2] = n->iattr[1];
    return p;
}

static void embed_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = embed_params(e, n);
    int slots[3] = {ec_value(e, n->inputs[0]), ec_param(e, n->params[0]), ec_value(e, id)};
    ec_emit(e, RT_K_EMBED_FWD, &p, 3, slots);
}

static void embed_backward(emit_ctx *e, const node *n, int id)
{
    if (!ec_param_trainable(e, n->params[0]))
        return;
    rt_params p = embed_params(e, n);
    int acc;
    int dy = ec_grad(e, id, &acc);
    int dw = ec_param_grad(e, n->params[0], &acc);
    p.i[3] = acc;
    int slots[3] = {ec_value(e, n->inputs[0]), dy, dw};
    ec_emit(e, RT_K_EMBED_BWD, &p, 3, slots);
}

const op_def op_embedding_def = {.name = "embedding", .forward = embed_forward, .backward = embed_backward};
