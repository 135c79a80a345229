/* vktrain — building a network as a graph with static shapes.
 *
 * Shapes are per sample: the batch dimension is implicit and chosen when a
 * trainer is compiled, so one graph serves training, evaluation and a
 * partial last batch. Image tensors are [C, H, W] per sample (NCHW in
 * memory), like PyTorch.
 *
 * Builder calls return a tensor id (>= 0) or VKT_NO_TENSOR on error. An
 * error is sticky: later calls that take a bad id also return
 * VKT_NO_TENSOR, and vkt_graph_status() reports the first failure, so a
 * network can be described without checking every call.
 *
 * Layers that own parameters take a name; parameters are called
 * "<name>.weight", "<name>.bias" (and "<name>.running_mean",
 * "<name>.running_var", "<name>.num_batches_tracked" for batch norm),
 * with PyTorch's layouts, so names like "features.0" match a PyTorch
 * state_dict. Parameters are initialised as PyTorch initialises them,
 * from the graph's seed. */
#ifndef VKTRAIN_GRAPH_H
#define VKTRAIN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VKT_MAX_RANK 4
#define VKT_NO_TENSOR (-1)

typedef struct vkt_graph vkt_graph;
typedef int32_t vkt_tensor;

typedef enum vkt_dtype {
    VKT_F32 = 0,
    VKT_I32 = 1, /* class labels, embedding indices */
} vkt_dtype;

typedef enum vkt_activation {
    VKT_ACT_RELU = 0,
    VKT_ACT_RELU6 = 1,
    VKT_ACT_GELU = 2, /* exact (erf) form, PyTorch's default */
    VKT_ACT_SILU = 3,
    VKT_ACT_SIGMOID = 4,
    VKT_ACT_TANH = 5,
} vkt_activation;

typedef struct vkt_conv2d_params {
    int out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;     /* 0 means 1 */
    int pad_h, pad_w;
    int dilation_h, dilation_w; /* 0 means 1 */
    int groups;                 /* 0 means 1; in_channels for depthwise */
    bool bias;
} vkt_conv2d_params;

typedef struct vkt_pool2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w; /* 0 means the kernel size, as in PyTorch */
    int pad_h, pad_w;
    bool count_include_pad; /* avg pool only; PyTorch's default is true */
} vkt_pool2d_params;

vkt_status vkt_graph_create(uint64_t seed, vkt_graph **out);
void vkt_graph_destroy(vkt_graph *graph);

/* First error met while building, or VKT_OK. */
vkt_status vkt_graph_status(const vkt_graph *graph);

/* A graph input with per-sample shape dims[0..rank-1] (rank 0 allowed:
 * one scalar per sample, e.g. a class label). Inputs are fed to a trainer
 * in the order they were declared. */
vkt_tensor vkt_input(vkt_graph *g, const char *name, vkt_dtype dtype, int rank, const int *dims);

vkt_tensor vkt_linear(vkt_graph *g, vkt_tensor x, int out_features, bool bias, const char *name);
vkt_tensor vkt_conv2d(vkt_graph *g, vkt_tensor x, const vkt_conv2d_params *p, const char *name);
vkt_tensor vkt_max_pool2d(vkt_graph *g, vkt_tensor x, const vkt_pool2d_params *p);
vkt_tensor vkt_avg_pool2d(vkt_graph *g, vkt_tensor x, const vkt_pool2d_params *p);
/* [C, H, W] -> [C] */
vkt_tensor vkt_global_avg_pool(vkt_graph *g, vkt_tensor x);
/* Over [C] or [C, H, W]; training plans use batch statistics and update
 * the running ones, evaluation plans use the running ones. momentum as in
 * PyTorch (0.1 default). */
vkt_tensor vkt_batch_norm(vkt_graph *g, vkt_tensor x, float eps, float momentum, const char *name);
/* Over the last dimension, with weight and bias. */
vkt_tensor vkt_layer_norm(vkt_graph *g, vkt_tensor x, float eps, const char *name);
/* Multi-head scaled dot-product attention over per-sample q [T_q, E],
 * k and v [T_k, E], E = heads * D: head h uses columns h*D .. h*D+D-1 of
 * each, out [T_q, E] = softmax(Q K^T / sqrt(D)) V per head, as PyTorch's
 * scaled_dot_product_attention after the projections. causal: query i
 * sees keys 0..i only (PyTorch's is_causal, aligned at the top left). */
vkt_tensor vkt_attention(vkt_graph *g, vkt_tensor q, vkt_tensor k, vkt_tensor v, int heads, bool causal);
vkt_tensor vkt_activation_op(vkt_graph *g, vkt_tensor x, vkt_activation act);
vkt_tensor vkt_relu(vkt_graph *g, vkt_tensor x);
vkt_tensor vkt_add(vkt_graph *g, vkt_tensor a, vkt_tensor b);
/* Concatenate along per-sample axis `axis` (0 = channels). */
vkt_tensor vkt_concat(vkt_graph *g, int count, const vkt_tensor *xs, int axis);
vkt_tensor vkt_reshape(vkt_graph *g, vkt_tensor x, int rank, const int *dims);
vkt_tensor vkt_flatten(vkt_graph *g, vkt_tensor x);
/* Zeroes each element with probability p in training plans, scaling the
 * rest by 1/(1-p); identity in evaluation plans. */
vkt_tensor vkt_dropout(vkt_graph *g, vkt_tensor x, float p);
/* indices: an I32 tensor; output adds a trailing dimension `dim`. */
vkt_tensor vkt_embedding(vkt_graph *g, vkt_tensor indices, int num_embeddings, int dim, const char *name);

/* Mean over the batch of the cross entropy of softmax(logits [C]) against
 * I32 labels (rank 0), with PyTorch's label smoothing. Evaluation also
 * counts correct argmax predictions. */
vkt_tensor vkt_softmax_cross_entropy(vkt_graph *g, vkt_tensor logits, vkt_tensor labels, float label_smoothing);
/* Mean over every element of (pred - target)^2, like torch's MSELoss. */
vkt_tensor vkt_mse_loss(vkt_graph *g, vkt_tensor pred, vkt_tensor target);

/* Shape of a tensor (per sample). Returns the rank, or -1 for a bad id. */
int vkt_tensor_shape(const vkt_graph *g, vkt_tensor t, int dims[VKT_MAX_RANK]);

/* Parameters and state buffers, in creation order. */
int vkt_graph_param_count(const vkt_graph *g);
typedef struct vkt_param_info {
    const char *name;
    int rank;
    int64_t dims[VKT_MAX_RANK];
    size_t numel;
    bool is_state; /* running statistics etc.: saved, never trained */
    bool is_adapter; /* a LoRA factor (vkt_graph_add_lora) */
} vkt_param_info;
vkt_status vkt_graph_param_info(const vkt_graph *g, int index, vkt_param_info *out);
/* Copy a parameter's current host values (float32) out or in. A trainer
 * holds its own copy: see vkt_trainer_sync_weights(). */
vkt_status vkt_graph_param_get(const vkt_graph *g, const char *name, float *dst, size_t count);
vkt_status vkt_graph_param_set(vkt_graph *g, const char *name, const float *src, size_t count);
size_t vkt_graph_trainable_numel(const vkt_graph *g);

/* LoRA adapters (Hu et al. 2021), named as PEFT names them. On a linear
 * or 1x1 convolution layer (stride 1, no padding, groups 1) named
 * `layer`, y = base(x) + (alpha / rank) * B (A x), with A
 * "<layer>.lora_A.weight" [rank, in] (PyTorch's Linear initialisation)
 * and B "<layer>.lora_B.weight" [out, rank] (zeros), so the output is
 * unchanged until B is trained ([rank, in, 1, 1] and [out, rank, 1, 1]
 * for a convolution). VKT_TRAIN_LORA trains the adapters only. Add
 * adapters before creating trainers. */
vkt_status vkt_graph_add_lora(vkt_graph *g, const char *layer, int rank, float alpha);
/* An adapter on every linear and eligible 1x1 convolution layer that
 * has none yet; *added (may be NULL) gets their number. */
vkt_status vkt_graph_add_lora_all(vkt_graph *g, int rank, float alpha, int *added);

#ifdef __cplusplus
}
#endif
#endif
