/* Layer normalisation over the last dimension D of [rows, D]
 * (torch.nn.LayerNorm with elementwise affine).
 *
 * Forward and dx are row-local, so rows are split between threads. The
 * parameter gradients sum over rows; they are split by column block
 * instead, each block adding rows in order into double accumulators, so
 * no result depends on the thread count. Row statistics are taken in
 * double with a two-pass variance. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768
#define SUM_LANES 8
/* Columns whose parameter gradients one task accumulates. */
#define PARAM_BLOCK 256
/* Rows summed in float before joining the double totals. */
#define ROW_GROUP 32

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}


static double row_sq_dev(const float *restrict x, int64_t n, double mean)
{
    double lane[SUM_LANES] = {0}, s = 0;
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++) {
            double d = x[i + k] - mean;
            lane[k] += d * d;
        }
    for (; i < n; i++)
        s += (x[i] - mean) * (x[i] - mean);
    for (int k = 0; k < SUM_LANES; k++)
        s += lane[k];
    return s;
}

/* ---- forward ---- */

typedef struct ln_fwd_job {
    const float *x, *gamma, *beta;
    float *y, *save_mean, *save_rstd;
    int64_t D;
    double eps;
} ln_fwd_job;

static void ln_fwd_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ln_fwd_job *j = ctx;
    int64_t D = j->D;
    const float *restrict gamma = j->gamma, *restrict beta = j->beta;
    for (int64_t r = begin; r < end; r++) {
        const float *restrict x = j->x + r * D;
        float *restrict y = j->y + r * D;
        double mean = cpu_sum_f64(x, D) / (double)D;
        double rstd = 1.0 / sqrt(row_sq_dev(x, D, mean) / (double)D + j->eps);
        float m = (float)mean, s = (float)rstd;
        j->save_mean[r] = m;
        j->save_rstd[r] = s;
        for (int64_t i = 0; i < D; i++)
            y[i] = (x[i] - m) * s * gamma[i] + beta[i];
    }
}

void cpu_ln_fwd(const cpu_kernel_args *a)
{
    ln_fwd_job j = {
        .x = a->args[0],
        .gamma = a->args[1],
        .beta = a->args[2],
        .y = a->args[3],
        .save_mean = a->args[4],
        .save_rstd = a->args[5],
        .D = a->p->i[1],
        .eps = a->p->f[0],
    };
    cpu_parallel_for(a->pool, a->p->i[0], chunk_of(j.D), ln_fwd_rows, &j);
}

/* ---- backward ----
 * With xhat = (x - mean) * rstd and g = dy * gamma over a row of D:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy. */

typedef struct ln_bwd_job {
    const float *x, *dy, *gamma, *save_mean, *save_rstd;
    float *dx, *dgamma, *dbeta;
    int64_t rows, D;
    int accum_dx, accum_dparams;
} ln_bwd_job;

/* sum a*b over a run. */
static double dot_run(const float *restrict a, const float *restrict b, int64_t n)
{
    double lane[SUM_LANES] = {0}, s = 0;
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++)
            lane[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s += a[i] * b[i];
    for (int k = 0; k < SUM_LANES; k++)
        s += lane[k];
    return s;
}

/* sum a*b*(x - mean) over a run. */
static double dot_dev_run(const float *restrict a, const float *restrict b, const float *restrict x, float mean,
                          int64_t n)
{
    double lane[SUM_LANES] = {0}, s = 0;
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++)
            lane[k] += a[i + k] * b[i + k] * (x[i + k] - mean);
    for (; i < n; i++)
        s += a[i] * b[i] * (x[i] - mean);
    for (int k = 0; k < SUM_LANES; k++)
        s += lane[k];
    return s;
}

static void ln_dx_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ln_bwd_job *j = ctx;
    int64_t D = j->D;
    const float *restrict gamma = j->gamma;
    for (int64_t r = begin; r < end; r++) {
        const float *restrict x = j->x + r * D, *restrict dy = j->dy + r * D;
        float *restrict dx = j->dx + r * D;
        float mean = j->save_mean[r], rstd = j->save_rstd[r];
        /* xhat * mean(g * xhat) = (x - mean) * k, k = rstd^2 mean(g (x - mean)) */
        float mean_g = (float)(dot_run(dy, gamma, D) / (double)D);
        float k = (float)(dot_dev_run(dy, gamma, x, mean, D) * rstd * rstd / (double)D);
        if (j->accum_dx)
            for (int64_t i = 0; i < D; i++)
                dx[i] += rstd * (dy[i] * gamma[i] - mean_g - (x[i] - mean) * k);
        else
            for (int64_t i = 0; i < D; i++)
                dx[i] = rstd * (dy[i] * gamma[i] - mean_g - (x[i] - mean) * k);
    }
}

static void store_param_grad(float *dst, double v, int accum)
{
    *dst = accum ? (float)((double)*dst + v) : (float)v;
}

/* Sums over rows for one column block: float partial sums over groups of
 * ROW_GROUP rows (cheap, vectorised) folded into double totals. */
static void ln_param_blocks(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ln_bwd_job *j = ctx;
    double acc_g[PARAM_BLOCK], acc_b[PARAM_BLOCK];
    float part_g[PARAM_BLOCK], part_b[PARAM_BLOCK];
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t d0 = blk * PARAM_BLOCK;
        int64_t w = j->D - d0 < PARAM_BLOCK ? j->D - d0 : PARAM_BLOCK;
        memset(acc_g, 0, sizeof acc_g);
        memset(acc_b, 0, sizeof acc_b);
        for (int64_t r0 = 0; r0 < j->rows; r0 += ROW_GROUP) {
            int64_t r1 = r0 + ROW_GROUP < j->rows ? r0 + ROW_GROUP : j->rows;
            memset(part_g, 0, sizeof part_g);
            memset(part_b, 0, sizeof part_b);
            for (int64_t r = r0; r < r1; r++) {
                const float *restrict x = j->x + r * j->D + d0, *restrict dy = j->dy + r * j->D + d0;
                float mean = j->save_mean[r], rstd = j->save_rstd[r];
                for (int64_t k = 0; k < w; k++) {
                    part_g[k] += dy[k] * ((x[k] - mean) * rstd);
                    part_b[k] += dy[k];
                }
            }
            for (int64_t k = 0; k < w; k++) {
                acc_g[k] += part_g[k];
                acc_b[k] += part_b[k];
            }
        }
        for (int64_t k = 0; k < w; k++) {
            if (j->dgamma)
                store_param_grad(&j->dgamma[d0 + k], acc_g[k], j->accum_dparams);
            if (j->dbeta)
                store_param_grad(&j->dbeta[d0 + k], acc_b[k], j->accum_dparams);
        }
    }
}

void cpu_ln_bwd(const cpu_kernel_args *a)
{
    ln_bwd_job j = {
        .x = a->args[0],
        .dy = a->args[1],
        .gamma = a->args[2],
        .save_mean = a->args[3],
        .save_rstd = a->args[4],
        .dx = a->args[5],
        .dgamma = a->args[6],
        .dbeta = a->args[7],
        .rows = a->p->i[0],
        .D = a->p->i[1],
        .accum_dx = a->p->i[2],
        .accum_dparams = a->p->i[3],
    };
    if (j.dx)
        cpu_parallel_for(a->pool, j.rows, chunk_of(j.D), ln_dx_rows, &j);
    if (j.dgamma || j.dbeta) {
        int64_t blocks = (j.D + PARAM_BLOCK - 1) / PARAM_BLOCK;
        cpu_parallel_for(a->pool, blocks, chunk_of(j.rows * PARAM_BLOCK), ln_param_blocks, &j);
    }
}
