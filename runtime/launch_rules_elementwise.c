/* Launch rules: elementwise, copies, rows, embeddings, fp16 packing (see launch_rules.h). */
#include "launch_rules.h"

/* Words of a one-bit-per-element mask. */
static int64_t mask_words(int64_t n)
{
    return n / 32 + (n % 32 != 0);
}

/* A derivative mask exists for the piecewise-linear activations only. */
static void mask_act(checker *c, int act, const char *mode)
{
    if (act != RT_ACT_RELU && act != RT_ACT_RELU6)
        fail(c, "%s needs act RELU or RELU6, got %d", mode, act);
}

void rules_act_fwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    int act = choice(c, 1, "act", RT_ACT_TANH + 1);
    bool mask = flag(c, 2, "write_mask");
    arg(c, 0, "x", n);
    arg(c, 1, "y", n);
    if (mask) {
        mask_act(c, act, "write_mask");
        arg(c, 2, "mask", mask_words(n));
    }
}

void rules_act_bwd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    int act = choice(c, 1, "act", RT_ACT_TANH + 1);
    flag(c, 2, "accum");
    bool from_mask = flag(c, 3, "from_mask");
    arg(c, 2, "dy", n);
    arg(c, 3, "dx", n);
    if (from_mask) { /* x and y stay unused: absent */
        mask_act(c, act, "from_mask");
        arg(c, 4, "mask", mask_words(n));
        return;
    }
    bool reads_x = act == RT_ACT_GELU || act == RT_ACT_SILU;
    c->args[0] = (arg_rule){"x", n, !reads_x};
    c->args[1] = (arg_rule){"y", n, reads_x};
}

void rules_add(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "a", n);
    arg(c, 1, "b", n);
    arg(c, 2, "y", n);
}

void rules_copy(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    flag(c, 1, "accum");
    arg(c, 0, "src", n);
    arg(c, 1, "dst", n);
}

void rules_copy2d(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), cols = dim(c, 1, "cols", 0);
    int64_t ss = dim(c, 2, "src_stride", 0);
    /* Overlapping destination rows would race between threads. */
    int64_t ds = dim(c, 3, "dst_stride", rows > 1 ? cols : 0);
    int64_t so = dim(c, 4, "src_off", 0), doff = dim(c, 5, "dst_off", 0);
    flag(c, 6, "accum");
    int64_t src_span = matrix_span(c, rows, cols, ss), dst_span = matrix_span(c, rows, cols, ds);
    arg(c, 0, "src", src_span ? add(c, so, src_span) : 0);
    arg(c, 1, "dst", dst_span ? add(c, doff, dst_span) : 0);
}

void rules_fill(checker *c)
{
    arg(c, 0, "dst", dim(c, 0, "count", 0));
}

void rules_bias_grad(checker *c)
{
    int64_t outer = dim(c, 0, "outer", 0), C = dim(c, 1, "C", 0), inner = dim(c, 2, "inner", 0);
    flag(c, 3, "accum");
    arg(c, 0, "dy", ELEMS(c, outer, C, inner));
    arg(c, 1, "db", C);
}

/* The mask's index first + j stays a non-negative int32. */
static int64_t dropout_count(checker *c)
{
    int64_t n = dim(c, 0, "count", 0), first = dim(c, 3, "first", 0);
    if (n + first > INT32_MAX)
        fail(c, "first (i[3]) + count is %lld, must be <= %d", (long long)(n + first), INT32_MAX);
    return n;
}

void rules_dropout_fwd(checker *c)
{
    int64_t n = dropout_count(c);
    frange(c, 0, "p", 0, 1, false);
    arg(c, 0, "x", n);
    arg(c, 1, "y", n);
    scalars_arg(c, 2);
}

void rules_dropout_bwd(checker *c)
{
    int64_t n = dropout_count(c);
    flag(c, 2, "accum");
    frange(c, 0, "p", 0, 1, false);
    arg(c, 0, "dy", n);
    arg(c, 1, "dx", n);
    scalars_arg(c, 2);
}

void rules_embed_fwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), num = dim(c, 1, "num", 0), d = dim(c, 2, "dim", 0);
    arg(c, 0, "idx", rows);
    arg(c, 1, "W", ELEMS(c, num, d));
    arg(c, 2, "y", ELEMS(c, rows, d));
}

void rules_rows(checker *c)
{
    int64_t items = dim(c, 0, "items", 0), rows = dim(c, 1, "rows", 0), k = dim(c, 2, "k", 0);
    int64_t w = dim(c, 3, "width", 0);
    bool gather = c->l->kernel == RT_K_GATHER_ROWS;
    arg(c, 0, "src", ELEMS(c, items, gather ? rows : k, w));
    arg(c, 1, "idx", k);
    arg(c, 2, "dst", ELEMS(c, items, gather ? k : rows, w));
}

void rules_embed_bwd(checker *c)
{
    int64_t rows = dim(c, 0, "rows", 0), num = dim(c, 1, "num", 0), d = dim(c, 2, "dim", 0);
    flag(c, 3, "accum");
    arg(c, 0, "idx", rows);
    arg(c, 1, "dy", ELEMS(c, rows, d));
    arg(c, 2, "dW", ELEMS(c, num, d));
}

void rules_pack_f16(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "src", n);
    arg(c, 1, "dst", n / 2 + n % 2);
}

void rules_unpack_f16(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    arg(c, 0, "src", n / 2 + n % 2);
    arg(c, 1, "dst", n);
}
