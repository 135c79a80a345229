/* Optimizer kernels: the global gradient norm (for clipping), SGD and
 * AdamW, following torch.nn.utils.clip_grad_norm_ and torch.optim.
 *
 * The norm is a sum of squares over every gradient. It is taken in
 * double over at most MAX_BLOCKS blocks whose size depends only on the
 * element count, each summed in order and then added in block order, so
 * it has the same bits for any thread count. The update kernels are
 * elementwise and memory-bound. */
#include <math.h>
#include <stdint.h>

#include "cpu_kernels.h"

#define MAX_BLOCKS 64
#define MIN_BLOCK_ELEMS 65536
#define SUM_LANES 8
/* Elements per parallel chunk of an update. */
#define UPDATE_CHUNK 32768

/* ---- gradient norm ---- */

typedef struct norm_job {
    const float *g;
    int64_t count, per_block;
    double block_sum[MAX_BLOCKS];
} norm_job;

static void norm_blocks(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    norm_job *j = ctx;
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t i0 = blk * j->per_block;
        int64_t n = j->count - i0 < j->per_block ? j->count - i0 : j->per_block;
        const float *restrict g = j->g + i0;
        double lane[SUM_LANES] = {0}, s = 0;
        int64_t i = 0;
        for (; i + SUM_LANES <= n; i += SUM_LANES)
            for (int k = 0; k < SUM_LANES; k++) {
                double v = g[i + k];
                lane[k] += v * v;
            }
        for (; i < n; i++)
            s += (double)g[i] * g[i];
        for (int k = 0; k < SUM_LANES; k++)
            s += lane[k];
        j->block_sum[blk] = s;
    }
}

void cpu_grad_norm(const cpu_kernel_args *a)
{
    norm_job j = {.g = a->args[0], .count = a->p->i[0]};
    j.per_block = (j.count + MAX_BLOCKS - 1) / MAX_BLOCKS;
    if (j.per_block < MIN_BLOCK_ELEMS)
        j.per_block = MIN_BLOCK_ELEMS;
    int64_t blocks = (j.count + j.per_block - 1) / j.per_block;
    cpu_parallel_for(a->pool, blocks, 1, norm_blocks, &j);
    double total = 0;
    for (int64_t blk = 0; blk < blocks; blk++)
        total += j.block_sum[blk];

    /* As torch, in float: clip = max_norm / (norm + 1e-6), clamped to at
     * most 1 (a NaN norm gives a NaN factor, as torch). */
    float norm = (float)sqrt(total);
    float clip = a->p->f[0] / (norm + 1e-6f);
    float *sc = a->args[1];
    sc[RT_SC_GRAD_NORM] = norm;
    sc[RT_SC_CLIP_SCALE] = clip > 1.0f ? 1.0f : clip;
}

/* ---- SGD ---- */

typedef struct sgd_job {
    float *param;
    const float *grad;
    float *buf;
    float lr, clip, momentum, dampening, weight_decay;
    int first_step, nesterov;
} sgd_job;

/* update = ng * g + nb * buf: (0, 1) plain momentum, (1, momentum)
 * Nesterov; coefficients instead of a branch keep the loops vectorised. */
static void sgd_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const sgd_job *j = ctx;
    float *restrict p = j->param;
    const float *restrict grad = j->grad;
    float *restrict buf = j->buf;
    float clip = j->clip, wd = j->weight_decay, lr = j->lr;
    float mom = j->momentum, keep = 1.0f - j->dampening;
    float ng = j->nesterov ? 1.0f : 0.0f, nb = j->nesterov ? mom : 1.0f;
    if (!buf) {
        for (int64_t i = begin; i < end; i++)
            p[i] -= lr * (grad[i] * clip + wd * p[i]);
    } else if (j->first_step) { /* torch: the buffer starts as a copy of g */
        for (int64_t i = begin; i < end; i++) {
            float g = grad[i] * clip + wd * p[i];
            buf[i] = g;
            p[i] -= lr * (ng * g + nb * g);
        }
    } else {
        for (int64_t i = begin; i < end; i++) {
            float g = grad[i] * clip + wd * p[i];
            float b = mom * buf[i] + keep * g;
            buf[i] = b;
            p[i] -= lr * (ng * g + nb * b);
        }
    }
}

void cpu_sgd(const cpu_kernel_args *a)
{
    const rt_params *pp = a->p;
    const void *sc = a->args[3];
    sgd_job j = {
        .param = a->args[0],
        .grad = a->args[1],
        .buf = pp->i[1] ? a->args[2] : NULL,
        .lr = cpu_scalar_f(sc, RT_SC_LR),
        .clip = pp->i[3] ? cpu_scalar_f(sc, RT_SC_CLIP_SCALE) : 1.0f,
        .momentum = pp->f[0],
        .dampening = pp->f[1],
        .weight_decay = pp->f[2],
        .first_step = cpu_scalar_u(sc, RT_SC_STEP) == 1,
        .nesterov = pp->i[2],
    };
    cpu_parallel_for(a->pool, pp->i[0], UPDATE_CHUNK, sgd_range, &j);
}

/* ---- AdamW ---- */

typedef struct adamw_job {
    float *param, *m, *v;
    const float *grad;
    float clip, decay, beta1, beta2, eps, step_size, sqrt_bc2;
} adamw_job;

static void adamw_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const adamw_job *j = ctx;
    float *restrict p = j->param, *restrict m = j->m, *restrict v = j->v;
    const float *restrict grad = j->grad;
    float b1 = j->beta1, b2 = j->beta2, c1 = 1.0f - j->beta1, c2 = 1.0f - j->beta2;
    float clip = j->clip, decay = j->decay, step = j->step_size, sqrt_bc2 = j->sqrt_bc2, eps = j->eps;
    for (int64_t i = begin; i < end; i++) {
        float g = grad[i] * clip;
        float mi = b1 * m[i] + c1 * g;
        float vi = b2 * v[i] + c2 * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * (mi / (sqrtf(vi) / sqrt_bc2 + eps));
    }
}

void cpu_adamw(const cpu_kernel_args *a)
{
    const rt_params *pp = a->p;
    const void *sc = a->args[4];
    /* torch computes these step constants in double. */
    double lr = cpu_scalar_f(sc, RT_SC_LR);
    adamw_job j = {
        .param = a->args[0],
        .grad = a->args[1],
        .m = a->args[2],
        .v = a->args[3],
        .clip = pp->i[1] ? cpu_scalar_f(sc, RT_SC_CLIP_SCALE) : 1.0f,
        .decay = (float)(1.0 - lr * pp->f[3]),
        .beta1 = pp->f[0],
        .beta2 = pp->f[1],
        .eps = pp->f[2],
        .step_size = (float)(lr / cpu_scalar_f(sc, RT_SC_BIAS_CORR1)),
        .sqrt_bc2 = (float)sqrt(cpu_scalar_f(sc, RT_SC_BIAS_CORR2)),
    };
    cpu_parallel_for(a->pool, pp->i[0], UPDATE_CHUNK, adamw_range, &j);
}
