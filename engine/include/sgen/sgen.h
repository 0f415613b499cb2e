/* libsgen: everything. */
#ifndef SGEN_SGEN_H
#define SGEN_SGEN_H

#include "sgen/error.h"
#include "sgen/tensor.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"
#include "sgen/rng.h"
#include "sgen/io.h"
#include "sgen/runtime.h"

#endif
