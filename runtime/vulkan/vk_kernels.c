/* Shader and dispatch geometry of every kernel.
 *
 * Geometry kinds (the shader's header comment repeats its kind):
 *   ITEMS(n): one thread per item, ceil(n / local) workgroups; the shader
 *             returns for item_index() >= n.
 *   ROWS(r):  one workgroup per row (reductions: shaders/reduce.glsl); the
 *             shader returns for group_index() >= r.
 *   ITEMS((count+1)/2) for the fp16 conversions: one thread per word;
 *             likewise a thread per word for the ReLU mask (32 elements)
 *             and the byte argmax (4 outputs).
 *   GEMM:     64x64 output tiles: (ceil(N/64), ceil(M/64), batch or 1).
 * Grids over 65535 groups are folded into 2-D (see shaders/common.glsl). */
#include "vk_backend.h"
#include "vk_shader_list.h" /* generated: one SPIR-V array per shader present */

#define GEMM_TILE 64u

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static void fold(uint64_t groups, uint32_t out[3])
{
    uint64_t y = ceil_div(groups, 65535);
    out[0] = (uint32_t)(groups ? ceil_div(groups, y) : 0);
    out[1] = (uint32_t)(y ? y : 1);
    out[2] = 1;
}

static uint64_t u(int32_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

#define ITEMS(name, expr)                                                              \
    static void name(const rt_params *p, uint32_t local, uint32_t g[3])                \
    {                                                                                  \
        const int32_t *i = p->i;                                                       \
        fold(ceil_div((expr), local), g);                                              \
    }
#define ROWS(name, expr)                                                               \
    static void name(const rt_params *p, uint32_t local, uint32_t g[3])                \
    {                                                                                  \
        const int32_t *i = p->i;                                                       \
        (void)local, (void)i;                                                          \
        fold((expr), g);                                                               \
    }

ITEMS(grid_count, u(i[0]))
ITEMS(grid_im2col, u(i[0]) * u(i[1]) * u(i[4]) * u(i[5]) * u(i[12]) * u(i[13]))
ITEMS(grid_col2im, u(i[0]) * u(i[1]) * u(i[2]) * u(i[3]))
ITEMS(grid_copy2d, u(i[0]) * u(i[1]))
ROWS(grid_bias_grad, u(i[1]))
/* A thread per mask word with write_mask, per argmax word with bytes. */
ITEMS(grid_act_fwd, i[2] ? ceil_div(u(i[0]), 32) : u(i[0]))
ITEMS(grid_maxpool_fwd, i[12] ? ceil_div(u(i[0]) * u(i[9]) * u(i[10]), 4) : u(i[0]) * u(i[9]) * u(i[10]))
ITEMS(grid_pool_out, u(i[0]) * u(i[9]) * u(i[10]))
ITEMS(grid_pool_in, u(i[0]) * u(i[1]) * u(i[2]))
ROWS(grid_gap_fwd, u(i[0]))
ITEMS(grid_gap_bwd, u(i[0]) * u(i[1]))
ROWS(grid_bn_rows, u(i[1]))
ITEMS(grid_bn_eval, u(i[0]) * u(i[1]) * u(i[2]))
ROWS(grid_ln_fwd, u(i[0]))
ROWS(grid_ln_bwd, u(i[0]) + ceil_div(u(i[1]), local))
ITEMS(grid_embed_fwd, u(i[0]) * u(i[2]))
ITEMS(grid_embed_bwd, u(i[1]) * u(i[2]))
ROWS(grid_single, 1)
ITEMS(grid_nd, u(i[0]) * u(i[1]))
ITEMS(grid_pairs, (u(i[0]) + 1) / 2)
ITEMS(grid_rows, u(i[0]) * u(i[2]) * u(i[3]))
ITEMS(grid_wino_filters, u(i[0]) * u(i[1]))
ITEMS(grid_wino_input, u(i[0]) * u(i[1]) * ((u(i[6]) + 1) / 2) * ((u(i[7]) + 1) / 2))
ITEMS(grid_wino_output, u(i[0]) * u(i[1]) * ((u(i[2]) + 1) / 2) * ((u(i[3]) + 1) / 2))
/* Attention: a thread per element of a [batch, heads, T, D] row set. */
ITEMS(grid_attn_q, u(i[0]) * u(i[1]) * u(i[2]) * u(i[4]))
ITEMS(grid_attn_kv, u(i[0]) * u(i[1]) * u(i[3]) * u(i[4]))
ITEMS(grid_dwconv_out, u(i[0]) * u(i[1]) * u(i[12]) * u(i[13]))
ROWS(grid_dwconv_weights, u(i[1]) * u(i[4]) * u(i[5]))

static void grid_gemm(const rt_params *p, uint32_t local, uint32_t g[3])
{
    (void)local;
    const int32_t *i = p->i;
    g[0] = (uint32_t)ceil_div(u(i[1]), GEMM_TILE);
    g[1] = (uint32_t)ceil_div(u(i[0]), GEMM_TILE);
    g[2] = i[14] ? 1u : (uint32_t)u(i[8]);
}

#define SPIRV(shader) {SHADER_CODE(shader), SHADER_BYTES(shader)}
/* A kernel with one shader. */
#define K(kernel, shader, local, grid) [kernel] = {SPIRV(shader), {NULL, 0}, 0, local, grid}
/* A kernel whose shader has a variant (shader##suffix) for devices with
 * the features `needs`. */
#define KV(kernel, shader, suffix, needs, local, grid) \
    [kernel] = {SPIRV(shader), SPIRV(shader##suffix), needs, local, grid}
/* Variants: native 16-bit storage; subgroup reductions (shaders/reduce.glsl). */
#define K16(kernel, shader, local, grid) KV(kernel, shader, _s16, VK_FEATURE_STORAGE16, local, grid)
#define KSG(kernel, shader, local, grid) KV(kernel, shader, _sg, VK_FEATURE_SUBGROUP, local, grid)

static const vk_kernel_info kernel_table[RT_K_COUNT] = {
    K(RT_K_GEMM, gemm, 256, grid_gemm),
    K(RT_K_IM2COL, im2col, 128, grid_im2col),
    K(RT_K_COL2IM, col2im, 128, grid_col2im),
    K(RT_K_ACT_FWD, act_fwd, 128, grid_act_fwd),
    K(RT_K_ACT_BWD, act_bwd, 128, grid_count),
    K(RT_K_ADD, add, 128, grid_count),
    K(RT_K_COPY, copy, 128, grid_count),
    K(RT_K_COPY2D, copy2d, 128, grid_copy2d),
    K(RT_K_FILL, fill, 128, grid_count),
    KSG(RT_K_BIAS_GRAD, bias_grad, 128, grid_bias_grad),
    K(RT_K_MAXPOOL_FWD, maxpool_fwd, 128, grid_maxpool_fwd),
    K(RT_K_MAXPOOL_BWD, maxpool_bwd, 128, grid_pool_in),
    K(RT_K_AVGPOOL_FWD, avgpool_fwd, 128, grid_pool_out),
    K(RT_K_AVGPOOL_BWD, avgpool_bwd, 128, grid_pool_in),
    KSG(RT_K_GAP_FWD, gap_fwd, 128, grid_gap_fwd),
    K(RT_K_GAP_BWD, gap_bwd, 128, grid_gap_bwd),
    KSG(RT_K_BN_TRAIN_FWD, bn_train_fwd, 128, grid_bn_rows),
    K(RT_K_BN_EVAL_FWD, bn_eval_fwd, 128, grid_bn_eval),
    KSG(RT_K_BN_BWD, bn_bwd, 128, grid_bn_rows),
    KSG(RT_K_LN_FWD, ln_fwd, 128, grid_ln_fwd),
    KSG(RT_K_LN_BWD, ln_bwd, 128, grid_ln_bwd),
    K(RT_K_DROPOUT_FWD, dropout_fwd, 128, grid_count),
    K(RT_K_DROPOUT_BWD, dropout_bwd, 128, grid_count),
    K(RT_K_EMBED_FWD, embed_fwd, 128, grid_embed_fwd),
    K(RT_K_EMBED_BWD, embed_bwd, 128, grid_embed_bwd),
    KSG(RT_K_SOFTMAX_CE_FWD, softmax_ce_fwd, 128, grid_single),
    K(RT_K_SOFTMAX_CE_BWD, softmax_ce_bwd, 128, grid_nd),
    KSG(RT_K_MSE_FWD, mse_fwd, 128, grid_single),
    K(RT_K_MSE_BWD, mse_bwd, 128, grid_nd),
    KSG(RT_K_GRAD_NORM, grad_norm, 128, grid_single),
    K(RT_K_SGD, sgd, 128, grid_count),
    K(RT_K_ADAMW, adamw, 128, grid_count),
    K16(RT_K_PACK_F16, pack_f16, 128, grid_pairs),
    K16(RT_K_UNPACK_F16, unpack_f16, 128, grid_pairs),
    K(RT_K_GATHER_ROWS, gather_rows, 128, grid_rows),
    K(RT_K_SCATTER_ROWS, scatter_rows, 128, grid_rows),
    K(RT_K_WINO_WEIGHT, wino_weight, 128, grid_wino_filters),
    K(RT_K_WINO_WEIGHT_BWD, wino_weight_bwd, 128, grid_wino_filters),
    K(RT_K_WINO_INPUT, wino_input, 128, grid_wino_input),
    K(RT_K_WINO_INPUT_BWD, wino_input_bwd, 128, grid_col2im),
    K(RT_K_WINO_OUTPUT, wino_output, 128, grid_wino_output),
    K(RT_K_WINO_OUTPUT_BWD, wino_output_bwd, 128, grid_wino_output),
    K(RT_K_ATTN_FWD, attn_fwd, 128, grid_attn_q),
    K(RT_K_ATTN_BWD_Q, attn_bwd_q, 128, grid_attn_q),
    K(RT_K_ATTN_BWD_KV, attn_bwd_kv, 128, grid_attn_kv),
    K(RT_K_DWCONV_FWD, dwconv_fwd, 128, grid_dwconv_out),
    K(RT_K_DWCONV_BWD_INPUT, dwconv_bwd_input, 128, grid_col2im),
    K(RT_K_DWCONV_BWD_WEIGHT, dwconv_bwd_weight, 128, grid_dwconv_weights),
};

const vk_kernel_info *vk_kernel_get(rt_kernel k)
{
    return (unsigned)k < RT_K_COUNT ? &kernel_table[k] : NULL;
}

const vk_spirv *vk_kernel_spirv(const vk_kernel_info *info, uint32_t features)
{
    bool usable = info->variant.code && (features & info->variant_needs) == info->variant_needs;
    return usable ? &info->variant : &info->portable;
}
