// CUDA kernels of the index family (internal/kernels_index.h):
// index_select, gather and scatter(_add).
//
// Semantics follow engine/cpu/index_cpu.c:
//  - indices are checked on the device; the first invalid one in row-major
//    order is reported as "<op>: index 7 out of range for dim 1 of size 5"
//    (the kernel skips it, the host reads the flag back: one synchronization
//    per call of index_select / gather / scatter);
//  - scatter / scatter_add are deterministic and apply every target's
//    sources in row-major order, as the CPU (last one wins for a plain
//    scatter; float sums in the same order, so the same bits): one thread
//    per line along dim walks it in order when there are many lines,
//    otherwise the (target, position) pairs are sorted with a stable radix
//    sort (sort_cuda.cu) and each target's run is applied in order. No
//    atomics on values.
#include <string.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_index.h"
#include "internal/tensor_internal.h"
}

using namespace sgcuda;

static const unsigned long long NO_BAD = ~0ull;

static sg_status range_error(const char *op, int64_t v, int dim, int64_t n) {
  return sg_error(SG_ERR_ARG, "%s: index %lld out of range for dim %d of size %lld", op,
                  (long long)v, dim, (long long)n);
}

// A device flag holding the smallest flat position of an invalid index.
struct BadFlag {
  DevBuf buf;
  sg_status init() {
    sg_status s = buf.alloc(sizeof(unsigned long long));
    if (s != SG_OK) return s;
    return SG_CUDA_CHECK(cudaMemsetAsync(buf.p, 0xff, sizeof(unsigned long long), sg_cuda_stream()));
  }
  unsigned long long *ptr() { return buf.as<unsigned long long>(); }
  // Reads the flag back (synchronizes): NO_BAD or the position.
  sg_status read(unsigned long long *pos) {
    return sg_cuda_memcpy_d2h(pos, buf.p, sizeof(unsigned long long));
  }
};

// Reads one int64 of device memory.
static sg_status read_i64(const int64_t *p, int64_t *v) { return sg_cuda_memcpy_d2h(v, p, sizeof *v); }

// ======================= deterministic scatter (shared with pool) =======================

__global__ void iota_k(int64_t *v, int64_t n) {
  GRID_LOOP(i, n) v[i] = i;
}

// One thread per run of equal targets (the run's first element) applies
// the run's sources in order.
template <typename T, int MODE>
__global__ void apply_runs_k(T *dst, const T *src, const uint64_t *keys, const int64_t *vals,
                             uint64_t skip, int64_t n) {
  GRID_LOOP(j, n) {
    uint64_t key = keys[j];
    if (key == skip || (j > 0 && keys[j - 1] == key)) continue;
    if constexpr (MODE == SCATTER_SET) {
      int64_t m = j;
      while (m + 1 < n && keys[m + 1] == key) m++;
      dst[key] = src[vals[m]];
    } else {
      T acc = dst[key];
      for (int64_t m = j; m < n && keys[m] == key; m++) acc = (T)(acc + src[vals[m]]);
      dst[key] = acc;
    }
  }
}

// bool: d |= s != 0
__global__ void apply_runs_or_k(uint8_t *dst, const uint8_t *src, const uint64_t *keys,
                                const int64_t *vals, uint64_t skip, int64_t n) {
  GRID_LOOP(j, n) {
    uint64_t key = keys[j];
    if (key == skip || (j > 0 && keys[j - 1] == key)) continue;
    uint8_t acc = dst[key];
    for (int64_t m = j; m < n && keys[m] == key; m++) acc = (uint8_t)(acc | (src[vals[m]] != 0));
    dst[key] = acc;
  }
}

sg_status sgcuda::scatter_by_target(void *dst, sg_dtype dt, const void *src, const uint64_t *target,
                                  uint64_t skip, int64_t n, int mode) {
  if (n <= 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  DevBuf kb, vb;
  sg_status s = kb.alloc(sizeof(uint64_t) * (size_t)n);
  if (s == SG_OK) s = vb.alloc(sizeof(int64_t) * 2 * (size_t)n);
  if (s != SG_OK) return s;
  int64_t *vin = vb.as<int64_t>(), *vout = vin + n;
  iota_k<<<grid_for(n), 256, 0, st>>>(vin, n);
  s = SG_CUDA_LAUNCH_CHECK("scatter iota kernel");
  if (s != SG_OK) return s;
  s = sort_pairs(target, kb.as<uint64_t>(), vin, vout, n, bits_for(skip));
  if (s != SG_OK) return s;
  const uint64_t *keys = kb.as<uint64_t>();
  unsigned int nb = grid_for(n);
  if (mode == SCATTER_SET) {
    switch (sg_dtype_size(dt)) {
      case 1:
        apply_runs_k<uint8_t, SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint8_t *)dst, (const uint8_t *)src, keys, vout, skip, n);
        break;
      case 4:
        apply_runs_k<uint32_t, SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint32_t *)dst, (const uint32_t *)src, keys, vout, skip, n);
        break;
      default:
        apply_runs_k<uint64_t, SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint64_t *)dst, (const uint64_t *)src, keys, vout, skip, n);
        break;
    }
  } else {
    switch (dt) {
      case SG_FLOAT32:
        apply_runs_k<float, SCATTER_ADD><<<nb, 256, 0, st>>>((float *)dst, (const float *)src,
                                                                   keys, vout, skip, n);
        break;
      case SG_FLOAT64:
        apply_runs_k<double, SCATTER_ADD><<<nb, 256, 0, st>>>(
            (double *)dst, (const double *)src, keys, vout, skip, n);
        break;
      case SG_INT64:
        apply_runs_k<int64_t, SCATTER_ADD><<<nb, 256, 0, st>>>(
            (int64_t *)dst, (const int64_t *)src, keys, vout, skip, n);
        break;
      case SG_UINT8:
        apply_runs_k<uint8_t, SCATTER_ADD><<<nb, 256, 0, st>>>(
            (uint8_t *)dst, (const uint8_t *)src, keys, vout, skip, n);
        break;
      default:
        apply_runs_or_k<<<nb, 256, 0, st>>>((uint8_t *)dst, (const uint8_t *)src, keys, vout, skip,
                                            n);
        break;
    }
  }
  return SG_CUDA_LAUNCH_CHECK("scatter runs kernel");
}

// ======================= index_select =======================

template <typename E>
__global__ void index_select_k(E *out, const E *x, const int64_t *ix, int64_t L, int64_t n,
                               int64_t inner, int64_t total, unsigned long long *bad) {
  GRID_LOOP(e, total) {
    int64_t i = e % inner, r = e / inner, j = r % L, o = r / L;
    int64_t v = ix[j];
    if (v < 0 || v >= n) {
      atomicMin(bad, (unsigned long long)j);
      continue;
    }
    out[e] = x[(o * n + v) * inner + i];
  }
}

__global__ void check_index_k(const int64_t *ix, int64_t L, int64_t n, unsigned long long *bad) {
  GRID_LOOP(j, L) if (ix[j] < 0 || ix[j] >= n) atomicMin(bad, (unsigned long long)j);
}

static sg_status cuda_index_select(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                                   const sg_tensor *index) {
  int64_t outer, n, inner;
  dim_split(x, dim, &outer, &n, &inner);
  int64_t L = sg_numel(index);
  int64_t total = outer * L * inner;
  if (L == 0) return SG_OK;
  BadFlag bad;
  sg_status s = bad.init();
  if (s != SG_OK) return s;
  cudaStream_t st = sg_cuda_stream();
  if (total > 0) {
    unsigned int nb = grid_for(total);
    const int64_t *ix = dptr<int64_t>(index);
    switch (sg_dtype_size(x->dtype)) {
      case 1:
        index_select_k<uint8_t><<<nb, 256, 0, st>>>(dptr<uint8_t>(out), dptr<uint8_t>(x), ix, L, n,
                                                    inner, total, bad.ptr());
        break;
      case 4:
        index_select_k<uint32_t><<<nb, 256, 0, st>>>(dptr<uint32_t>(out), dptr<uint32_t>(x), ix, L,
                                                     n, inner, total, bad.ptr());
        break;
      default:
        index_select_k<uint64_t><<<nb, 256, 0, st>>>(dptr<uint64_t>(out), dptr<uint64_t>(x), ix, L,
                                                     n, inner, total, bad.ptr());
        break;
    }
    s = SG_CUDA_LAUNCH_CHECK("index_select kernel");
    if (s != SG_OK) return s;
  } else {  // nothing to copy, but the indices are still checked (as the CPU)
    check_index_k<<<grid_for(L), 256, 0, st>>>(dptr<int64_t>(index), L, n, bad.ptr());
    s = SG_CUDA_LAUNCH_CHECK("index_select check kernel");
    if (s != SG_OK) return s;
  }
  unsigned long long pos;
  s = bad.read(&pos);
  if (s != SG_OK) return s;
  if (pos != NO_BAD) {
    int64_t v;
    s = read_i64(dptr<int64_t>(index) + pos, &v);
    return s != SG_OK ? s : range_error(op, v, dim, n);
  }
  return SG_OK;
}

// ======================= gather / scatter =======================

// Walk geometry over the positions of the index tensor: its shape, the
// index strides, the strides of the direct operand (out of gather, src of
// scatter) and of the indexed operand (x of gather, out of scatter; the
// entry of `dim` is the stride along which the index moves).
struct IdxGeom {
  int nd, dim;
  int64_t shape[SG_MAX_DIMS];
  int64_t is[SG_MAX_DIMS], as[SG_MAX_DIMS], bs[SG_MAX_DIMS];
  int64_t n;  // size of the indexed operand along dim
};

static void idx_geom(IdxGeom *g, const sg_tensor *index, const int64_t *astr, const sg_tensor *b,
                     int dim) {
  if (index->ndim == 0) {
    g->nd = 1;
    g->dim = 0;
    g->shape[0] = 1;
    g->is[0] = g->as[0] = g->bs[0] = 0;
  } else {
    g->nd = index->ndim;
    g->dim = dim;
    for (int d = 0; d < index->ndim; d++) {
      g->shape[d] = index->shape[d];
      g->is[d] = index->strides[d];
      g->as[d] = astr[d];
      g->bs[d] = b->ndim ? b->strides[d] : 0;
    }
  }
  g->n = b->ndim ? b->shape[dim] : 1;
}

// Offsets of index position e (row-major): index, direct operand, and the
// indexed operand without its dim term.
__device__ __forceinline__ void idx_offsets(const IdxGeom &g, int64_t e, int64_t *oi, int64_t *oa,
                                            int64_t *ob) {
  int64_t a = 0, b = 0, c = 0;
  for (int d = g.nd - 1; d >= 0; d--) {
    int64_t k = e % g.shape[d];
    e /= g.shape[d];
    a += k * g.is[d];
    b += k * g.as[d];
    if (d != g.dim) c += k * g.bs[d];
  }
  *oi = a;
  *oa = b;
  *ob = c;
}

template <typename E>
__global__ void gather_k(E *out, const E *x, const int64_t *ix, IdxGeom g, int64_t total,
                         unsigned long long *bad) {
  GRID_LOOP(e, total) {
    int64_t oi, oa, ob;
    idx_offsets(g, e, &oi, &oa, &ob);
    int64_t v = ix[oi];
    if (v < 0 || v >= g.n) {
      atomicMin(bad, (unsigned long long)e);
      continue;
    }
    out[oa] = x[ob + v * g.bs[g.dim]];
  }
}

// Reports the invalid index at flat position pos of the index tensor.
static sg_status report_bad(const char *op, const sg_tensor *index, unsigned long long pos, int dim,
                            int64_t n) {
  int64_t off = 0, e = (int64_t)pos;
  for (int d = index->ndim - 1; d >= 0; d--) {
    off += (e % index->shape[d]) * index->strides[d];
    e /= index->shape[d];
  }
  int64_t v;
  sg_status s = read_i64(dptr<int64_t>(index) + off, &v);
  return s != SG_OK ? s : range_error(op, v, dim, n);
}

static sg_status cuda_gather(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                             const sg_tensor *index) {
  int64_t total = sg_numel(index);
  if (total == 0) return SG_OK;
  IdxGeom g;
  idx_geom(&g, index, out->strides, x, dim);
  BadFlag bad;
  sg_status s = bad.init();
  if (s != SG_OK) return s;
  cudaStream_t st = sg_cuda_stream();
  unsigned int nb = grid_for(total);
  const int64_t *ix = dptr<int64_t>(index);
  switch (sg_dtype_size(x->dtype)) {
    case 1:
      gather_k<uint8_t><<<nb, 256, 0, st>>>(dptr<uint8_t>(out), dptr<uint8_t>(x), ix, g, total,
                                            bad.ptr());
      break;
    case 4:
      gather_k<uint32_t><<<nb, 256, 0, st>>>(dptr<uint32_t>(out), dptr<uint32_t>(x), ix, g, total,
                                             bad.ptr());
      break;
    default:
      gather_k<uint64_t><<<nb, 256, 0, st>>>(dptr<uint64_t>(out), dptr<uint64_t>(x), ix, g, total,
                                             bad.ptr());
      break;
  }
  s = SG_CUDA_LAUNCH_CHECK("gather kernel");
  if (s != SG_OK) return s;
  unsigned long long pos;
  s = bad.read(&pos);
  if (s != SG_OK) return s;
  return pos == NO_BAD ? SG_OK : report_bad(op, index, pos, dim, g.n);
}

// Scatter, one thread per line along dim: the line's positions in order.
// MODE 0: set, 1: add, 2: or (bool).
template <typename E, int MODE>
__global__ void scatter_lines_k(E *out, const E *src, const int64_t *ix, IdxGeom g, int64_t lines,
                                unsigned long long *bad) {
  const int64_t L = g.shape[g.dim];
  GRID_LOOP(l, lines) {
    // position of the line's first element: l over the dims but dim
    int64_t rest = l, e0 = 0, mul = 1;
    for (int d = g.nd - 1; d >= 0; d--) {
      if (d != g.dim) {
        int64_t k = rest % g.shape[d];
        rest /= g.shape[d];
        e0 += k * mul;
      }
      mul *= g.shape[d];
    }
    int64_t estep = 1;  // row-major step of dim
    for (int d = g.nd - 1; d > g.dim; d--) estep *= g.shape[d];
    int64_t oi, oa, ob;
    idx_offsets(g, e0, &oi, &oa, &ob);
    for (int64_t j = 0; j < L; j++) {
      int64_t v = ix[oi + j * g.is[g.dim]];
      if (v < 0 || v >= g.n) {
        atomicMin(bad, (unsigned long long)(e0 + j * estep));
        break;
      }
      E s = src[oa + j * g.as[g.dim]];
      E *d = out + ob + v * g.bs[g.dim];
      if constexpr (MODE == 0) *d = s;
      else if constexpr (MODE == 1) *d = (E)(*d + s);
      else *d = (E)(*d | (s != 0));
    }
  }
}

// Sorted path: targets (flat, out contiguous) and the sources in row-major
// order of the index positions.
template <typename E>
__global__ void scatter_prep_k(uint64_t *tg, E *vals, const E *src, const int64_t *ix, IdxGeom g,
                               int64_t total, uint64_t skip, unsigned long long *bad) {
  GRID_LOOP(e, total) {
    int64_t oi, oa, ob;
    idx_offsets(g, e, &oi, &oa, &ob);
    int64_t v = ix[oi];
    vals[e] = src[oa];
    if (v < 0 || v >= g.n) {
      atomicMin(bad, (unsigned long long)e);
      tg[e] = skip;
      continue;
    }
    tg[e] = (uint64_t)(ob + v * g.bs[g.dim]);
  }
}

template <typename E>
static sg_status scatter_sorted(sg_tensor *out, const sg_tensor *src, const sg_tensor *index,
                                const IdxGeom &g, int64_t total, bool accumulate, BadFlag *bad,
                                const char *op, int dim) {
  cudaStream_t st = sg_cuda_stream();
  DevBuf tg, vals;
  sg_status s = tg.alloc(sizeof(uint64_t) * (size_t)total);
  if (s == SG_OK) s = vals.alloc(sizeof(E) * (size_t)total);
  if (s != SG_OK) return s;
  uint64_t skip = (uint64_t)sg_numel(out);
  scatter_prep_k<E><<<grid_for(total), 256, 0, st>>>(tg.as<uint64_t>(), vals.as<E>(),
                                                       dptr<E>(src), dptr<int64_t>(index), g,
                                                       total, skip, bad->ptr());
  s = SG_CUDA_LAUNCH_CHECK("scatter prepare kernel");
  if (s != SG_OK) return s;
  unsigned long long pos;
  s = bad->read(&pos);
  if (s != SG_OK) return s;
  if (pos != NO_BAD) return report_bad(op, index, pos, dim, g.n);
  return scatter_by_target(dptr<void>(out), out->dtype, vals.p, tg.as<uint64_t>(), skip,
                                 total, accumulate ? SCATTER_ADD : SCATTER_SET);
}

template <typename E, int MODE>
static sg_status scatter_lines(sg_tensor *out, const sg_tensor *src, const sg_tensor *index,
                               const IdxGeom &g, int64_t lines, BadFlag *bad) {
  scatter_lines_k<E, MODE><<<grid_for(lines, 128), 128, 0, sg_cuda_stream()>>>(
      dptr<E>(out), dptr<E>(src), dptr<int64_t>(index), g, lines, bad->ptr());
  return SG_CUDA_LAUNCH_CHECK("scatter kernel");
}

static sg_status cuda_scatter(const char *op, sg_tensor *out, int dim, const sg_tensor *index,
                              const sg_tensor *src, bool accumulate) {
  int64_t total = sg_numel(index);
  if (total == 0) return SG_OK;
  IdxGeom g;
  idx_geom(&g, index, src->strides, out, dim);
  if (src->ndim == 0)
    for (int d = 0; d < g.nd; d++) g.as[d] = 0;
  BadFlag bad;
  sg_status s = bad.init();
  if (s != SG_OK) return s;
  int64_t L = g.shape[g.dim], lines = total / L;
  size_t es = sg_dtype_size(out->dtype);
  // many short lines: walk them; few long ones: sort (same result)
  if (L <= 8 || (lines >= 2048 && L <= 1024)) {
    if (!accumulate) {
      s = es == 1   ? scatter_lines<uint8_t, 0>(out, src, index, g, lines, &bad)
          : es == 4 ? scatter_lines<uint32_t, 0>(out, src, index, g, lines, &bad)
                    : scatter_lines<uint64_t, 0>(out, src, index, g, lines, &bad);
    } else {
      switch (out->dtype) {
        case SG_FLOAT32: s = scatter_lines<float, 1>(out, src, index, g, lines, &bad); break;
        case SG_FLOAT64: s = scatter_lines<double, 1>(out, src, index, g, lines, &bad); break;
        case SG_INT64: s = scatter_lines<int64_t, 1>(out, src, index, g, lines, &bad); break;
        case SG_UINT8: s = scatter_lines<uint8_t, 1>(out, src, index, g, lines, &bad); break;
        default: s = scatter_lines<uint8_t, 2>(out, src, index, g, lines, &bad); break;
      }
    }
    if (s != SG_OK) return s;
    unsigned long long pos;
    s = bad.read(&pos);
    if (s != SG_OK) return s;
    return pos == NO_BAD ? SG_OK : report_bad(op, index, pos, dim, g.n);
  }
  switch (es) {
    case 1: return scatter_sorted<uint8_t>(out, src, index, g, total, accumulate, &bad, op, dim);
    case 4: return scatter_sorted<uint32_t>(out, src, index, g, total, accumulate, &bad, op, dim);
    default: return scatter_sorted<uint64_t>(out, src, index, g, total, accumulate, &bad, op, dim);
  }
}

extern "C" const struct sg_index_kernels sg_cuda_index_kernels = {
    .index_select = cuda_index_select,
    .gather = cuda_gather,
    .scatter = cuda_scatter,
};
