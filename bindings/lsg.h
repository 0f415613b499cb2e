/* Internal contract of the Lua bindings (module `sgen.core`).
 *
 * Tensors are full userdata (lsg_tensor) with the metatable LSG_TENSOR_MT.
 * Every binding checks its arguments with the helpers below, which raise a
 * Lua error naming the function ("sgen.<name>"), the argument and what was
 * expected. Engine failures (NULL / negative status) are turned into Lua
 * errors by lsg_push_result / lsg_check_status, prefixed with "sgen.".
 *
 * Lua conventions (ARCHITECTURE.md §3): dims and indices are 1-based and
 * negative dims count from the end; the helpers convert to the engine's
 * 0-based dims. No numeric kernels live here. */
#ifndef SGEN_BINDINGS_LSG_H
#define SGEN_BINDINGS_LSG_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "sgen/sgen.h"

#define LSG_TENSOR_MT "sgen.Tensor"

typedef struct lsg_tensor {
  sg_tensor *t; /* NULL after t:free() or __close */
} lsg_tensor;

/* ---- pushing results ---- */
/* Pushes t as a new userdata, taking over the caller's reference. t must not
 * be NULL. Reports the bytes of a fresh storage to Lua's collector. */
void lsg_push_tensor(lua_State *L, sg_tensor *t);
/* If t is NULL raises the engine's last error as "sgen.<msg>"; otherwise
 * pushes it (taking the reference) and returns 1. */
int lsg_push_result(lua_State *L, sg_tensor *t);
/* Raises the engine's last error (never returns). */
int lsg_raise_engine(lua_State *L);
/* Same, for a Lua function built on an engine op of another name (x:t() on
 * transpose, chunk on narrow, a helper op inside gather): the message is
 * "sgen.<caller>: <the engine's message>", which names both. The engine's
 * message is never edited (docs/decisions.md, "one owner per check").
 * caller NULL: as lsg_raise_engine. */
int lsg_raise_engine_in(lua_State *L, const char *caller);
/* lsg_push_result with lsg_raise_engine_in on NULL. */
int lsg_push_result_in(lua_State *L, sg_tensor *t, const char *caller);
/* Raises the engine error if st != SG_OK. */
void lsg_check_status(lua_State *L, sg_status st);
/* Pushes element `flat` (row-major logical index) of a CPU tensor as a Lua
 * value of its dtype: integer (exact for all int64), number or boolean. */
void lsg_push_element(lua_State *L, const sg_tensor *t, int64_t flat);
/* Element `flat` of a CPU int64 tensor, exactly. */
int64_t lsg_int64_at(const sg_tensor *t, int64_t flat);
/* Pushes a 1-based Lua table of dims, e.g. {2, 3}. */
void lsg_push_dims(lua_State *L, const int64_t *shape, int ndim);

/* ---- checking arguments ---- */
/* The tensor at idx (borrowed) or a Lua error:
 * "sgen.<fname>: argument <idx> (<argname>) expected a tensor, got number". */
sg_tensor *lsg_check_tensor(lua_State *L, int idx, const char *fname, const char *argname);
/* Same, but nil / none gives NULL. */
sg_tensor *lsg_opt_tensor(lua_State *L, int idx, const char *fname, const char *argname);
/* NULL if the value at idx is not a (live) tensor; never raises. */
sg_tensor *lsg_to_tensor(lua_State *L, int idx);
bool lsg_is_tensor(lua_State *L, int idx);
int lsg_l_is_tensor(lua_State *L);
/* Stores in the registry under `key` a userdata whose __gc calls gc with ud
 * as its upvalue 1: a hook that must be undone when the Lua state that set
 * it closes (lsg_check.c). */
void lsg_registry_guard(lua_State *L, const char *key, lua_CFunction gc, void *ud);
/* copy_ / fill_ into t with autograd's in-place rules (lsg_create.c); `op`
 * names the operation in errors. Raise on error. */
void lsg_copy_into(lua_State *L, sg_tensor *t, sg_tensor *src, const char *op);
void lsg_fill_into(lua_State *L, sg_tensor *t, double v, const char *op);
/* x[key] and x[key] = value for table and mask keys (lsg_indexing.c);
 * stack: 1 x, 2 key[, 3 value]. */
int lsg_index_get(lua_State *L, sg_tensor *t);
int lsg_index_set(lua_State *L, sg_tensor *t);
/* Tensor at idx, or a number converted to a 0-dim tensor of dtype `like`'s
 * dtype and device (new reference in *owned, release it after use). */
sg_tensor *lsg_check_tensor_or_number(lua_State *L, int idx, const sg_tensor *like,
                                      const char *fname, const char *argname,
                                      sg_tensor **owned);
double lsg_check_number(lua_State *L, int idx, const char *fname, const char *argname);
int64_t lsg_check_integer(lua_State *L, int idx, const char *fname, const char *argname);
bool lsg_check_boolean(lua_State *L, int idx, const char *fname, const char *argname);
const char *lsg_check_string(lua_State *L, int idx, const char *fname, const char *argname);
/* A 1-based dim d (negative from the end) of a tensor with ndim dims, to
 * 0-based. ndim_extra = 1 allows one past the end (unsqueeze, stack). */
int lsg_dim(lua_State *L, int64_t d, int ndim, int ndim_extra, const char *fname,
            const char *argname);
int lsg_check_dim(lua_State *L, int idx, int ndim, const char *fname, const char *argname);
int lsg_opt_dim(lua_State *L, int idx, int ndim, int def0, const char *fname,
                const char *argname);
/* A shape given as integers from idx to the last integer argument, or as a
 * table {2, 3} at idx. Returns ndim; *next gets the first index after the
 * shape (where an options table may follow). allow_neg permits -1 entries. */
int lsg_check_shape(lua_State *L, int idx, int64_t *shape, int *next, bool allow_neg,
                    const char *fname);
/* Formats the Lua type of idx: "tensor", "number", "nil", ... */
const char *lsg_typename(lua_State *L, int idx);

/* ---- options tables (trailing `{key = value}` argument) ---- */
/* True if idx holds a table that is not a tensor; none/nil gives false;
 * anything else raises "expected an options table". */
bool lsg_has_opts(lua_State *L, int idx, const char *fname);
/* Raises on keys not in the NULL-terminated list (catches typos):
 * "sgen.conv2d: unknown option 'strides' (expected stride, padding, ...)". */
void lsg_check_opt_keys(lua_State *L, int idx, const char *fname, const char *const *allowed);
double lsg_opt_number(lua_State *L, int idx, const char *key, double def, const char *fname);
int64_t lsg_opt_integer(lua_State *L, int idx, const char *key, int64_t def, const char *fname);
bool lsg_opt_boolean(lua_State *L, int idx, const char *key, bool def, const char *fname);
const char *lsg_opt_string(lua_State *L, int idx, const char *key, const char *def,
                           const char *fname);
/* A number or a pair {a, b} (for stride/padding/kernel): fills out[2]. */
void lsg_opt_pair(lua_State *L, int idx, const char *key, int def, int out[2], const char *fname);
/* dtype/device options: {dtype = "float64", device = "cpu"}. idx 0 = no table. */
sg_dtype lsg_opt_dtype(lua_State *L, int idx, sg_dtype def, const char *fname);
sg_device lsg_opt_device(lua_State *L, int idx, sg_device def, const char *fname);
sg_dtype lsg_parse_dtype(lua_State *L, const char *name, const char *fname);
sg_device lsg_parse_device(lua_State *L, const char *name, const char *fname);

/* ---- registration ---- */
/* Sets each function of regs into the table at idx (absolute index). */
void lsg_register(lua_State *L, int idx, const luaL_Reg *regs);

/* Each family file defines one opener. `core` is the module table, `methods`
 * the Tensor method table (absolute indices); an opener registers functions
 * into either or both (x:sum(...) and sgen.sum(x, ...) share one C function
 * taking the tensor first). */
void lsg_open_tensor(lua_State *L, int core, int methods);      /* lsg_tensor.c */
void lsg_open_create(lua_State *L, int core, int methods);      /* lsg_create.c */
void lsg_open_elementwise(lua_State *L, int core, int methods); /* lsg_elementwise.c */
void lsg_open_views(lua_State *L, int core, int methods);       /* lsg_views.c */
void lsg_open_reduce(lua_State *L, int core, int methods);      /* lsg_reduce.c */
void lsg_open_linalg(lua_State *L, int core, int methods);      /* lsg_linalg.c */
void lsg_open_index(lua_State *L, int core, int methods);       /* lsg_index.c */
void lsg_open_nn(lua_State *L, int core, int methods);          /* lsg_nn.c */
void lsg_open_sparse(lua_State *L, int core, int methods);      /* lsg_sparse.c */
void lsg_open_random(lua_State *L, int core, int methods);      /* lsg_random.c */
void lsg_open_io(lua_State *L, int core, int methods);          /* lsg_io.c */
void lsg_open_autograd(lua_State *L, int core, int methods);    /* lsg_autograd.c */
void lsg_open_system(lua_State *L, int core, int methods);      /* lsg_system.c */
void lsg_open_traceback(lua_State *L, int core, int methods);   /* lsg_traceback.c */
/* luaL_traceback with one name per function, whatever is loaded (lsg_traceback.c) */
void lsg_traceback(lua_State *L, lua_State *L1, const char *msg, int level);
void lsg_open_optim(lua_State *L, int core, int methods);       /* lsg_optim.c */
void lsg_open_dist(lua_State *L, int core, int methods);        /* lsg_dist.c */
void lsg_open_anomaly(lua_State *L, int core, int methods);     /* lsg_anomaly.c */

/* Anomaly mode (lsg_anomaly.c): raises the engine's pending forward anomaly
 * (a NaN/Inf an op recorded in this mode produced), if any. lsg_push_result
 * calls it after each op while the mode is on. */
void lsg_anomaly_raise_pending(lua_State *L);

/* Ctrl-C (lsg_system.c). The `sgen` executable's SIGINT handler calls
 * lsg_interrupt_note() and, unless lsg_interrupt_deferred(), makes the
 * running Lua code raise "interrupted!" at once; deferred (sg.defer_interrupt,
 * used by sg.train's checkpointed loops) the Lua side polls sg.interrupted()
 * at a safe point instead. lsg_interrupt_reset() clears both (a new call). */
void lsg_interrupt_note(void);
int lsg_interrupt_pending(void);
int lsg_interrupt_deferred(void);
void lsg_interrupt_reset(void);

/* Formats a tensor PyTorch-style into a Lua string on the stack. */
void lsg_push_tensor_string(lua_State *L, sg_tensor *t);

int luaopen_sgen_core(lua_State *L);

#endif
