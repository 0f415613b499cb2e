/* Every op of the engine. Conventions (see tensor.h): returns a new
 * reference or NULL with sg_last_error() set; dims are 0-based; tensors
 * are borrowed; optional tensors are NULL when absent. Each op records its
 * backward formula when grad mode is on. */
#ifndef SGEN_OPS_H
#define SGEN_OPS_H

#include "sgen/tensor.h"
#include "sgen/ops_elementwise.h"
#include "sgen/ops_reduce.h"
#include "sgen/ops_linalg.h"
#include "sgen/ops_nn.h"
#include "sgen/ops_index.h"
#include "sgen/ops_sparse.h"
#include "sgen/ops_optim.h"

#endif
