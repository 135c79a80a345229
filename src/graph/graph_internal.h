/* Graph internals: nodes (one output tensor each) and parameters.
 * Nodes are appended in order and only reference earlier nodes, so the
 * node array is already a topological order. */
#ifndef VKT_GRAPH_INTERNAL_H
#define VKT_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/graph.h>

typedef enum op_kind {
    OP_INPUT,
    OP_LINEAR,
    OP_CONV2D,
    OP_MAXPOOL,
    OP_AVGPOOL,
    OP_GAP,
    OP_BATCHNORM,
    OP_LAYERNORM,
    OP_ACTIVATION,
    OP_ADD,
    OP_CONCAT,
    OP_RESHAPE,
    OP_DROPOUT,
    OP_EMBEDDING,
    OP_SOFTMAX_CE,
    OP_MSE,
    OP_ATTENTION,
    OP_KIND_COUNT
} op_kind;

#define NODE_MAX_INPUTS 16
#define NODE_MAX_PARAMS 5
#define NODE_MAX_IATTR 16
#define NODE_MAX_FATTR 4

typedef struct node {
    op_kind kind;
    int ninputs;
    int inputs[NODE_MAX_INPUTS];
    int nparams;
    int params[NODE_MAX_PARAMS]; /* indices into graph->params */
    vkt_dtype dtype;
    int rank;
    int dims[VKT_MAX_RANK]; /* per sample */
    size_t numel;           /* per sample */
    int iattr[NODE_MAX_IATTR];
    float fattr[NODE_MAX_FATTR];
    char *name; /* NULL for unnamed nodes */
    /* LoRA adapter (vkt_graph_add_lora), on linear and 1x1 conv nodes:
     * y += lora_scale * B (A x); lora_rank 0 when there is none. */
    int lora_rank;
    int lora_a, lora_b; /* param indices of A [rank, in] and B [out, rank] */
    float lora_scale;   /* alpha / rank */
} node;

typedef struct param {
    char *name;
    int rank;
    int64_t dims[VKT_MAX_RANK];
    size_t numel;
    float *data;      /* host copy */
    bool is_state;    /* running statistics: saved, never trained */
    bool is_adapter;  /* a LoRA factor (vkt_graph_add_lora)          */
    bool is_counter;  /* stored as I64 in files (num_batches_tracked) */
    int node;         /* owning node */
} param;

struct vkt_graph {
    node *nodes;
    int node_count, node_cap;
    param *params;
    int param_count, param_cap;
    int inputs[NODE_MAX_INPUTS]; /* input node ids in declaration order */
    int input_count;
    vkt_status error; /* first build error */
    uint64_t seed;
    uint64_t rng;     /* parameter initialisation stream */
};

/* Record a build error (first one wins) and return VKT_NO_TENSOR. */
vkt_tensor graph_fail(vkt_graph *g, vkt_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Check that `t` is a valid tensor id of g (and that g has no error). */
bool graph_check(vkt_graph *g, vkt_tensor t, const char *op);
/* Append a node; copies shape; returns its id or VKT_NO_TENSOR. */
vkt_tensor graph_add_node(vkt_graph *g, const node *n);
/* Add a parameter owned by the node that will be added next. Returns
 * its index or -1 (error recorded). */
int graph_add_param(vkt_graph *g, const char *layer, const char *suffix, int rank, const int64_t *dims, bool is_state);
const node *graph_node(const vkt_graph *g, int id);
int graph_param_find(const vkt_graph *g, const char *name);

/* Initialisers (init.c), drawing from the graph's seeded stream. */
void init_uniform(vkt_graph *g, float *x, size_t n, float bound);
void init_normal(vkt_graph *g, float *x, size_t n, float stddev);
void init_fill(float *x, size_t n, float value);

size_t shape_numel(int rank, const int *dims);

#endif
