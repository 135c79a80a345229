/* The kernel set every backend implements.
 *
 * A launch names a kernel, carries up to RT_MAX_ARGS buffer views and a
 * 128-byte parameter block (it maps one to one onto Vulkan push
 * constants). All tensors are float32, contiguous, row-major unless the
 * kernel says otherwise; "int" arguments hold int32. Sizes and strides in
 * params are element counts. A view of size 0 means "absent".
 *
 * `accum` (where listed): 0 writes the output, 1 adds into it. This is how
 * a gradient that has several contributors is summed without a separate
 * pass.
 *
 * Every kernel is deterministic: its result does not depend on the
 * number of threads or on scheduling (reductions run in a fixed order).
 *
 * Scalars buffer: a small array of 32-bit words (RT_SC_*) that the host
 * writes before a step (learning rate, step number, seed) and kernels
 * write during it (loss, metrics, clip factor). */
#ifndef VKT_RT_KERNELS_H
#define VKT_RT_KERNELS_H

#include <stdint.h>

#define RT_MAX_ARGS 8
#define RT_MAX_IPARAMS 24
#define RT_MAX_FPARAMS 8

typedef struct rt_params {
    int32_t i[RT_MAX_IPARAMS];
    float f[RT_MAX_FPARAMS];
} rt_params;

/* Scalars buffer slots (32-bit words). F: float, U: uint32. */
enum rt_scalar_slot {
    RT_SC_LR = 0,         /* F host: learning rate of this step             */
    RT_SC_STEP = 1,       /* U host: optimizer step number t, 1-based       */
    RT_SC_SEED = 2,       /* U host: random seed of this step (dropout)     */
    RT_SC_BIAS_CORR1 = 3, /* F host: 1 - beta1^t (AdamW)                    */
    RT_SC_BIAS_CORR2 = 4, /* F host: 1 - beta2^t (AdamW)                    */
    RT_SC_CLIP_SCALE = 5, /* F kernel GRAD_NORM: factor applied to grads    */
    RT_SC_GRAD_NORM = 6,  /* F kernel GRAD_NORM: global L2 norm             */
    RT_SC_LOSS = 7,       /* F kernel loss fwd: mean loss of the batch      */
    RT_SC_LOSS_SUM = 8,   /* F kernel loss fwd: += loss * batch             */
    RT_SC_CORRECT = 9,    /* U kernel CE fwd: += correct argmax count       */
    RT_SC_SAMPLES = 10,   /* U kernel loss fwd: += batch                    */
    RT_SC_COUNT = 16,     /* words in the buffer                            */
};

/* Largest attention head dimension: a backend may keep a row of D
 * floats per thread. */
#define RT_ATTN_MAX_HEAD_DIM 1024

/* MAXPOOL argmax formats (i[12]). */
enum { RT_ARGMAX_I32 = 0, RT_ARGMAX_U8 = 1, RT_ARGMAX_U8_MAX_WINDOW = 255 };

typedef enum rt_act {
    RT_ACT_RELU = 0, RT_ACT_RELU6 = 1, RT_ACT_GELU = 2,
    RT_ACT_SILU = 3, RT_ACT_SIGMOID = 4, RT_ACT_TANH = 5,
} rt_act;

typedef enum rt_kernel {
    /* C = op(A) * op(B) (+ bias) for `batch` independent problems.
     * args: 0 A, 1 B, 2 C, 3 bias (optional)
     * i: 0 M, 1 N, 2 K, 3 transA, 4 transB, 5 lda, 6 ldb, 7 ldc,
     *    8 batch, 9 strideA, 10 strideB, 11 strideC, 12 bias_mode
     *    (0 none, 1 bias[M] per row, 2 bias[N] per column), 13 accum,
     *    14 reduce_batch (1: strideC is ignored and C = sum over the
     *    batch of op(A_b) op(B_b), summed in batch order),
     *    15 reserved for backends (0 from callers): in reduce mode the
     *    first batch item to sum, so a backend may split a long sum into
     *    chained launches (accum 1, bias on the last) without changing
     *    the order of the additions.
     * op(A) is M x K: A[m*lda + k], or A[k*lda + m] when transA.
     * op(B) is K x N: B[k*ldb + n], or B[n*ldb + k] when transB. */
    RT_K_GEMM = 0,

    /* Unfold image patches. x: [batch, C, H, W]; col per image:
     * [C*KH*KW, OH*OW] (row = (c*KH + kh)*KW + kw), zero outside.
     * args: 0 x, 1 col (batch * C*KH*KW*OH*OW)
     * i: 0 batch, 1 C, 2 H, 3 W, 4 KH, 5 KW, 6 SH, 7 SW, 8 PH, 9 PW,
     *    10 DH, 11 DW, 12 OH, 13 OW */
    RT_K_IM2COL = 1,
    /* Fold back, summing overlaps: dx[b] (+)= col2im(col[b]).
     * args: 0 col, 1 dx; i: as IM2COL, 14 accum */
    RT_K_COL2IM = 2,

    /* y = act(x). args: 0 x, 1 y, 2 mask; i: 0 count, 1 act, 2 write_mask.
     * x and y are the same view (in place) or do not overlap.
     * write_mask (RELU and RELU6 only) also writes the derivative mask
     * that ACT_BWD can read instead of y: (count+31)/32 words, bit j of
     * word k set iff element 32k + j has act' = 1 by ACT_BWD's rule on y:
     * y > 0 for RELU, 0 < y < 6 for RELU6 (so 0, -0, 6 and NaN give 0).
     * Bits past count are 0. The mask overlaps neither x nor y. */
    RT_K_ACT_FWD = 3,
    /* dx (+)= dy * act'(.). args: 0 x, 1 y, 2 dy, 3 dx, 4 mask;
     * i: 0 count, 1 act, 2 accum, 3 from_mask. RELU, RELU6, SIGMOID, TANH
     * read y (x may be absent); GELU, SILU read x (y may be absent).
     * from_mask (RELU, RELU6): x and y are absent and the derivative is
     * the mask bit ACT_FWD wrote: dx (+)= bit ? dy : 0, the same bits as
     * reading y. */
    RT_K_ACT_BWD = 4,

    /* y = a + b. args: 0 a, 1 b, 2 y; i: 0 count. y is the same view as
     * a or b (in place) or overlaps neither. */
    RT_K_ADD = 5,
    /* dst (+)= src, or (+)= f0 * src when i2 (scaled).
     * args: 0 src, 1 dst; i: 0 count, 1 accum, 2 scaled; f: 0 scale */
    RT_K_COPY = 6,
    /* Strided row copy: for r < rows, c < cols:
     * dst[dst_off + r*dst_stride + c] (+)= src[src_off + r*src_stride + c]
     * args: 0 src, 1 dst; i: 0 rows, 1 cols, 2 src_stride, 3 dst_stride,
     * 4 src_off, 5 dst_off, 6 accum */
    RT_K_COPY2D = 7,
    /* dst[i] = value. args: 0 dst; i: 0 count; f: 0 value */
    RT_K_FILL = 8,

    /* db[c] (+)= sum over n < outer, j < inner of dy[(n*C + c)*inner + j]
     * args: 0 dy, 1 db; i: 0 outer, 1 C, 2 inner, 3 accum */
    RT_K_BIAS_GRAD = 9,

    /* Max pool (PyTorch semantics, padding never wins). x: [planes, H, W]
     * args: 0 x, 1 y [planes, OH, OW], 2 argmax
     * i: 0 planes (batch*C), 1 H, 2 W, 3 KH, 4 KW, 5 SH, 6 SW, 7 PH,
     *    8 PW, 9 OH, 10 OW, 12 argmax_format (i[11] unused):
     *  0: one int32 per output, the winner's index in the plane, -1 for a
     *     window wholly outside the input;
     *  1 (needs KH*KW <= 255): one byte per output, the winner's index in
     *     its window, kh*KW + kw counted from the window's padded origin
     *     (oh*SH - PH, ow*SW - PW), 255 for a window wholly outside.
     *     Output o is bits 8*(o%4) of word o/4: (n+3)/4 words for n
     *     outputs, the bytes past n set to 255. */
    RT_K_MAXPOOL_FWD = 10,
    /* dx (+)= scatter of dy to argmax. args: 0 dy, 1 argmax, 2 dx;
     * i: as fwd, 11 accum, 12 argmax_format. An argmax that names no
     * element of the plane (or, format 1, no element of the window) adds
     * nothing. */
    RT_K_MAXPOOL_BWD = 11,
    /* Average pool. args: 0 x, 1 y; i: as MAXPOOL_FWD,
     * 11 count_include_pad */
    RT_K_AVGPOOL_FWD = 12,
    /* args: 0 dy, 1 dx; i: as AVGPOOL_FWD, 12 accum */
    RT_K_AVGPOOL_BWD = 13,
    /* y[p] = mean of x[p, 0..hw). args: 0 x, 1 y; i: 0 planes, 1 hw */
    RT_K_GAP_FWD = 14,
    /* dx[p, j] (+)= dy[p] / hw. args: 0 dy, 1 dx; i: 0 planes, 1 hw, 2 accum */
    RT_K_GAP_BWD = 15,

    /* Batch norm with batch statistics. x, y: [N, C, HW].
     * args: 0 x, 1 gamma, 2 beta, 3 y, 4 save_mean, 5 save_invstd,
     *       6 running_mean, 7 running_var (both updated in place:
     *       r = (1-momentum) r + momentum * batch stat, unbiased var)
     * i: 0 N, 1 C, 2 HW; f: 0 eps, 1 momentum */
    RT_K_BN_TRAIN_FWD = 16,
    /* args: 0 x, 1 gamma, 2 beta, 3 running_mean, 4 running_var, 5 y
     * i: 0 N, 1 C, 2 HW, 3 from_batch_stats; f: 0 eps.
     * from_batch_stats = 1: args 3 and 4 are a training forward's saved
     * mean and inverse std, and y repeats that forward's output bit for
     * bit (recomputation in backward). */
    RT_K_BN_EVAL_FWD = 17,
    /* Backward of BN_TRAIN_FWD.
     * args: 0 x, 1 dy, 2 gamma, 3 save_mean, 4 save_invstd, 5 dx,
     *       6 dgamma, 7 dbeta (absent outputs are skipped)
     * i: 0 N, 1 C, 2 HW, 3 accum_dx, 4 accum_dparams */
    RT_K_BN_BWD = 18,

    /* Layer norm over the last dimension D of [rows, D].
     * args: 0 x, 1 gamma, 2 beta, 3 y, 4 save_mean, 5 save_rstd
     * i: 0 rows, 1 D; f: 0 eps */
    RT_K_LN_FWD = 19,
    /* args: 0 x, 1 dy, 2 gamma, 3 save_mean, 4 save_rstd, 5 dx,
     *       6 dgamma, 7 dbeta (absent outputs skipped)
     * i: 0 rows, 1 D, 2 accum_dx, 3 accum_dparams */
    RT_K_LN_BWD = 20,

    /* Inverted dropout. Element j is kept iff
     * rt_hash_uniform(seed, salt, first + j) >= p; kept elements are
     * scaled by 1/(1-p). seed is scalars[RT_SC_SEED]; first (i[3]) is
     * where these elements start in the whole batch, so a chunk of it
     * draws the whole batch's mask (first + count <= INT32_MAX).
     * args: 0 x, 1 y, 2 scalars; i: 0 count, 1 salt, 3 first; f: 0 p */
    RT_K_DROPOUT_FWD = 21,
    /* args: 0 dy, 1 dx, 2 scalars; i: 0 count, 1 salt, 2 accum, 3 first;
     * f: 0 p */
    RT_K_DROPOUT_BWD = 22,

    /* y[r, :] = W[idx[r], :]; indices are checked by the host beforehand,
     * an out-of-range one yields a zero row.
     * args: 0 idx (int), 1 W [num, dim], 2 y [rows, dim]
     * i: 0 rows, 1 num, 2 dim */
    RT_K_EMBED_FWD = 23,
    /* dW[idx[r], :] += dy[r, :] in row order (dW written, not added, for
     * rows no index names when accum = 0).
     * args: 0 idx, 1 dy, 2 dW; i: 0 rows, 1 num, 2 dim, 3 accum */
    RT_K_EMBED_BWD = 24,

    /* Softmax cross entropy with label smoothing s over [N, C] logits:
     * q = (1-s) onehot + s/C; loss = mean_n -sum_c q_c log p_c.
     * Writes probs, scalars LOSS (=), LOSS_SUM (+= loss*N), CORRECT (+=),
     * SAMPLES (+= N).
     * args: 0 logits, 1 labels (int), 2 probs, 3 scalars
     * i: 0 N, 1 C; f: 0 smoothing */
    RT_K_SOFTMAX_CE_FWD = 25,
    /* dlogits (+)= (p - q) / M, M = i[3] if > 0 (the whole batch when
     * these N rows are one micro-batch of it), else N.
     * args: 0 probs, 1 labels, 2 dlogits
     * i: 0 N, 1 C, 2 accum, 3 mean_over; f: 0 smoothing */
    RT_K_SOFTMAX_CE_BWD = 26,
    /* loss = mean over N*D of (pred - target)^2; scalars as CE (no
     * CORRECT). args: 0 pred, 1 target, 2 scalars; i: 0 N, 1 D */
    RT_K_MSE_FWD = 27,
    /* dpred (+)= 2 (pred - target) / (M*D), M as SOFTMAX_CE_BWD's.
     * args: 0 pred, 1 target, 2 dpred; i: 0 N, 1 D, 2 accum, 3 mean_over */
    RT_K_MSE_BWD = 28,

    /* norm = sqrt(sum g^2) over count elements; scalars GRAD_NORM = norm,
     * CLIP_SCALE = min(1, max_norm / (norm + 1e-6)), as
     * torch.nn.utils.clip_grad_norm_.
     * args: 0 grads, 1 scalars; i: 0 count; f: 0 max_norm */
    RT_K_GRAD_NORM = 29,
    /* torch.optim.SGD on count elements; g = grad * clip, where clip is
     * scalars[CLIP_SCALE] if use_clip else 1:
     *   g += wd * p
     *   if has_momentum: buf = (t == 1) ? g : momentum*buf + (1-dampening)*g
     *                    g = nesterov ? g + momentum*buf : buf
     *   p -= lr * g
     * args: 0 param, 1 grad, 2 momentum_buf, 3 scalars
     * i: 0 count, 1 has_momentum, 2 nesterov, 3 use_clip
     * f: 0 momentum, 1 dampening, 2 weight_decay */
    RT_K_SGD = 30,
    /* torch.optim.AdamW (amsgrad off); g as SGD:
     *   p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
     *   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
     * with bc1, bc2 from scalars.
     * args: 0 param, 1 grad, 2 m, 3 v, 4 scalars
     * i: 0 count, 1 use_clip; f: 0 beta1, 1 beta2, 2 eps, 3 weight_decay */
    RT_K_ADAMW = 31,

    /* fp16 storage of saved activations: pack count floats into IEEE
     * half precision (round to nearest even, overflow to inf, NaN kept),
     * two per 32-bit word, element 2k in the low half of word k.
     * args: 0 src (count floats), 1 dst ((count+1)/2 words); i: 0 count */
    RT_K_PACK_F16 = 32,
    /* Unpack (exact). args: 0 src ((count+1)/2 words), 1 dst (count
     * floats); i: 0 count */
    RT_K_UNPACK_F16 = 33,

    /* Row selection (sparse channel updates). For b < items, r < k,
     * j < width: dst[(b*k + r)*width + j] = src[(b*rows + idx[r])*width + j].
     * An index outside [0, rows) gives a zero row (indices come from the
     * host; this only keeps a bad one from reading out of bounds).
     * args: 0 src, 1 idx (int, k), 2 dst; i: 0 items, 1 rows, 2 k, 3 width */
    RT_K_GATHER_ROWS = 34,
    /* The inverse: dst[(b*rows + idx[r])*width + j] = src[(b*k + r)*width + j];
     * rows not named are left as they are, out-of-range indices skipped.
     * Indices must be distinct. args and i as GATHER_ROWS. */
    RT_K_SCATTER_ROWS = 35,

    /* Winograd F(2x2, 3x3) for 3x3, stride 1 convolutions: four outputs
     * per 4x4 input tile from 16 elementwise products instead of 36
     * multiplications. With B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
     * G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1]:
     *   U = G g G^T (weights), V = B^T d B (input tile),
     *   M[k] = sum over c of U[k][c] . V[c] (16 GEMMs, one per position),
     *   y tile = A^T M A.
     * Transformed tensors are position-major: T[xi][ch][p], xi = 4 i + j
     * the position (row i, column j) in the 4x4 tile. Tiles: the output
     * [OH, OW] is covered by TH x TW = ceil(OH/2) x ceil(OW/2) 2x2 tiles
     * (the last ones partly outside when OH or OW is odd); tile (th, tw)
     * of image b is p = (b*TH + th)*TW + tw of P = batch*TH*TW, and reads
     * input rows 2 th - PH + [0, 4), columns 2 tw - PW + [0, 4), zero
     * outside the image. The three *_BWD kernels are the exact adjoints
     * (transposes) of their forward kernels, so backward is
     * dM = A dY A^T, dU = sum_p dM V^T, dV = U^T dM (GEMMs), then
     * dg = G^T dU G and dx = scatter-add of B dV B^T.
     *
     * U[16, K, C] = transform of w[K, C, 3, 3].
     * args: 0 w, 1 U; i: 0 K, 1 C */
    RT_K_WINO_WEIGHT = 36,
    /* dw[K, C, 3, 3] (+)= G^T dU G. args: 0 dU, 1 dw; i: 0 K, 1 C, 2 accum */
    RT_K_WINO_WEIGHT_BWD = 37,
    /* V[16, C, P] = B^T d B of every tile of x[batch, C, H, W].
     * args: 0 x, 1 V; i: 0 batch, 1 C, 2 H, 3 W, 4 PH, 5 PW, 6 OH, 7 OW */
    RT_K_WINO_INPUT = 38,
    /* dx (+)= sum over tiles of B dV B^T, placed as WINO_INPUT reads
     * (terms outside the image dropped). args: 0 dV, 1 dx; i: as
     * WINO_INPUT, 8 accum */
    RT_K_WINO_INPUT_BWD = 39,
    /* y[batch, K, OH, OW] = A^T M A (+ bias[K]) of every tile, the parts
     * of edge tiles outside [OH, OW] dropped.
     * args: 0 M [16, K, P], 1 bias (optional), 2 y
     * i: 0 batch, 1 K, 2 OH, 3 OW */
    RT_K_WINO_OUTPUT = 40,
    /* dM[16, K, P] = A dY A^T of every tile (dy taken as 0 outside
     * [OH, OW]). args: 0 dy, 1 dM; i: as WINO_OUTPUT */
    RT_K_WINO_OUTPUT_BWD = 41,

    /* Multi-head scaled dot-product attention. q, dq, out, dout:
     * [batch, Tq, heads * D]; k, v, dk, dv: [batch, Tk, heads * D]; head
     * h uses columns h*D .. h*D+D-1. lse, delta: [batch, heads, Tq].
     * Shared i: 0 batch, 1 heads, 2 Tq, 3 Tk (>= 1), 4 D (head dim, at
     * most RT_ATTN_MAX_HEAD_DIM), 5 causal (query i sees keys j <= i);
     * f: 0 scale (> 0, finite). With s_ij = scale * q_i . k_j over the
     * keys row i sees (sums over D in ascending order):
     *   out_i = sum_j softmax(s_i)_j v_j, lse_i = log sum_j exp(s_ij),
     * the softmax taken online over j in ascending order, 16 keys at a
     * time (the running maximum m is subtracted; the sums are rescaled
     * when a block raises m), exponentials by the CPU's exp_approx.
     * Outputs share no byte with any other argument.
     * args: 0 q, 1 k, 2 v, 3 out, 4 lse */
    RT_K_ATTN_FWD = 42,
    /* Backward, query side, with p_ij = exp(s_ij - lse_i) (recomputed):
     *   delta_i = dout_i . out_i (written),
     *   dq_i (+)= scale * sum_j p_ij (dout_i . v_j - delta_i) k_j.
     * args: 0 q, 1 k, 2 v, 3 out, 4 dout, 5 lse, 6 delta, 7 dq (optional)
     * i: 6 accum_dq */
    RT_K_ATTN_BWD_Q = 43,
    /* Backward, key side, summing over the queries i that see key j in
     * ascending order:
     *   dv_j (+)= sum_i p_ij dout_i,
     *   dk_j (+)= scale * sum_i p_ij (dout_i . v_j - delta_i) q_i.
     * args: 0 q, 1 k, 2 v, 3 dout, 4 lse, 5 delta, 6 dk, 7 dv (each
     * optional) i: 6 accum_dk, 7 accum_dv */
    RT_K_ATTN_BWD_KV = 44,

    /* Direct depthwise convolution (groups == in == out channels): plane
     * (n, c) of x is convolved with filter c alone. All three kernels
     * share the geometry of IM2COL: i: 0 batch, 1 C, 2 H, 3 W, 4 KH,
     * 5 KW, 6 SH, 7 SW, 8 PH, 9 PW, 10 DH, 11 DW, 12 OH, 13 OW, with
     * x [batch, C, H, W], w [C, KH, KW], y and dy [batch, C, OH, OW];
     * input (oh*SH - PH + kh*DH, ow*SW - PW + kw*DW) feeds output
     * (oh, ow) through tap (kh, kw), x = 0 outside the image. No output
     * overlaps an input.
     *
     * y[n, c, oh, ow] = bias[c] (0 without bias), then + w * x of each
     * tap in tap order (kh, then kw), taps outside the image included
     * (as w * 0, like zero padding).
     * args: 0 x, 1 w, 2 bias (optional, [C]), 3 y */
    RT_K_DWCONV_FWD = 45,
    /* dx[n, c, ih, iw] (+)= the sum of dy[n, c, oh, ow] * w[c, kh, kw]
     * over the taps that read (ih, iw), from 0 in tap order (a backend
     * may add terms w * 0 between them); accum adds the sum to the old
     * value.
     * args: 0 dy, 1 w, 2 dx; i: geometry, 14 accum */
    RT_K_DWCONV_BWD_INPUT = 46,
    /* dw[c, kh, kw] (+)= sum over n, oh, ow of dy[n, c, oh, ow] *
     * x[n, c, ih, iw] (taps outside the image add nothing), in a fixed
     * order that depends only on the parameters.
     * args: 0 dy, 1 x, 2 dw; i: geometry, 14 accum, 15 reserved for
     * backends (0 from callers): as GEMM's, the first image to sum, so a
     * backend may chain launches over images (accum 1 after the first). */
    RT_K_DWCONV_BWD_WEIGHT = 47,

    RT_K_COUNT
} rt_kernel;

/* Counter-based uniform in [0, 1) shared by every backend, so CPU and
 * GPU draw the same dropout masks. */
static inline uint32_t rt_hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static inline float rt_hash_uniform(uint32_t seed, uint32_t salt, uint32_t index)
{
    uint32_t h = rt_hash32(index ^ rt_hash32(salt ^ rt_hash32(seed)));
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

const char *rt_kernel_name(rt_kernel k);

#endif
