/* vktrain — model weights as safetensors, with PyTorch's names and
 * layouts, so a state_dict saved with safetensors.torch.save_file loads
 * as is, and a file saved here loads into torch with load_state_dict. */
#ifndef VKTRAIN_WEIGHTS_H
#define VKTRAIN_WEIGHTS_H

#include "graph.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Load every parameter and state buffer of the graph from the file. The
 * file must name each one with the right shape (F32, F16, BF16 or F64
 * weights; integer counters); extra tensors are an error unless
 * allow_extra. LoRA adapters the file lacks keep their values (a base
 * model file has none). All or nothing: on error the graph keeps its
 * values. */
vkt_status vkt_graph_load_safetensors(vkt_graph *g, const char *path, bool allow_extra);

/* Save parameters and state buffers; the file is replaced atomically. */
vkt_status vkt_graph_save_safetensors(const vkt_graph *g, const char *path);
/* As vkt_graph_save_safetensors, with every LoRA adapter merged into its
 * base weight (W + alpha/rank * B A) and no adapter tensors: a plain
 * model that loads without adapters (in vktrain or PyTorch). */
vkt_status vkt_graph_save_merged_safetensors(const vkt_graph *g, const char *path);

#ifdef __cplusplus
}
#endif
#endif
