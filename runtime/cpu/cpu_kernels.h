/* CPU kernels: one function per rt_kernel, all with the same signature.
 * args[i] already points at the view's first byte; sizes[i] is the view's
 * size in bytes (0 when absent). Launches are validated before they reach
 * a kernel (rt_launch_validate), so kernels trust their arguments. */
#ifndef VKT_CPU_KERNELS_H
#define VKT_CPU_KERNELS_H

#include <stddef.h>

#include "../kernels.h"
#include "pool.h"

typedef struct cpu_kernel_args {
    cpu_pool *pool;
    const rt_params *p;
    void *args[RT_MAX_ARGS];
    size_t sizes[RT_MAX_ARGS];
} cpu_kernel_args;

typedef void (*cpu_kernel_fn)(const cpu_kernel_args *a);

/* Table indexed by rt_kernel; defined in cpu_kernels.c. */
extern const cpu_kernel_fn cpu_kernel_table[RT_K_COUNT];

/* Kernel implementations, grouped by file. */
void cpu_gemm(const cpu_kernel_args *a);            /* gemm.c       */
const char *cpu_gemm_isa(void); /* name of the GEMM kernel in use */
void cpu_im2col(const cpu_kernel_args *a);          /* im2col.c     */
void cpu_col2im(const cpu_kernel_args *a);
void cpu_act_fwd(const cpu_kernel_args *a);         /* activation.c */
void cpu_act_bwd(const cpu_kernel_args *a);
void cpu_add(const cpu_kernel_args *a);             /* elementwise.c*/
void cpu_copy(const cpu_kernel_args *a);
void cpu_copy2d(const cpu_kernel_args *a);
void cpu_fill(const cpu_kernel_args *a);
void cpu_bias_grad(const cpu_kernel_args *a);
void cpu_dropout_fwd(const cpu_kernel_args *a);
void cpu_dropout_bwd(const cpu_kernel_args *a);
void cpu_maxpool_fwd(const cpu_kernel_args *a);     /* pool2d.c     */
void cpu_maxpool_bwd(const cpu_kernel_args *a);
void cpu_avgpool_fwd(const cpu_kernel_args *a);
void cpu_avgpool_bwd(const cpu_kernel_args *a);
void cpu_gap_fwd(const cpu_kernel_args *a);
void cpu_gap_bwd(const cpu_kernel_args *a);
void cpu_bn_train_fwd(const cpu_kernel_args *a);    /* batchnorm.c  */
void cpu_bn_eval_fwd(const cpu_kernel_args *a);
void cpu_bn_bwd(const cpu_kernel_args *a);
void cpu_ln_fwd(const cpu_kernel_args *a);          /* layernorm.c  */
void cpu_ln_bwd(const cpu_kernel_args *a);
void cpu_embed_fwd(const cpu_kernel_args *a);       /* embedding.c  */
void cpu_embed_bwd(const cpu_kernel_args *a);
void cpu_softmax_ce_fwd(const cpu_kernel_args *a);  /* loss.c       */
void cpu_softmax_ce_bwd(const cpu_kernel_args *a);
void cpu_mse_fwd(const cpu_kernel_args *a);
void cpu_mse_bwd(const cpu_kernel_args *a);
void cpu_grad_norm(const cpu_kernel_args *a);       /* optimizer.c  */
void cpu_sgd(const cpu_kernel_args *a);
void cpu_adamw(const cpu_kernel_args *a);
void cpu_pack_f16(const cpu_kernel_args *a);        /* convert.c    */
void cpu_unpack_f16(const cpu_kernel_args *a);
void cpu_gather_rows(const cpu_kernel_args *a);     /* gather.c     */
void cpu_scatter_rows(const cpu_kernel_args *a);
void cpu_wino_weight(const cpu_kernel_args *a);     /* winograd.c   */
void cpu_wino_weight_bwd(const cpu_kernel_args *a);
void cpu_wino_input(const cpu_kernel_args *a);
void cpu_wino_input_bwd(const cpu_kernel_args *a);
void cpu_wino_output(const cpu_kernel_args *a);
void cpu_wino_output_bwd(const cpu_kernel_args *a);
void cpu_attn_fwd(const cpu_kernel_args *a);        /* attention.c  */
void cpu_attn_bwd_q(const cpu_kernel_args *a);
void cpu_attn_bwd_kv(const cpu_kernel_args *a);
void cpu_dwconv_fwd(const cpu_kernel_args *a);      /* depthwise.c  */
void cpu_dwconv_bwd_input(const cpu_kernel_args *a);
void cpu_dwconv_bwd_weight(const cpu_kernel_args *a);

/* Scalars buffer access (32-bit words holding floats or uint32). */
static inline float cpu_scalar_f(const void *sc, int slot)
{
    return ((const float *)sc)[slot];
}
static inline unsigned cpu_scalar_u(const void *sc, int slot)
{
    return ((const unsigned *)sc)[slot];
}

#endif
