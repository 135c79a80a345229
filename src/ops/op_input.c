/* Graph inputs: bound to the trainer's input buffer, no kernels. */
#include <string.h>

#include "ops.h"

vkt_tensor vkt_input(vkt_graph *g, const char *name, vkt_dtype dtype, int rank, const int *dims)
{
    if (!g || g->error != VKT_OK)
        return VKT_NO_TENSOR;
    if (dtype != VKT_F32 && dtype != VKT_I32)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "input '%s': unknown dtype %d", name ? name : "?", (int)dtype);
    if (rank < 0 || rank > VKT_MAX_RANK || (rank > 0 && !dims))
        return graph_fail(g, VKT_ERR_SHAPE, "input '%s': rank %d out of range 0..%d", name ? name : "?", rank,
                          VKT_MAX_RANK);
    if (g->input_count == NODE_MAX_INPUTS)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "too many graph inputs (max %d)", NODE_MAX_INPUTS);
    node n = {0};
    n.kind = OP_INPUT;
    n.dtype = dtype;
    n.rank = rank;
    for (int i = 0; i < rank; i++)
        n.dims[i] = dims[i];
    n.iattr[0] = g->input_count;
    n.name = (char *)name;
    vkt_tensor t = graph_add_node(g, &n);
    if (t >= 0)
        g->inputs[g->input_count++] = t;
    return t;
}

static void input_forward(emit_ctx *e, const node *n, int id)
{
    (void)e, (void)n, (void)id; /* data arrives by upload */
}

const op_def op_input_def = {.name = "input", .forward = input_forward};
