/* Structural ops: residual add, concat, reshape/flatten. Reshape moves
 * no data: the output shares the input's memory and gradient. */
#include "ops.h"

static bool same_shape(const node *a, const node *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

vkt_tensor vkt_add(vkt_graph *g, vkt_tensor a, vkt_tensor b)
{
    const node *na = op_operand(g, a, "add"), *nb = na ? op_operand(g, b, "add") : NULL;
    if (!na || !nb)
        return VKT_NO_TENSOR;
    if (na->dtype != VKT_F32 || nb->dtype != VKT_F32 || !same_shape(na, nb)) {
        char sa[64], sb[64];
        return graph_fail(g, VKT_ERR_SHAPE, "add: shapes %s and %s differ (no broadcasting)", op_shape_str(na, sa),
                          op_shape_str(nb, sb));
    }
    node n = op_node(OP_ADD, a);
    n.ninputs = 2;
    n.inputs[1] = b;
    n.rank = na->rank;
    for (int i = 0; i < na->rank; i++)
        n.dims[i] = na->dims[i];
    return graph_add_node(g, &n);
}

static void add_forward(emit_ctx *e, const node *n, int id)
{
    rt_params p = rt_params_zero();
    p.i[0] = (int)((size_t)ec_batch(e) * n->numel);
    int slots[3] = {ec_value(e, n->inputs[0]), ec_value(e, n->inputs[1]), ec_value(e, id)};
    ec_emit(e, RT_K_ADD, &p, 3, slots);
}

static void add_backward(emit_ctx *e, const node *n, int id)
{
    int acc;
    int dy = ec_grad(e, id, &acc);
    for (int i = 0; i < 2; i++) {
        if (!ec_needs_grad(e, n->inputs[i]))
            continue;
        rt_params p = rt_params_zero();
        int dx = ec_grad(e, n->inputs[i], &acc);
        p.i[0] = (int)((size_t)ec_batch(e) * n->numel), p.i[1] = acc;
        emit2(e, RT_K_COPY, &p, dy, dx);
    }
}

const op_def op_add_def = {.name = "add", .forward = add_forward, .backward = add_backward, .recompute = add_forward};

/* ---- concat along a per-sample axis ---- */

vkt_tensor vkt_concat(vkt_graph *g, int count, const vkt_tensor *xs, int axis)
{
    if (!g || g->error != VKT_OK)
        return VKT_NO_TENSOR;
    if (count < 1 || count > NODE_MAX_INPUTS || !xs)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "concat: count %d out of range 1..%d", count, NODE_MAX_INPUTS);
    const node *first = op_operand(g, xs[0], "concat");
    if (!first)
        return VKT_NO_TENSOR;
    if (axis < 0 || axis >= first->rank)
        return graph_fail(g, VKT_ERR_INVALID_ARG, "concat: axis %d out of range for rank %d", axis, first->rank);
    node n = op_node(OP_CONCAT, xs[0]);
    n.ninputs = count;
    n.rank = first->rank;
    for (int i = 0; i < first->rank; i++)
        n.dims[i] = first->dims[i];
    n.dims[axis] = 0;
    for (int k = 0; k < count; k++) {
        const node *in = op_operand(g, xs[k], "concat");
        if (!in)
            return VKT_NO_TENSOR;
        bool ok = in->dtype == VKT_F32 && in->rank == first->rank;
        for (int i = 0; ok && i < in->rank; i++)
            ok = i == axis || in->dims[i] == first->dims[i];
        if (!ok) {
            char sa[64], sb[64];
            return graph_fail(g, VKT_ERR_SHAPE, "concat: %s does not match %s outside axis %d", op_shape_str(in, sa),
                              op_shape_str(first, sb), axis);
        }
        n.inputs[k] = xs[k];
        n.dims[axis] += in->dims[axis];
    }
    n.iattr[0] = axis;
    return graph_add_node(g, &n);
}

/* Rows of the copy: everything before the axis, batch included. */
static int concat_rows(emit_ctx *e, const node *n)
{
    int rows = ec_batch(e);
    for (int i = 0; i < n->iattr[0]; i++)
        rows *= n->dims[i];
    return rows;
}

static int inner_of(const node *n, int axis)
{
    int inner = 1;
    for (int i = axis; i < n->rank; i++)
        inner *= n->dims[i];
    return inner;
}

static void concat_each(emit_ctx *e, const node *n, int id, bool backward)
{
    int rows = concat_rows(e, n), axis = n->iattr[0];
    int out_inner = inner_of(n, axis), offset = 0, acc;
    int y = backward ? ec_grad(e, id, &acc) : ec_value(e, id);
    for (int k = 0; k < n->ninputs; k++) {
        const node *in = graph_node(e->graph, n->inputs[k]);
        int inner = inner_of(in, axis);
        if (!backward || ec_needs_grad(e, n->inputs[k])) {
            rt_params p = rt_params_zero();
            p.i[0] = rows, p.i[1] = inner;
            if (backward) {
                int dx = ec_grad(e, n->inputs[k], &acc);
                p.i[2] = out_inner, p.i[3] = inner, p.i[4] = offset, p.i[6] = acc;
                emit2(e, RT_K_COPY2D, &p, y, dx);
            } else {
                p.i[2] = inner, p.i[3] = out_inner, p.i[5] = offset;
                emit2(e, RT_K_COPY2D, &p, ec_value(e, n->inputs[k]), y);
            }
        }
        offset += inner;
    }
}

static void concat_forward(emit_ctx *e, const node *n, int id)
{
    concat_each(e, n, id, false);
}

static void concat_backward(emit_ctx *e, const node *n, int id)
{
    concat_each(e, n, id, true);
}

const op_def op_concat_def = {.name = "concat", .forward = concat_forward, .backward = concat_backward};

/* ---- reshape / flatten ---- */

vkt_tensor vkt_reshape(vkt_graph *g, vkt_tensor x, int rank, const int *dims)
{
    const node *in = op_operand(g, x, "reshape");
    if (!in)
        return VKT_NO_TENSOR;
    if (rank < 0 || rank > VKT_MAX_RANK || (rank > 0 && !dims))
        return graph_fail(g, VKT_ERR_INVALID_ARG, "reshape: rank %d out of range", rank);
    node n = op_node(OP_RESHAPE, x);
    n.dtype = in->dtype;
    n.rank = rank;
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1)
            return graph_fail(g, VKT_ERR_SHAPE, "reshape: dimension %d is %d", i, dims[i]);
        n.dims[i] = dims[i];
        numel *= (size_t)dims[i];
    }
    if (numel != in->numel) {
        char sa[64], sb[64];
        n.numel = numel;
        return graph_fail(g, VKT_ERR_SHAPE, "reshape: %s has %zu elements, %s has %zu", op_shape_str(in, sa),
                          in->numel, op_shape_str(&n, sb), numel);
    }
    return graph_add_node(g, &n);
}

vkt_tensor vkt_flatten(vkt_graph *g, vkt_tensor x)
{
    const node *in = op_operand(g, x, "flatten");
    if (!in)
        return VKT_NO_TENSOR;
    int d = (int)in->numel;
    return vkt_reshape(g, x, 1, &d);
}

static void reshape_forward(emit_ctx *e, const node *n, int id)
{
    ec_alias(e, id, n->inputs[0]);
}

static bool reshape_aliases(const emit_ctx *e, const node *n)
{
    (void)e, (void)n;
    return true;
}

const op_def op_reshape_def = {.name = "reshape", .forward = reshape_forward, .aliases = reshape_aliases};
