/* Losses: softmax cross entropy with label smoothing, and mean squared
 * error. Forward kernels write per-element results and the batch loss
 * into the scalars buffer.
 *
 * The batch loss is a sum over rows. Rows are grouped into at most
 * MAX_BLOCKS blocks whose size depends only on the problem size; each
 * block sums its rows in order (in double) and the block sums are added
 * in block order, so the loss has the same bits for any thread count.
 *
 * Cross entropy uses the stable log-softmax: log p_c = x_c - logZ with
 * logZ = max + log(sum exp(x - max)). A label outside [0, C) (the host
 * checks labels beforehand) contributes no loss, no correct count and no
 * gradient; the mean still divides by N. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"

#define MAX_BLOCKS 64
/* Smallest block worth a task of its own, in elements. */
#define MIN_BLOCK_ELEMS 16384
#define SUM_LANES 8

/* ---- fixed-order blocked sums ---- */

typedef struct blocking {
    int64_t items, per_block;
    int64_t count;
} blocking;

/* Splits `items` items of `item_elems` elements each into <= MAX_BLOCKS
 * blocks; depends on the sizes only. */
static blocking blocking_of(int64_t items, int64_t item_elems)
{
    int64_t min_items = MIN_BLOCK_ELEMS / (item_elems > 0 ? item_elems : 1);
    int64_t per = (items + MAX_BLOCKS - 1) / MAX_BLOCKS;
    if (per < min_items)
        per = min_items;
    if (per < 1)
        per = 1;
    return (blocking){items, per, (items + per - 1) / per};
}


/* Adds a batch's loss to the scalars as the spec lists them. */
static void publish_loss(void *scalars, double loss_sum, double mean_loss, uint32_t samples)
{
    float *f = scalars;
    unsigned *u = scalars;
    f[RT_SC_LOSS] = (float)mean_loss;
    f[RT_SC_LOSS_SUM] = (float)((double)f[RT_SC_LOSS_SUM] + loss_sum);
    u[RT_SC_SAMPLES] += samples;
}

/* ---- softmax cross entropy ---- */

typedef struct ce_job {
    const float *logits;
    const int32_t *labels;
    float *probs;
    int64_t N, C;
    float smoothing;
    blocking b;
    double block_loss[MAX_BLOCKS];
    uint32_t block_correct[MAX_BLOCKS];
} ce_job;

/* Largest element of a row (NaN ignored), in vectorisable lanes. */
static float row_max(const float *restrict x, int64_t n)
{
    float lane[SUM_LANES];
    for (int k = 0; k < SUM_LANES; k++)
        lane[k] = x[0];
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++)
            lane[k] = select_f(x[i + k] > lane[k], x[i + k], lane[k]);
    float top = lane[0];
    for (int k = 1; k < SUM_LANES; k++)
        top = lane[k] > top ? lane[k] : top;
    for (; i < n; i++)
        top = x[i] > top ? x[i] : top;
    return top;
}

/* Writes the row's probabilities; returns its loss and whether its
 * argmax (lowest index on ties) is the label. */
static double ce_row(const ce_job *j, int64_t r, int *correct)
{
    const float *restrict x = j->logits + r * j->C;
    float *restrict p = j->probs + r * j->C;
    int64_t C = j->C, argmax = 0;
    float top = row_max(x, C);
    while (argmax < C && x[argmax] != top) /* first max; C (no match) if the row is all NaN */
        argmax++;
    for (int64_t c = 0; c < C; c++)
        p[c] = exp_approx(x[c] - top);
    double sum_exp = cpu_sum_f64(p, C);
    float inv = (float)(1.0 / sum_exp);
    for (int64_t c = 0; c < C; c++)
        p[c] *= inv;

    int64_t label = j->labels[r];
    *correct = label == argmax;
    if (label < 0 || label >= C)
        return 0.0;
    /* -sum_c q_c (x_c - logZ) with q = (1-s) onehot + s/C, sum_c q_c = 1 */
    double log_z = (double)top + log(sum_exp);
    double s = j->smoothing;
    double loss = log_z - (1.0 - s) * x[label];
    if (s > 0)
        loss -= s / (double)C * cpu_sum_f64(x, C);
    return loss;
}

static void ce_fwd_blocks(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    ce_job *j = ctx;
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t r0 = blk * j->b.per_block;
        int64_t r1 = r0 + j->b.per_block < j->N ? r0 + j->b.per_block : j->N;
        double loss = 0;
        uint32_t correct = 0;
        for (int64_t r = r0; r < r1; r++) {
            int ok;
            loss += ce_row(j, r, &ok);
            correct += (uint32_t)ok;
        }
        j->block_loss[blk] = loss;
        j->block_correct[blk] = correct;
    }
}

void cpu_softmax_ce_fwd(const cpu_kernel_args *a)
{
    ce_job j = {
        .logits = a->args[0],
        .labels = a->args[1],
        .probs = a->args[2],
        .N = a->p->i[0],
        .C = a->p->i[1],
        .smoothing = a->p->f[0],
    };
    j.b = blocking_of(j.N, j.C);
    cpu_parallel_for(a->pool, j.b.count, 1, ce_fwd_blocks, &j);
    double total = 0;
    uint32_t correct = 0;
    for (int64_t blk = 0; blk < j.b.count; blk++) {
        total += j.block_loss[blk];
        correct += j.block_correct[blk];
    }
    void *sc = a->args[3];
    publish_loss(sc, total, total / (double)j.N, (uint32_t)j.N);
    ((unsigned *)sc)[RT_SC_CORRECT] += correct;
}

typedef struct ce_bwd_job {
    const float *probs;
    const int32_t *labels;
    float *dlogits;
    int64_t C;
    float inv_n, smoothing;
    int accum;
} ce_bwd_job;

/* dlogits (+)= (p - q) / N per row, q = (1-s) onehot(label) + s/C. */
static void ce_bwd_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ce_bwd_job *j = ctx;
    int64_t C = j->C;
    float uniform = j->smoothing / (float)C, hit = (1.0f - j->smoothing) * j->inv_n;
    for (int64_t r = begin; r < end; r++) {
        const float *restrict p = j->probs + r * C;
        float *restrict d = j->dlogits + r * C;
        int64_t label = j->labels[r];
        if (label < 0 || label >= C) { /* ignored row: no gradient */
            if (!j->accum)
                memset(d, 0, (size_t)C * sizeof *d);
            continue;
        }
        if (j->accum)
            for (int64_t c = 0; c < C; c++)
                d[c] += (p[c] - uniform) * j->inv_n;
        else
            for (int64_t c = 0; c < C; c++)
                d[c] = (p[c] - uniform) * j->inv_n;
        d[label] -= hit;
    }
}

void cpu_softmax_ce_bwd(const cpu_kernel_args *a)
{
    ce_bwd_job j = {
        .probs = a->args[0],
        .labels = a->args[1],
        .dlogits = a->args[2],
        .C = a->p->i[1],
        .inv_n = 1.0f / (float)(a->p->i[3] > 0 ? a->p->i[3] : a->p->i[0]),
        .smoothing = a->p->f[0],
        .accum = a->p->i[2],
    };
    int64_t grain = MIN_BLOCK_ELEMS / j.C > 0 ? MIN_BLOCK_ELEMS / j.C : 1;
    cpu_parallel_for(a->pool, a->p->i[0], grain, ce_bwd_rows, &j);
}

/* ---- mean squared error ---- */

typedef struct mse_job {
    const float *pred, *target;
    int64_t count;
    blocking b;
    double block_sum[MAX_BLOCKS];
} mse_job;

static void mse_fwd_blocks(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    mse_job *j = ctx;
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t i0 = blk * j->b.per_block;
        int64_t n = i0 + j->b.per_block < j->count ? j->b.per_block : j->count - i0;
        const float *restrict p = j->pred + i0, *restrict t = j->target + i0;
        double lane[SUM_LANES] = {0}, s = 0;
        int64_t i = 0;
        for (; i + SUM_LANES <= n; i += SUM_LANES)
            for (int k = 0; k < SUM_LANES; k++) {
                double d = (double)p[i + k] - t[i + k];
                lane[k] += d * d;
            }
        for (; i < n; i++)
            s += ((double)p[i] - t[i]) * ((double)p[i] - t[i]);
        for (int k = 0; k < SUM_LANES; k++)
            s += lane[k];
        j->block_sum[blk] = s;
    }
}

void cpu_mse_fwd(const cpu_kernel_args *a)
{
    int64_t N = a->p->i[0], D = a->p->i[1];
    mse_job j = {.pred = a->args[0], .target = a->args[1], .count = N * D};
    j.b = blocking_of(j.count, 1);
    cpu_parallel_for(a->pool, j.b.count, 1, mse_fwd_blocks, &j);
    double total = 0;
    for (int64_t blk = 0; blk < j.b.count; blk++)
        total += j.block_sum[blk];
    double loss = total / (double)j.count;
    publish_loss(a->args[2], loss * (double)N, loss, (uint32_t)N);
}

typedef struct mse_bwd_job {
    const float *pred, *target;
    float *dpred;
    float scale;
    int accum;
} mse_bwd_job;

static void mse_bwd_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const mse_bwd_job *j = ctx;
    const float *restrict p = j->pred, *restrict t = j->target;
    float *restrict d = j->dpred;
    if (j->accum)
        for (int64_t i = begin; i < end; i++)
            d[i] += (p[i] - t[i]) * j->scale;
    else
        for (int64_t i = begin; i < end; i++)
            d[i] = (p[i] - t[i]) * j->scale;
}

void cpu_mse_bwd(const cpu_kernel_args *a)
{
    int64_t count = (int64_t)a->p->i[0] * a->p->i[1];
    int64_t mean_over = (int64_t)(a->p->i[3] > 0 ? a->p->i[3] : a->p->i[0]) * a->p->i[1];
    mse_bwd_job j = {a->args[0], a->args[1], a->args[2], (float)(2.0 / (double)mean_over), a->p->i[2]};
    cpu_parallel_for(a->pool, count, 4 * MIN_BLOCK_ELEMS, mse_bwd_range, &j);
}
