/* CPU GEMM (RT_K_GEMM): C = op(A) op(B) (+ bias), batched.
 *
 * Training on the CPU spends most of its time here, mostly on small and
 * skinny shapes (batch-64 linear layers, im2col convolutions), and every
 * result must be bit-identical whatever the number of threads.
 *
 * Determinism: the output is cut into tiles, and one task computes a tile
 * completely -- all of K, and in reduce mode every batch item, in order --
 * so no sum is ever split between threads. Each element is one chain of
 * multiply-adds over K blocks of a length fixed by K alone, so its bits do
 * not depend on the tiling either, nor on which FMA kernel runs: AVX-512
 * and AVX2 agree exactly (only a kernel without FMA differs).
 *
 * Speed: an MR x NR register-blocked micro-kernel, written with GCC vector
 * extensions, is built for AVX-512, AVX2+FMA and a portable baseline and
 * picked at run time. op(A) feeds broadcasts, which need no contiguity, so
 * it is read in place (only a ragged last row panel is packed). op(B) feeds
 * whole vectors: an NR-wide column panel is read in place when it is a
 * plain row-major slice, otherwise (transposed, or ragged) packed just
 * before use into the thread's scratch, where it stays in L1 while every
 * row panel of the tile streams past it. Strided op(B) rows are prefetched
 * one panel ahead. Nothing is allocated. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"

/* ---------------------------------------------------------------------- */
/* Problem description                                                    */

typedef struct gemm_problem {
    int64_t M, N, K;
    bool trans_a, trans_b;
    int64_t lda, ldb, ldc;
    int64_t batch, stride_a, stride_b, stride_c;
    int bias_mode; /* 0 none, 1 per row (M), 2 per column (N) */
    bool accum, reduce_batch;
    const float *A, *B, *bias;
    float *C;
} gemm_problem;

static gemm_problem problem_from_args(const cpu_kernel_args *a)
{
    const int32_t *i = a->p->i;
    gemm_problem pr = {
        .M = i[0], .N = i[1], .K = i[2],
        .trans_a = i[3] != 0, .trans_b = i[4] != 0,
        .lda = i[5], .ldb = i[6], .ldc = i[7],
        .batch = i[8], .stride_a = i[9], .stride_b = i[10], .stride_c = i[11],
        .bias_mode = i[12], .accum = i[13] != 0, .reduce_batch = i[14] != 0,
        .A = a->args[0], .B = a->args[1], .C = a->args[2],
        .bias = a->sizes[3] ? a->args[3] : NULL,
    };
    if (!pr.bias)
        pr.bias_mode = 0;
    return pr;
}

/* Address of op(A)[m][k] and op(B)[k][n] in batch item b. */
static const float *op_a_at(const gemm_problem *pr, int64_t b, int64_t m, int64_t k)
{
    const float *A = pr->A + b * pr->stride_a;
    return pr->trans_a ? A + k * pr->lda + m : A + m * pr->lda + k;
}

static const float *op_b_at(const gemm_problem *pr, int64_t b, int64_t k, int64_t n)
{
    const float *B = pr->B + b * pr->stride_b;
    return pr->trans_b ? B + n * pr->ldb + k : B + k * pr->ldb + n;
}

/* ---------------------------------------------------------------------- */
/* Micro-kernels                                                          */

/* One MR x NR tile of C over k steps. op(A) element (i, p) is at
 * a[i*rsa + p*csa] (one of rsa, csa is 1); op(B) row p is NR contiguous
 * floats at b + p*rsb. The accumulators start at zero, or at the tile of C
 * when load_c; row_bias (MR values) and col_bias (NR values) are added, if
 * given, after the last product. `prefetch`, if not NULL, is laid out like
 * b and is pulled into cache row by row. */
typedef struct ukernel_args {
    int64_t k;
    const float *a;
    ptrdiff_t rsa, csa;
    const float *b;
    ptrdiff_t rsb;
    float *c;
    ptrdiff_t ldc;
    bool load_c;
    const float *row_bias, *col_bias;
    const float *prefetch;
} ukernel_args;

typedef void (*ukernel_fn)(const ukernel_args *u);

/* A kernel set: MR x NR tiles, and MR x NR/2 tiles for a last column
 * panel at most half full (narrow outputs such as 10 classes). */
typedef struct gemm_isa {
    const char *name;
    int mr, nr;
    ukernel_fn ukernel, ukernel_half;
} gemm_isa;

/* Largest MR and NR of any kernel below (sizes of scratch and stack
 * tiles). */
#define MR_MAX 8
#define NR_MAX 32

typedef float vec4 __attribute__((vector_size(16)));
typedef float vec8 __attribute__((vector_size(32)));
typedef float vec16 __attribute__((vector_size(64)));

#if defined(__x86_64__)
#define TARGET_AVX512 __attribute__((target("avx512f")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* acc + x * y as one fused operation per lane: with FMA hardware in the
 * target this compiles to a vector FMA (-std=c11 forbids contracting
 * x * y + acc by itself). */
#define DEFINE_FUSED_MADD(NAME, TARGET, VEC)                                  \
    TARGET static ALWAYS_INLINE VEC NAME(VEC acc, VEC x, VEC y)               \
    {                                                                         \
        VEC r;                                                                \
        for (unsigned l = 0; l < sizeof(VEC) / sizeof(float); l++)            \
            r[l] = __builtin_fmaf(x[l], y[l], acc[l]);                        \
        return r;                                                             \
    }

/* Without fast hardware FMA, a plain multiply-add. */
#define DEFINE_PLAIN_MADD(NAME, TARGET, VEC)                                  \
    TARGET static ALWAYS_INLINE VEC NAME(VEC acc, VEC x, VEC y)               \
    {                                                                         \
        return acc + x * y;                                                   \
    }

/* The micro-kernel for one ISA: MR rows by NV vectors of VEC. The body is
 * instantiated twice, for A read along k (rows at rsa) and A read across
 * rows (k at csa), so every address step is a constant or one register. */
#define DEFINE_UKERNEL(NAME, TARGET, VEC, MR, NV, MADD)                       \
    TARGET static ALWAYS_INLINE VEC NAME##_load(const float *p)               \
    {                                                                         \
        VEC v;                                                                \
        memcpy(&v, p, sizeof v);                                              \
        return v;                                                             \
    }                                                                         \
    TARGET static ALWAYS_INLINE void NAME##_body(const ukernel_args *u,       \
                                                 ptrdiff_t rsa, ptrdiff_t csa) \
    {                                                                         \
        enum { lanes = sizeof(VEC) / sizeof(float) };                         \
        VEC acc[MR][NV];                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                 \
            _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++)              \
                acc[i][j] = u->load_c ?                                       \
                    NAME##_load(u->c + i * u->ldc + j * lanes) : (VEC){0};    \
        /* Rows 4 and up of A from a second pointer: fewer offsets to keep. */\
        const float *a = u->a, *a4 = u->a + 4 * rsa, *b = u->b;               \
        const float *pf = u->prefetch;                                        \
        for (int64_t p = 0; p < u->k; p++, a += csa, a4 += csa, b += u->rsb) { \
            if (pf) { /* the row's first, middle and last cache lines */   \
                __builtin_prefetch(pf);                                       \
                __builtin_prefetch(pf + NV * lanes / 2);                      \
                __builtin_prefetch(pf + NV * lanes - 1);                      \
                pf += u->rsb;                                                 \
            }                                                                 \
            VEC bv[NV];                                                       \
            _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++)              \
                bv[j] = NAME##_load(b + j * lanes);                           \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {           \
                const float *row = i < 4 ? a : a4;                            \
                VEC ai = row[i % 4 * rsa] - (VEC){0}; /* broadcast */         \
                _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++)          \
                    acc[i][j] = MADD(acc[i][j], ai, bv[j]);                   \
            }                                                                 \
        }                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                 \
            _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) {            \
                VEC c = acc[i][j];                                            \
                if (u->row_bias)                                              \
                    c += u->row_bias[i];                                      \
                if (u->col_bias)                                              \
                    c += NAME##_load(u->col_bias + j * lanes);                \
                memcpy(u->c + i * u->ldc + j * lanes, &c, sizeof c);          \
            }                                                                 \
    }                                                                         \
    TARGET static void NAME(const ukernel_args *u)                            \
    {                                                                         \
        if (u->rsa == 1)                                                      \
            NAME##_body(u, 1, u->csa);                                        \
        else                                                                  \
            NAME##_body(u, u->rsa, 1);                                        \
    }

#if defined(__x86_64__)
DEFINE_FUSED_MADD(madd16_avx512, TARGET_AVX512, vec16)
DEFINE_UKERNEL(ukernel_avx512, TARGET_AVX512, vec16, 8, 2, madd16_avx512)
DEFINE_UKERNEL(ukernel_avx512_half, TARGET_AVX512, vec16, 8, 1, madd16_avx512)
DEFINE_FUSED_MADD(madd8_avx2, TARGET_AVX2, vec8)
DEFINE_UKERNEL(ukernel_avx2, TARGET_AVX2, vec8, 6, 2, madd8_avx2)
DEFINE_UKERNEL(ukernel_avx2_half, TARGET_AVX2, vec8, 6, 1, madd8_avx2)

static const gemm_isa isa_avx512 = {"avx512", 8, 32, ukernel_avx512, ukernel_avx512_half};
static const gemm_isa isa_avx2 = {"avx2", 6, 16, ukernel_avx2, ukernel_avx2_half};
#endif

#if defined(__FP_FAST_FMAF)
DEFINE_FUSED_MADD(madd4_generic, , vec4)
#else
DEFINE_PLAIN_MADD(madd4_generic, , vec4)
#endif
DEFINE_UKERNEL(ukernel_generic, , vec4, 4, 2, madd4_generic)
DEFINE_UKERNEL(ukernel_generic_half, , vec4, 4, 1, madd4_generic)

static const gemm_isa isa_generic = {"generic", 4, 8, ukernel_generic, ukernel_generic_half};

/* Kernel forced by cpu_gemm_use_isa(), or NULL for the best one. */
static _Atomic(const gemm_isa *) forced_isa;

static bool isa_supported(const gemm_isa *isa)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == &isa_avx512)
        return __builtin_cpu_supports("avx512f");
    if (isa == &isa_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == &isa_generic;
}

static const gemm_isa *const isa_by_preference[] = {
#if defined(__x86_64__)
    &isa_avx512, &isa_avx2,
#endif
    &isa_generic,
};

#define ISA_COUNT (sizeof isa_by_preference / sizeof *isa_by_preference)

static const gemm_isa *select_isa(void)
{
    const gemm_isa *forced = atomic_load_explicit(&forced_isa, memory_order_relaxed);
    if (forced)
        return forced;
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (isa_supported(isa_by_preference[i]))
            return isa_by_preference[i];
    return &isa_generic;
}

/* For tests and benchmarks (not a public API, hence no header): make
 * cpu_gemm use the named kernel ("avx512", "avx2", "generic") if this CPU
 * runs it, or the best one again for NULL. Returns the name now in use. */
const char *cpu_gemm_use_isa(const char *name)
{
    const gemm_isa *chosen = NULL;
    for (size_t i = 0; name && i < ISA_COUNT; i++)
        if (strcmp(isa_by_preference[i]->name, name) == 0 && isa_supported(isa_by_preference[i]))
            chosen = isa_by_preference[i];
    atomic_store(&forced_isa, chosen);
    return select_isa()->name;
}

const char *cpu_gemm_isa(void)
{
    return select_isa()->name;
}

/* ---------------------------------------------------------------------- */
/* Packing into panels of width w (dst[p*w + j]); of the w columns the   */
/* first `valid` are real, the rest padding whose results are dropped.   */

/* src row p holds the panel's row p: dst[p*w + j] = src[p*ld + j]. */
static void pack_rows(float *dst, int w, const float *src, int64_t ld, int valid, int64_t k)
{
    for (int64_t p = 0; p < k; p++, dst += w, src += ld) {
        int j = 0;
        for (; j < valid; j++)
            dst[j] = src[j];
        for (; j < w; j++)
            dst[j] = 0.0f;
    }
}

/* dst[c*w + r] = rows[r][c] for a 4 x 4 block, with 4-wide vectors. */
static void transpose4x4(float *dst, int w, const float *const rows[4], int64_t offset)
{
    vec4 r0, r1, r2, r3;
    memcpy(&r0, rows[0] + offset, sizeof r0);
    memcpy(&r1, rows[1] + offset, sizeof r1);
    memcpy(&r2, rows[2] + offset, sizeof r2);
    memcpy(&r3, rows[3] + offset, sizeof r3);
#if defined(__clang__)
#define SHUFFLE4(x, y, i0, i1, i2, i3) __builtin_shufflevector(x, y, i0, i1, i2, i3)
#else
    typedef int32_t mask4 __attribute__((vector_size(16)));
#define SHUFFLE4(x, y, i0, i1, i2, i3) __builtin_shuffle(x, y, (mask4){i0, i1, i2, i3})
#endif
    vec4 t0 = SHUFFLE4(r0, r1, 0, 4, 1, 5);
    vec4 t1 = SHUFFLE4(r0, r1, 2, 6, 3, 7);
    vec4 t2 = SHUFFLE4(r2, r3, 0, 4, 1, 5);
    vec4 t3 = SHUFFLE4(r2, r3, 2, 6, 3, 7);
    vec4 c0 = SHUFFLE4(t0, t2, 0, 1, 4, 5);
    vec4 c1 = SHUFFLE4(t0, t2, 2, 3, 6, 7);
    vec4 c2 = SHUFFLE4(t1, t3, 0, 1, 4, 5);
    vec4 c3 = SHUFFLE4(t1, t3, 2, 3, 6, 7);
#undef SHUFFLE4
    memcpy(dst, &c0, sizeof c0);
    memcpy(dst + w, &c1, sizeof c1);
    memcpy(dst + 2 * w, &c2, sizeof c2);
    memcpy(dst + 3 * w, &c3, sizeof c3);
}

/* src row j holds the panel's column j: dst[p*w + j] = src[j*ld + p].
 * Columns go four at a time through 4 x 4 transposes; padding columns
 * (from `valid` on) repeat the last real one, whose results the caller
 * drops, so no group needs a special case. While it reads, it prefetches
 * the same footprint at `next`, if not NULL, a cache line at a time. */
static void pack_transposed(float *dst, int w, const float *src, int64_t ld, int valid, int64_t k,
                            const float *next)
{
    enum { line = 64 / sizeof(float) };
    int j = 0;
    for (; j + 4 <= w; j += 4) {
        const float *rows[4];
        for (int r = 0; r < 4; r++)
            rows[r] = src + (j + r < valid ? j + r : valid - 1) * ld;
        int64_t p = 0;
        for (; p + 4 <= k; p += 4) {
            if (next && p % line == 0 && j < valid)
                for (int r = 0; r < 4; r++)
                    __builtin_prefetch(next + (rows[r] - src) + p);
            transpose4x4(dst + p * w + j, w, rows, p);
        }
        for (; p < k; p++)
            for (int r = 0; r < 4; r++)
                dst[p * w + j + r] = rows[r][p];
    }
    for (; j < w; j++) /* a width not a multiple of 4 */
        for (int64_t p = 0; p < k; p++)
            dst[p * w + j] = src[(j < valid ? j : valid - 1) * ld + p];
}

/* ---------------------------------------------------------------------- */
/* Blocking plan: a function of the shape (and kernel) only.              */

/* K block: a packed op(B) panel (kc * NR floats) should stay in L1 while
 * the tile's row panels stream past it. The K blocks fix where each sum is
 * rounded through C, so they depend on K alone, not on the kernel. */
#define KC_MAX 256
/* Rows of C per tile: op(B) panels are packed once per tile, so taller
 * tiles pack less; op(A) rows of a tile should sit in L2. */
#define MC_MAX 512
/* Multiply-adds a tile should hold at least, so a task is worth its
 * scheduling, and how many tiles a big problem should be cut into at
 * least, so threads can share it evenly. */
#define TILE_MIN_MADDS ((int64_t)1 << 18)
#define TILES_WANTED 32
/* Rows of a tile when op(B) has to be packed: a packed panel should serve
 * enough row panels to repay its packing. */
#define PACKED_B_MIN_ROWS 64

typedef struct gemm_plan {
    int64_t kc;               /* K block length */
    int64_t mc, nc;           /* tile of C: rows, columns */
    int64_t m_tiles, n_tiles; /* per output matrix */
    int64_t tiles;            /* tasks: output matrices * m_tiles * n_tiles */
} gemm_plan;

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t round_up(int64_t a, int64_t b)
{
    return ceil_div(a, b) * b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Cut `len` into about `parts` pieces, each a multiple of `unit`; returns
 * the piece length. */
static int64_t split_length(int64_t len, int64_t parts, int64_t unit)
{
    return round_up(ceil_div(len, max64(parts, 1)), unit);
}

/* Tiles of MR x NR multiples: enough of them for the threads to share the
 * work evenly, none so small that scheduling it costs more than it does. */
static gemm_plan make_plan(const gemm_problem *pr, const gemm_isa *isa)
{
    gemm_plan pl;
    pl.kc = split_length(pr->K, ceil_div(pr->K, KC_MAX), 1);

    int64_t outputs = pr->reduce_batch ? 1 : pr->batch;
    double madds = (double)pr->M * (double)pr->N * (double)pr->K * (double)pr->batch;
    int64_t tiles_wanted = madds >= (double)(TILES_WANTED * TILE_MIN_MADDS)
                               ? TILES_WANTED
                               : max64(1, (int64_t)(madds / (double)TILE_MIN_MADDS));
    int64_t per_output = ceil_div(tiles_wanted, outputs);

    /* Cut N first, then M: a packed op(B) panel is packed again for every
     * tile of rows. */
    int64_t n_panels = ceil_div(pr->N, isa->nr);
    int64_t min_rows = pr->trans_b ? PACKED_B_MIN_ROWS : isa->mr;
    int64_t m_tiles = ceil_div(pr->M, MC_MAX);
    if (m_tiles * n_panels < per_output)
        m_tiles = max64(m_tiles, min64(ceil_div(per_output, n_panels), ceil_div(pr->M, min_rows)));
    pl.mc = split_length(pr->M, m_tiles, isa->mr);
    pl.m_tiles = ceil_div(pr->M, pl.mc);
    pl.nc = split_length(pr->N, ceil_div(per_output, pl.m_tiles), isa->nr);
    pl.n_tiles = ceil_div(pr->N, pl.nc);
    pl.tiles = outputs * pl.m_tiles * pl.n_tiles;
    return pl;
}

/* ---------------------------------------------------------------------- */
/* Tiles                                                                  */

typedef struct gemm_job {
    gemm_problem pr;
    const gemm_isa *isa;
    gemm_plan plan;
    cpu_pool *pool;
} gemm_job;

/* Per-thread scratch: a packed op(B) panel, a packed ragged op(A) panel
 * and a C tile for ragged edges. */
typedef struct tile_scratch {
    float *b_panel; /* kc * NR */
    float *a_panel; /* MR * kc */
    float *c_tile;  /* MR * NR */
} tile_scratch;

_Static_assert((KC_MAX * (NR_MAX + MR_MAX) + MR_MAX * NR_MAX + 32) * sizeof(float) <=
                   CPU_SCRATCH_BYTES,
               "GEMM panels must fit the thread's scratch");

static tile_scratch carve_scratch(void *base, int64_t kc)
{
    tile_scratch s;
    s.b_panel = base;
    s.a_panel = s.b_panel + round_up(kc * NR_MAX, 16); /* 64-byte aligned */
    s.c_tile = s.a_panel + round_up(kc * MR_MAX, 16);
    return s;
}

/* One block of K: rows [m0, m0+mlen) by columns [n0, n0+nlen) of C_b,
 * products over k in [k0, k0+klen) of batch item b. */
typedef struct block_call {
    int64_t b, m0, mlen, n0, nlen, k0, klen;
    float *C;          /* the output matrix */
    bool load_c;       /* continue from C instead of from zero */
    bool add_bias;     /* the last block of the sum */
    const float *next_block_b; /* op(B) of the tile's next block, or NULL */
} block_call;

/* Where the micro-kernel reads op(A) rows [i0, i0+MR): in place when all
 * MR rows exist, else from a zero-padded packed copy. */
static void locate_a_panel(const gemm_job *job, const block_call *bc, int64_t i0, int mr_valid,
                           const float *a_packed, ukernel_args *u)
{
    const gemm_problem *pr = &job->pr;
    if (mr_valid < job->isa->mr) {
        u->a = a_packed;
        u->rsa = 1;
        u->csa = job->isa->mr;
    } else {
        u->a = op_a_at(pr, bc->b, i0, bc->k0);
        u->rsa = pr->trans_a ? 1 : pr->lda;
        u->csa = pr->trans_a ? pr->lda : 1;
    }
}

static void pack_a_panel(const gemm_job *job, const block_call *bc, int64_t i0, int mr_valid,
                         float *dst)
{
    const gemm_problem *pr = &job->pr;
    const float *src = op_a_at(pr, bc->b, i0, bc->k0);
    if (pr->trans_a)
        pack_rows(dst, job->isa->mr, src, pr->lda, mr_valid, bc->klen);
    else
        pack_transposed(dst, job->isa->mr, src, pr->lda, mr_valid, bc->klen, NULL);
}

/* A column panel of a tile: `width` columns for the kernel, of which
 * `valid` exist in C. A last panel at most half full takes the
 * half-width kernel. */
typedef struct col_panel {
    int64_t j0;
    int width, valid;
    ukernel_fn kernel;
} col_panel;

static col_panel column_panel(const gemm_isa *isa, int64_t j0, int64_t n_end)
{
    col_panel cp = {.j0 = j0, .width = isa->nr, .kernel = isa->ukernel};
    cp.valid = (int)min64(isa->nr, n_end - j0);
    if (cp.valid <= isa->nr / 2) {
        cp.width = isa->nr / 2;
        cp.kernel = isa->ukernel_half;
    }
    return cp;
}

/* Where op(B) for the column panel after `cp` comes from: the next panel
 * of this block, or the first of the tile's next block. It is prefetched
 * while `cp` is packed or computed (op(B) rows are strided, which hardware
 * prefetchers follow poorly); NULL when nothing follows. */
static const float *next_b_source(const gemm_job *job, const block_call *bc, const col_panel *cp)
{
    int64_t next_j0 = cp->j0 + cp->width;
    if (next_j0 < bc->n0 + bc->nlen)
        return op_b_at(&job->pr, bc->b, bc->k0, next_j0);
    return bc->next_block_b;
}

/* Points the micro-kernel at op(B) for a column panel: in place when it is
 * a full row-major slice, else packed into `buf`. */
static void prepare_b_panel(const gemm_job *job, const block_call *bc, const col_panel *cp,
                            float *buf, ukernel_args *u)
{
    const gemm_problem *pr = &job->pr;
    const float *src = op_b_at(pr, bc->b, bc->k0, cp->j0);
    const float *next = next_b_source(job, bc, cp);
    u->prefetch = NULL;
    if (pr->trans_b) {
        pack_transposed(buf, cp->width, src, pr->ldb, cp->valid, bc->klen, next);
    } else if (cp->valid < cp->width) {
        pack_rows(buf, cp->width, src, pr->ldb, cp->valid, bc->klen);
    } else {
        u->b = src;
        u->rsb = pr->ldb;
        u->prefetch = next;
        return;
    }
    u->b = buf;
    u->rsb = cp->width;
}

/* The bias values of a micro-tile, zero padded to the kernel's size when
 * the tile is ragged. */
static void locate_bias(const gemm_job *job, const block_call *bc, int64_t i0, int mr_valid,
                        const col_panel *cp, float *row_pad, float *col_pad, ukernel_args *u)
{
    const gemm_problem *pr = &job->pr;
    u->row_bias = u->col_bias = NULL;
    if (!bc->add_bias || pr->bias_mode == 0)
        return;
    if (pr->bias_mode == 1) {
        u->row_bias = pr->bias + i0;
        if (mr_valid < job->isa->mr) {
            memset(row_pad, 0, MR_MAX * sizeof(float));
            memcpy(row_pad, pr->bias + i0, (size_t)mr_valid * sizeof(float));
            u->row_bias = row_pad;
        }
    } else {
        u->col_bias = pr->bias + cp->j0;
        if (cp->valid < cp->width) {
            memset(col_pad, 0, NR_MAX * sizeof(float));
            memcpy(col_pad, pr->bias + cp->j0, (size_t)cp->valid * sizeof(float));
            u->col_bias = col_pad;
        }
    }
}

/* A ragged micro-tile goes through a full-size copy so that the kernel
 * never reads or writes outside C. (The copy's padding is zeroed so that
 * stale scratch bytes cannot turn into slow denormal arithmetic.) */
static void run_ragged_tile(const gemm_job *job, const col_panel *cp, ukernel_args *u, float *c,
                            int mr_valid, float *c_tile)
{
    const int64_t ldc = job->pr.ldc;
    const size_t row_bytes = (size_t)cp->valid * sizeof(float);
    if (u->load_c) {
        memset(c_tile, 0, (size_t)(job->isa->mr * cp->width) * sizeof(float));
        for (int i = 0; i < mr_valid; i++)
            memcpy(c_tile + i * cp->width, c + i * ldc, row_bytes);
    }
    u->c = c_tile;
    u->ldc = cp->width;
    cp->kernel(u);
    for (int i = 0; i < mr_valid; i++)
        memcpy(c + i * ldc, c_tile + i * cp->width, row_bytes);
}

/* One K block of a tile: each column panel of op(B) is made ready once and
 * then meets every row panel of op(A). */
static void run_block(const gemm_job *job, const block_call *bc, const tile_scratch *s)
{
    const int mr = job->isa->mr;
    const int64_t ldc = job->pr.ldc;
    const int64_t m_end = bc->m0 + bc->mlen, n_end = bc->n0 + bc->nlen;
    const int64_t m_full_end = bc->m0 + bc->mlen / mr * mr;
    float row_pad[MR_MAX], col_pad[NR_MAX];

    if (m_full_end < m_end)
        pack_a_panel(job, bc, m_full_end, (int)(m_end - m_full_end), s->a_panel);

    ukernel_args u = {.k = bc->klen, .load_c = bc->load_c};
    for (int64_t j0 = bc->n0; j0 < n_end; j0 += job->isa->nr) {
        col_panel cp = column_panel(job->isa, j0, n_end);
        prepare_b_panel(job, bc, &cp, s->b_panel, &u);
        for (int64_t i0 = bc->m0; i0 < m_end; i0 += mr) {
            int mr_valid = (int)min64(mr, m_end - i0);
            float *c = bc->C + i0 * ldc + j0;
            locate_a_panel(job, bc, i0, mr_valid, s->a_panel, &u);
            locate_bias(job, bc, i0, mr_valid, &cp, row_pad, col_pad, &u);
            if (mr_valid == mr && cp.valid == cp.width) {
                u.c = c;
                u.ldc = ldc;
                cp.kernel(&u);
            } else {
                run_ragged_tile(job, &cp, &u, c, mr_valid, s->c_tile);
            }
        }
    }
}

/* Computes one tile of C completely: every K block of every batch item it
 * sums, in order. */
static void run_tile(const gemm_job *job, int64_t tile, int thread)
{
    const gemm_problem *pr = &job->pr;
    const gemm_plan *pl = &job->plan;
    int64_t per_output = pl->m_tiles * pl->n_tiles;
    int64_t out = tile / per_output, mt = tile % per_output / pl->n_tiles, nt = tile % pl->n_tiles;
    int64_t b_begin = pr->reduce_batch ? 0 : out, b_end = pr->reduce_batch ? pr->batch : out + 1;
    tile_scratch s = carve_scratch(cpu_pool_scratch(job->pool, thread), pl->kc);

    block_call bc = {
        .m0 = mt * pl->mc, .n0 = nt * pl->nc,
        .C = pr->C + (pr->reduce_batch ? 0 : out * pr->stride_c),
    };
    bc.mlen = min64(pl->mc, pr->M - bc.m0);
    bc.nlen = min64(pl->nc, pr->N - bc.n0);
    for (int64_t b = b_begin; b < b_end; b++) {
        for (int64_t k0 = 0; k0 < pr->K; k0 += pl->kc) {
            bc.b = b;
            bc.k0 = k0;
            bc.klen = min64(pl->kc, pr->K - k0);
            bc.load_c = pr->accum || b > b_begin || k0 > 0;
            bool last_k = k0 + bc.klen == pr->K;
            bc.add_bias = b == b_end - 1 && last_k;
            bc.next_block_b = bc.add_bias ? NULL
                            : last_k  ? op_b_at(pr, b + 1, 0, bc.n0)
                                      : op_b_at(pr, b, k0 + bc.klen, bc.n0);
            run_block(job, &bc, &s);
        }
    }
}

static void run_tiles(void *ctx, int64_t begin, int64_t end, int thread)
{
    for (int64_t t = begin; t < end; t++)
        run_tile(ctx, t, thread);
}

/* No products to sum (K == 0, or an empty batch in reduce mode): C keeps
 * its value (accum) or becomes zero, then gets the bias. */
static void write_bias_only(const gemm_problem *pr, float *C)
{
    for (int64_t m = 0; m < pr->M; m++) {
        float *row = C + m * pr->ldc;
        for (int64_t n = 0; n < pr->N; n++) {
            float v = pr->accum ? row[n] : 0.0f;
            if (pr->bias_mode == 1)
                v += pr->bias[m];
            else if (pr->bias_mode == 2)
                v += pr->bias[n];
            row[n] = v;
        }
    }
}

void cpu_gemm(const cpu_kernel_args *a)
{
    gemm_job job = {.pr = problem_from_args(a), .isa = select_isa(), .pool = a->pool};
    const gemm_problem *pr = &job.pr;
    if (pr->M <= 0 || pr->N <= 0 || pr->batch < 0 || (!pr->reduce_batch && pr->batch == 0))
        return;
    if (pr->K <= 0 || pr->batch == 0) {
        int64_t outputs = pr->reduce_batch ? 1 : pr->batch;
        for (int64_t b = 0; b < outputs; b++)
            write_bias_only(pr, pr->C + b * pr->stride_c);
        return;
    }
    job.plan = make_plan(pr, job.isa);
    cpu_parallel_for(job.pool, job.plan.tiles, 1, run_tiles, &job);
}
