/* Launch rules: attention (see launch_rules.h). */
#include "launch_rules.h"

/* Shared attention geometry: the q-side ([batch, Tq, heads*D]),
 * kv-side ([batch, Tk, heads*D]) and per-row ([batch, heads, Tq])
 * element counts. */
static void attn_geometry(checker *c, int64_t *q_elems, int64_t *kv_elems, int64_t *rows)
{
    int64_t batch = dim(c, 0, "batch", 0), heads = dim(c, 1, "heads", 1);
    int64_t Tq = dim(c, 2, "Tq", 0), Tk = dim(c, 3, "Tk", 1), D = dim(c, 4, "D", 1);
    if (D > RT_ATTN_MAX_HEAD_DIM)
        fail(c, "D (i[4]) is %lld, must be <= %d", (long long)D, RT_ATTN_MAX_HEAD_DIM);
    flag(c, 5, "causal");
    frange(c, 0, "scale", FLT_MIN, FLT_MAX, false);
    *q_elems = ELEMS(c, batch, Tq, heads, D);
    *kv_elems = ELEMS(c, batch, Tk, heads, D);
    *rows = ELEMS(c, batch, heads, Tq);
}

void rules_attn_fwd(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "out", qe);
    arg(c, 4, "lse", rows);
}

void rules_attn_bwd_q(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    flag(c, 6, "accum_dq");
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "out", qe);
    arg(c, 4, "dout", qe);
    arg(c, 5, "lse", rows);
    arg(c, 6, "delta", rows);
    opt_arg(c, 7, "dq", qe);
}

void rules_attn_bwd_kv(checker *c)
{
    int64_t qe, kve, rows;
    attn_geometry(c, &qe, &kve, &rows);
    flag(c, 6, "accum_dk");
    flag(c, 7, "accum_dv");
    arg(c, 0, "q", qe);
    arg(c, 1, "k", kve);
    arg(c, 2, "v", kve);
    arg(c, 3, "dout", qe);
    arg(c, 4, "lse", rows);
    arg(c, 5, "delta", rows);
    opt_arg(c, 6, "dk", kve);
    opt_arg(c, 7, "dv", kve);
}
