/* Memory-bound elementwise kernels: add, copies, fill, bias gradient and
 * dropout.
 *
 * These run at memory bandwidth when their loops vectorise, so each loop
 * is a plain indexed loop over float arrays, and small launches stay on
 * the calling thread (chunks are large). The bias gradient is the one
 * reduction here; every channel is summed in a fixed order so the result
 * does not depend on the thread count. */
#include <stdatomic.h>
#include <string.h>

#include "cpu_kernels.h"
#include "fastmath.h"
#include "simd.h"

/* Elements per parallel chunk (256 KiB of floats). */
#define CHUNK_ELEMS 65536
/* Channels summed together when the bias gradient walks rows. */
#define BIAS_BLOCK 512
/* Rows summed in float before joining the double totals. */
#define ROW_GROUP 32
/* Double accumulators used to sum a contiguous run. */
#define SUM_LANES 8

/* ---- ISA choice for the intrinsic paths (simd.h) ---- */

static atomic_bool simd_force_generic;

bool cpu_simd_avx512(void)
{
#if CPU_HAVE_AVX512
    if (atomic_load_explicit(&simd_force_generic, memory_order_relaxed))
        return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

const char *cpu_simd_use_isa(const char *name)
{
    atomic_store(&simd_force_generic, name && strcmp(name, "generic") == 0);
    return cpu_simd_avx512() ? "avx512" : "generic";
}

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}

/* ---- add, copy, fill ---- */

typedef struct binary_job {
    const float *a, *b;
    float *y;
    int accum;
    bool scaled; /* copy: src times `scale` */
    float scale;
} binary_job;

/* y may be a or b (in place, rt_launch_validate allows nothing else);
 * each case gets a loop whose pointers do not alias, so it vectorises
 * without an overlap check (IEEE addition commutes: a + b either way). */
static void add_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const binary_job *j = ctx;
    int64_t n = end - begin;
    if (j->y == j->a && j->a == j->b) {
        float *restrict y = j->y + begin;
        for (int64_t i = 0; i < n; i++)
            y[i] = y[i] + y[i];
    } else if (j->y == j->a || j->y == j->b) {
        float *restrict y = j->y + begin;
        const float *restrict other = (j->y == j->a ? j->b : j->a) + begin;
        for (int64_t i = 0; i < n; i++)
            y[i] = y[i] + other[i];
    } else {
        const float *restrict a = j->a + begin, *restrict b = j->b + begin;
        float *restrict y = j->y + begin;
        for (int64_t i = 0; i < n; i++)
            y[i] = a[i] + b[i];
    }
}

void cpu_add(const cpu_kernel_args *a)
{
    binary_job j = {a->args[0], a->args[1], a->args[2], 0, false, 1.0f};
    cpu_parallel_for(a->pool, a->p->i[0], CHUNK_ELEMS, add_range, &j);
}

static void copy_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const binary_job *j = ctx;
    const float *src = j->a;
    float *dst = j->y;
    const float scale = j->scale;
    if (j->scaled && j->accum)
        for (int64_t i = begin; i < end; i++)
            dst[i] += scale * src[i];
    else if (j->scaled)
        for (int64_t i = begin; i < end; i++)
            dst[i] = scale * src[i];
    else if (j->accum)
        for (int64_t i = begin; i < end; i++)
            dst[i] += src[i];
    else if (dst != src)
        memcpy(dst + begin, src + begin, (size_t)(end - begin) * sizeof *dst);
}

void cpu_copy(const cpu_kernel_args *a)
{
    binary_job j = {a->args[0], NULL, a->args[1], a->p->i[1], a->p->i[2] != 0, a->p->f[0]};
    cpu_parallel_for(a->pool, a->p->i[0], CHUNK_ELEMS, copy_range, &j);
}

typedef struct copy2d_job {
    const float *src;
    float *dst;
    int64_t cols, src_stride, dst_stride;
    int accum;
} copy2d_job;

static void copy2d_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const copy2d_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *restrict s = j->src + r * j->src_stride;
        float *restrict d = j->dst + r * j->dst_stride;
        if (j->accum)
            for (int64_t c = 0; c < j->cols; c++)
                d[c] += s[c];
        else
            memcpy(d, s, (size_t)j->cols * sizeof *d);
    }
}

void cpu_copy2d(const cpu_kernel_args *a)
{
    const int32_t *i = a->p->i;
    int64_t rows = i[0], cols = i[1];
    if (rows == 0 || cols == 0)
        return;
    copy2d_job j = {(const float *)a->args[0] + i[4], (float *)a->args[1] + i[5], cols, i[2], i[3], i[6]};
    cpu_parallel_for(a->pool, rows, chunk_of(cols), copy2d_range, &j);
}

typedef struct fill_job {
    float *dst;
    float value;
} fill_job;

static void fill_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const fill_job *j = ctx;
    float *dst = j->dst;
    for (int64_t i = begin; i < end; i++)
        dst[i] = j->value;
}

void cpu_fill(const cpu_kernel_args *a)
{
    fill_job j = {a->args[0], a->p->f[0]};
    cpu_parallel_for(a->pool, a->p->i[0], CHUNK_ELEMS, fill_range, &j);
}

/* ---- bias gradient: db[c] (+)= sum_{n, j} dy[(n*C + c)*inner + j] ---- */

typedef struct bias_grad_job {
    const float *dy;
    float *db;
    int64_t outer, C, inner;
    int accum;
} bias_grad_job;


static void store_sum(float *db, double s, int accum)
{
    *db = accum ? (float)((double)*db + s) : (float)s;
}

typedef double dvec8 __attribute__((vector_size(64)));
typedef float fvec8 __attribute__((vector_size(32)));

/* sum_run of four runs at once: the same lanes and the same order for
 * each, but four independent chains hide the latency of the adds (one
 * run alone waits on them). Vector extensions: any ISA, same bits. */
static inline __attribute__((always_inline)) void sum_run4(const float *restrict x0, const float *restrict x1,
                                                          const float *restrict x2, const float *restrict x3,
                                                          int64_t n, double out[4])
{
    dvec8 lane[4] = {{0}, {0}, {0}, {0}};
    const float *x[4] = {x0, x1, x2, x3};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int r = 0; r < 4; r++) {
            fvec8 v;
            memcpy(&v, x[r] + i, sizeof v);
            lane[r] += __builtin_convertvector(v, dvec8);
        }
    for (int r = 0; r < 4; r++) {
        double s = 0;
        for (int64_t k = i; k < n; k++)
            s += x[r][k];
        for (int k = 0; k < SUM_LANES; k++)
            s += lane[r][k];
        out[r] = s;
    }
}

/* inner > 1: one item per channel, each plane run summed in turn. */
CPU_CLONES static void bias_grad_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bias_grad_job *j = ctx;
    int64_t step = j->C * j->inner; /* from one image's run to the next */
    for (int64_t c = begin; c < end; c++) {
        const float *run = j->dy + c * j->inner;
        double s = 0;
        int64_t n = 0;
        for (; n + 4 <= j->outer; n += 4, run += 4 * step) {
            double r[4];
            sum_run4(run, run + step, run + 2 * step, run + 3 * step, j->inner, r);
            s += r[0];
            s += r[1];
            s += r[2];
            s += r[3];
        }
        for (; n < j->outer; n++, run += step)
            s += cpu_sum_f64(run, j->inner);
        store_sum(&j->db[c], s, j->accum);
    }
}

#if CPU_HAVE_AVX512
/* bias_grad_planes with AVX-512 (GCC's own code for the vector
 * extensions converts in halves): the same lanes, the same order. */
CPU_TARGET_AVX512 static void bias_grad_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bias_grad_job *j = ctx;
    const int64_t step = j->C * j->inner, inner = j->inner;
    for (int64_t c = begin; c < end; c++) {
        const float *run = j->dy + c * inner;
        double s = 0;
        int64_t n = 0;
        for (; n + 4 <= j->outer; n += 4, run += 4 * step) {
            __m512d l0 = _mm512_setzero_pd(), l1 = l0, l2 = l0, l3 = l0;
            int64_t i = 0;
            for (; i + SUM_LANES <= inner; i += SUM_LANES) {
                l0 = _mm512_add_pd(l0, _mm512_cvtps_pd(_mm256_loadu_ps(run + i)));
                l1 = _mm512_add_pd(l1, _mm512_cvtps_pd(_mm256_loadu_ps(run + step + i)));
                l2 = _mm512_add_pd(l2, _mm512_cvtps_pd(_mm256_loadu_ps(run + 2 * step + i)));
                l3 = _mm512_add_pd(l3, _mm512_cvtps_pd(_mm256_loadu_ps(run + 3 * step + i)));
            }
            double lane[4][SUM_LANES];
            _mm512_storeu_pd(lane[0], l0);
            _mm512_storeu_pd(lane[1], l1);
            _mm512_storeu_pd(lane[2], l2);
            _mm512_storeu_pd(lane[3], l3);
            for (int r = 0; r < 4; r++) {
                double t = 0;
                for (int64_t k = i; k < inner; k++)
                    t += run[r * step + k];
                for (int k = 0; k < SUM_LANES; k++)
                    t += lane[r][k];
                s += t;
            }
        }
        for (; n < j->outer; n++, run += step)
            s += cpu_sum_f64(run, inner);
        store_sum(&j->db[c], s, j->accum);
    }
}
#endif

/* inner == 1 (a [rows, C] matrix): one item per block of channels, rows
 * added in order: in float over groups of ROW_GROUP rows (vectorised),
 * the group sums in double. */
CPU_CLONES static void bias_grad_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const bias_grad_job *j = ctx;
    double acc[BIAS_BLOCK];
    float part[BIAS_BLOCK];
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t c0 = blk * BIAS_BLOCK;
        int64_t w = j->C - c0 < BIAS_BLOCK ? j->C - c0 : BIAS_BLOCK;
        memset(acc, 0, sizeof acc);
        for (int64_t n0 = 0; n0 < j->outer; n0 += ROW_GROUP) {
            int64_t n1 = n0 + ROW_GROUP < j->outer ? n0 + ROW_GROUP : j->outer;
            memset(part, 0, sizeof part);
            for (int64_t n = n0; n < n1; n++) {
                const float *restrict row = j->dy + n * j->C + c0;
                for (int64_t k = 0; k < w; k++)
                    part[k] += row[k];
            }
            for (int64_t k = 0; k < w; k++)
                acc[k] += part[k];
        }
        for (int64_t k = 0; k < w; k++)
            store_sum(&j->db[c0 + k], acc[k], j->accum);
    }
}

void cpu_bias_grad(const cpu_kernel_args *a)
{
    bias_grad_job j = {a->args[0], a->args[1], a->p->i[0], a->p->i[1], a->p->i[2], a->p->i[3]};
    if (j.C == 0)
        return;
    if (j.outer == 0 || j.inner == 0) { /* empty sum */
        if (!j.accum)
            memset(j.db, 0, (size_t)j.C * sizeof *j.db);
        return;
    }
    if (j.inner == 1) {
        int64_t blocks = (j.C + BIAS_BLOCK - 1) / BIAS_BLOCK;
        cpu_parallel_for(a->pool, blocks, chunk_of(j.outer * BIAS_BLOCK), bias_grad_rows, &j);
    } else {
        cpu_task_fn fn = bias_grad_planes;
#if CPU_HAVE_AVX512
        if (cpu_simd_avx512())
            fn = bias_grad_planes_avx512;
#endif
        cpu_parallel_for(a->pool, j.C, chunk_of(j.outer * j.inner), fn, &j);
    }
}

/* ---- dropout: element i kept iff rt_hash_uniform(seed, salt, first + i) >= p ---- */

typedef struct dropout_job {
    const float *src;
    float *dst;
    uint32_t seed, salt, first;
    float p, scale;
    int accum;
} dropout_job;

/* dst[i] (+)= src[i] * (kept ? 1/(1-p) : 0). Multiplying (rather than
 * selecting zero) keeps torch's NaN behaviour. */
static void dropout_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const dropout_job *j = ctx;
    const float *restrict src = j->src;
    float *restrict dst = j->dst;
    for (int64_t i = begin; i < end; i++) {
        float v = src[i] * (rt_hash_uniform(j->seed, j->salt, j->first + (uint32_t)i) >= j->p ? j->scale : 0.0f);
        dst[i] = j->accum ? dst[i] + v : v;
    }
}

static void dropout_run(const cpu_kernel_args *a, int accum)
{
    float p = a->p->f[0];
    dropout_job j = {
        .src = a->args[0],
        .dst = a->args[1],
        .seed = cpu_scalar_u(a->args[2], RT_SC_SEED),
        .salt = (uint32_t)a->p->i[1],
        .first = (uint32_t)a->p->i[3],
        .p = p,
        .scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, /* p = 1 drops everything */
        .accum = accum,
    };
    cpu_parallel_for(a->pool, a->p->i[0], CHUNK_ELEMS, dropout_range, &j);
}

void cpu_dropout_fwd(const cpu_kernel_args *a)
{
    dropout_run(a, 0);
}

void cpu_dropout_bwd(const cpu_kernel_args *a)
{
    dropout_run(a, a->p->i[2]);
}
