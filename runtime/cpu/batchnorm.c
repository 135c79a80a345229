/* Batch normalisation over [N, C, HW] (torch.nn.BatchNorm1d/2d).
 *
 * Training and backward work channel by channel: a channel's statistics
 * and parameter gradients are sums over its N planes, taken in a fixed
 * order (planes in turn, each in eight double lanes), so the result is
 * the same for any thread count. Statistics are accumulated in double and
 * the variance is computed in a second pass, which stays accurate when
 * the mean is large next to the spread. The elementwise parts stay float
 * so they vectorise. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

#include <stdbool.h>

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768
#define SUM_LANES 8

typedef struct bn_shape {
    int64_t N, C, HW;
} bn_shape;

static bn_shape shape_of(const rt_params *p)
{
    return (bn_shape){p->i[0], p->i[1], p->i[2]};
}

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}

/* Offset of plane (n, c). */
static int64_t plane_at(const bn_shape *s, int64_t n, int64_t c)
{
    return (n * s->C + c) * s->HW;
}

/* Sum of x over channel c. */
static double channel_sum(const bn_shape *s, const float *x, int64_t c)
{
    double total = 0;
    for (int64_t n = 0; n < s->N; n++) {
        const float *restrict p = x + plane_at(s, n, c);
        double lane[SUM_LANES] = {0};
        int64_t i = 0;
        for (; i + SUM_LANES <= s->HW; i += SUM_LANES)
            for (int k = 0; k < SUM_LANES; k++)
                lane[k] += p[i + k];
        for (; i < s->HW; i++)
            total += p[i];
        for (int k = 0; k < SUM_LANES; k++)
            total += lane[k];
    }
    return total;
}

/* Sum of (x - mean)^2 over channel c. */
static double channel_sq_dev(const bn_shape *s, const float *x, int64_t c, double mean)
{
    double total = 0;
    for (int64_t n = 0; n < s->N; n++) {
        const float *restrict p = x + plane_at(s, n, c);
        double lane[SUM_LANES] = {0};
        int64_t i = 0;
        for (; i + SUM_LANES <= s->HW; i += SUM_LANES)
            for (int k = 0; k < SUM_LANES; k++) {
                double d = p[i + k] - mean;
                lane[k] += d * d;
            }
        for (; i < s->HW; i++)
            total += (p[i] - mean) * (p[i] - mean);
        for (int k = 0; k < SUM_LANES; k++)
            total += lane[k];
    }
    return total;
}

/* y = (x - mean) * scale + shift over channel c. */
static void channel_affine(const bn_shape *s, const float *x, float *y, int64_t c, float mean, float scale,
                           float shift)
{
    for (int64_t n = 0; n < s->N; n++) {
        const float *restrict xp = x + plane_at(s, n, c);
        float *restrict yp = y + plane_at(s, n, c);
        for (int64_t i = 0; i < s->HW; i++)
            yp[i] = (xp[i] - mean) * scale + shift;
    }
}

/* ---- training forward ---- */

typedef struct bn_fwd_job {
    bn_shape s;
    const float *x, *gamma, *beta;
    float *y, *save_mean, *save_invstd, *running_mean, *running_var;
    double eps, momentum;
} bn_fwd_job;

static void bn_train_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bn_fwd_job *j = ctx;
    const bn_shape *s = &j->s;
    double count = (double)(s->N * s->HW);
    for (int64_t c = begin; c < end; c++) {
        double mean = channel_sum(s, j->x, c) / count;
        double var = channel_sq_dev(s, j->x, c, mean) / count; /* biased: normalises */
        double invstd = 1.0 / sqrt(var + j->eps);
        j->save_mean[c] = (float)mean;
        j->save_invstd[c] = (float)invstd;
        /* torch: running stats take the unbiased variance. */
        double m = j->momentum;
        j->running_mean[c] = (float)((1.0 - m) * j->running_mean[c] + m * mean);
        j->running_var[c] = (float)((1.0 - m) * j->running_var[c] + m * var * count / (count - 1.0));
        /* The scale from the stored (float) inverse std, so that
         * recomputing y from the saved statistics repeats it exactly. */
        channel_affine(s, j->x, j->y, c, (float)mean, (float)(j->gamma[c] * (double)j->save_invstd[c]), j->beta[c]);
    }
}

void cpu_bn_train_fwd(const cpu_kernel_args *a)
{
    bn_fwd_job j = {
        .s = shape_of(a->p),
        .x = a->args[0],
        .gamma = a->args[1],
        .beta = a->args[2],
        .y = a->args[3],
        .save_mean = a->args[4],
        .save_invstd = a->args[5],
        .running_mean = a->args[6],
        .running_var = a->args[7],
        .eps = a->p->f[0],
        .momentum = a->p->f[1],
    };
    cpu_parallel_for(a->pool, j.s.C, chunk_of(j.s.N * j.s.HW), bn_train_channels, &j);
}

/* ---- evaluation forward: independent per plane ---- */

typedef struct bn_eval_job {
    bn_shape s;
    const float *x, *gamma, *beta, *running_mean, *running_var; /* or saved mean, inverse std */
    float *y;
    double eps;
    bool batch_stats;
} bn_eval_job;

static void bn_eval_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bn_eval_job *j = ctx;
    for (int64_t p = begin; p < end; p++) {
        int64_t c = p % j->s.C;
        float scale = j->batch_stats ? (float)(j->gamma[c] * (double)j->running_var[c]) /* an inverse std */
                                     : (float)(j->gamma[c] / sqrt((double)j->running_var[c] + j->eps));
        float mean = j->running_mean[c], shift = j->beta[c];
        const float *restrict x = j->x + p * j->s.HW;
        float *restrict y = j->y + p * j->s.HW;
        for (int64_t i = 0; i < j->s.HW; i++)
            y[i] = (x[i] - mean) * scale + shift;
    }
}

void cpu_bn_eval_fwd(const cpu_kernel_args *a)
{
    bn_eval_job j = {
        .s = shape_of(a->p),
        .x = a->args[0],
        .gamma = a->args[1],
        .beta = a->args[2],
        .running_mean = a->args[3],
        .running_var = a->args[4],
        .y = a->args[5],
        .eps = a->p->f[0],
        .batch_stats = a->p->i[3] != 0,
    };
    cpu_parallel_for(a->pool, j.s.N * j.s.C, chunk_of(j.s.HW), bn_eval_planes, &j);
}

/* ---- backward ----
 * With xhat = (x - mean) * invstd over the channel's n values:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd * (dy - dbeta/n - xhat * dgamma/n). */

typedef struct bn_bwd_job {
    bn_shape s;
    const float *x, *dy, *gamma, *save_mean, *save_invstd;
    float *dx, *dgamma, *dbeta;
    int accum_dx, accum_dparams;
} bn_bwd_job;

/* sum dy * (x - mean) over channel c. */
static double channel_dot_dev(const bn_shape *s, const float *x, const float *dy, int64_t c, double mean)
{
    double total = 0;
    for (int64_t n = 0; n < s->N; n++) {
        const float *restrict xp = x + plane_at(s, n, c);
        const float *restrict gp = dy + plane_at(s, n, c);
        double lane[SUM_LANES] = {0};
        int64_t i = 0;
        for (; i + SUM_LANES <= s->HW; i += SUM_LANES)
            for (int k = 0; k < SUM_LANES; k++)
                lane[k] += gp[i + k] * (xp[i + k] - mean);
        for (; i < s->HW; i++)
            total += gp[i] * (xp[i] - mean);
        for (int k = 0; k < SUM_LANES; k++)
            total += lane[k];
    }
    return total;
}

static void store_param_grad(float *dst, double v, int accum)
{
    *dst = accum ? (float)((double)*dst + v) : (float)v;
}

/* dx (+)= k_dy * (dy - mean_dy) - k_x * (x - mean) over channel c. */
static void channel_dx(const bn_bwd_job *j, int64_t c, float mean, float k_dy, float mean_dy, float k_x)
{
    const bn_shape *s = &j->s;
    for (int64_t n = 0; n < s->N; n++) {
        int64_t at = plane_at(s, n, c);
        const float *restrict xp = j->x + at, *restrict gp = j->dy + at;
        float *restrict dx = j->dx + at;
        if (j->accum_dx)
            for (int64_t i = 0; i < s->HW; i++)
                dx[i] += k_dy * (gp[i] - mean_dy) - k_x * (xp[i] - mean);
        else
            for (int64_t i = 0; i < s->HW; i++)
                dx[i] = k_dy * (gp[i] - mean_dy) - k_x * (xp[i] - mean);
    }
}

static void bn_bwd_channels(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bn_bwd_job *j = ctx;
    double count = (double)(j->s.N * j->s.HW);
    for (int64_t c = begin; c < end; c++) {
        float mean = j->save_mean[c];
        double invstd = j->save_invstd[c];
        double sum_dy = channel_sum(&j->s, j->dy, c);
        double sum_dy_xmu = channel_dot_dev(&j->s, j->x, j->dy, c, mean);
        if (j->dgamma)
            store_param_grad(&j->dgamma[c], sum_dy_xmu * invstd, j->accum_dparams);
        if (j->dbeta)
            store_param_grad(&j->dbeta[c], sum_dy, j->accum_dparams);
        if (j->dx) {
            double k = j->gamma[c] * invstd;
            channel_dx(j, c, mean, (float)k, (float)(sum_dy / count),
                       (float)(k * invstd * invstd * sum_dy_xmu / count));
        }
    }
}

void cpu_bn_bwd(const cpu_kernel_args *a)
{
    bn_bwd_job j = {
        .s = shape_of(a->p),
        .x = a->args[0],
        .dy = a->args[1],
        .gamma = a->args[2],
        .save_mean = a->args[3],
        .save_invstd = a->args[4],
        .dx = a->args[5],
        .dgamma = a->args[6],
        .dbeta = a->args[7],
        .accum_dx = a->p->i[3],
        .accum_dparams = a->p->i[4],
    };
    if (!j.dx && !j.dgamma && !j.dbeta)
        return;
    cpu_parallel_for(a->pool, j.s.C, chunk_of(j.s.N * j.s.HW), bn_bwd_channels, &j);
}
