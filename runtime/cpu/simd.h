/* Instruction-set dispatch for the hand-vectorised non-GEMM kernels
 * (im2col, col2im, 2x2 max pooling, activations, bias gradient).
 *
 * The library is built for baseline x86-64 (SSE2), so the hot loops come
 * in two forms:
 *  - plain C loops marked CPU_CLONES: GCC compiles them once per listed
 *    ISA and picks one at load time. They do the same float operations in
 *    the same order on every ISA (-std=c11 turns contraction into FMA off,
 *    reductions are written with explicit lanes), so their results do not
 *    depend on the ISA;
 *  - AVX-512 intrinsics (CPU_TARGET_AVX512) for kernels that need masked
 *    loads and stores or lane shuffles, chosen at run time when
 *    cpu_simd_avx512() says so, next to a portable C version that gives
 *    the same bits. */
#ifndef VKT_CPU_SIMD_H
#define VKT_CPU_SIMD_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CPU_HAVE_AVX512 1
#define CPU_TARGET_AVX512 __attribute__((target("avx512f")))
#define CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_HAVE_AVX512 0
#define CPU_CLONES
#endif

#if CPU_HAVE_AVX512
/* Lanes [a, b) of a 16-lane mask, clamped to [0, 16). */
CPU_TARGET_AVX512 static inline __mmask16 lanes16(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a;
    b = b > 16 ? 16 : b;
    if (b <= a)
        return 0;
    return (__mmask16)(((1u << (b - a)) - 1u) << a);
}
#endif

/* Whether the AVX-512 intrinsic paths run: the CPU has AVX-512F and
 * cpu_simd_use_isa() did not force the portable code. Defined in
 * elementwise.c. */
bool cpu_simd_avx512(void);

/* For tests and benchmarks (like cpu_gemm_use_isa): "generic" forces the
 * portable versions of the intrinsic paths, "avx512" or NULL restores the
 * best one. Returns the name now in use. CPU_CLONES loops are unaffected. */
const char *cpu_simd_use_isa(const char *name);

#endif
