/* The autograd graph's data: a node (grad_fn) per recorded op, with edges to
 * the nodes (or leaves) that made its inputs and the tensors it saved for
 * backward. The tensor core owns these structures' lifetime, as it owns the
 * tensors' (a tensor holds its grad_fn, a node holds tensors): sg_release of
 * a tensor releases its node through sg_node_release, both in engine/core.
 * Recording nodes and running backward is the autograd layer
 * (sgen/autograd.h, engine/autograd/). */
#ifndef SGEN_NODE_H
#define SGEN_NODE_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_NODE_MAX_INPUTS 8
#define SG_NODE_MAX_OUTPUTS 4
#define SG_NODE_MAX_SAVED 8

typedef struct sg_node sg_node;

/* Computes grad_inputs[i] (new references, or NULL for "no gradient") from
 * grad_outputs[j] (borrowed; NULL means zero). Returns SG_OK or an error. */
typedef sg_status (*sg_backward_fn)(sg_node *node, sg_tensor **grad_outputs,
                                    sg_tensor **grad_inputs);

struct sg_node_edge {
  sg_node *fn;    /* producer of the input (retained), or NULL */
  int index;      /* output index of fn */
  sg_tensor *leaf; /* leaf tensor requiring grad (retained), or NULL */
};

struct sg_saved {
  sg_tensor *t;    /* a saved input (retained as is), or a detached alias of an output */
  bool is_output;  /* saved output of this node: reattached to it on unpack */
  int output_index;
  uint64_t version; /* t's storage version when saved: a later in-place write is an error */
};

struct sg_node {
  int refcount;
  const char *name;
  sg_backward_fn backward;
  bool differentiable; /* backward may run with create_graph */
  int n_inputs;
  struct sg_node_edge inputs[SG_NODE_MAX_INPUTS];
  int n_outputs;
  /* metadata of outputs, to build zero gradients */
  int out_ndim[SG_NODE_MAX_OUTPUTS];
  int64_t out_shape[SG_NODE_MAX_OUTPUTS][SG_MAX_DIMS];
  int out_dtype[SG_NODE_MAX_OUTPUTS];
  int n_saved;
  struct sg_saved saved[SG_NODE_MAX_SAVED];
  bool released; /* saved tensors freed after backward */
  /* Bit k set: the gradient of input k is wanted by the running backward or
   * grad(). Set by the engine before each call of `backward` (grad() asks
   * for some inputs only: a gradient penalty needs d/dx, not the weights'
   * gradients, which are then not computed, as PyTorch's
   * needs_input_grad); test it with sg_node_wants. */
  unsigned input_needed;
  /* The op's own context for its backward: a small struct per op, stored
   * and loaded with SG_CTX_STORE / SG_CTX_LOAD (engine/internal/op_ctx.h);
   * int64 elements keep it aligned for any struct of scalars. */
  int64_t ctx[24];
  void *extra;
  void (*free_extra)(void *);
  /* Anomaly mode only (else NULL): the op's input shapes and where it was
   * created (the hook's traceback), for the error naming it. Owned. */
  char *anomaly_info;
};

/* Whether a backward formula should compute the gradient of input k. */
static inline bool sg_node_wants(const sg_node *n, int k) { return (n->input_needed >> k) & 1u; }

void sg_node_retain(sg_node *n);
/* Drops a reference; a node whose count reaches 0 releases its saved
 * tensors and its edges (iteratively: a 10^5-op chain must not recurse). */
void sg_node_release(sg_node *n);

#ifdef __cplusplus
}
#endif
#endif
