// CUDA kernels of the index family (internal/kernels_index.h):
// index_select, gather, scatter(_add), topk / sort, the sparsity masks
// (l0 per sample, l0inf per needle) and the thresholds.
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
//    sort and each target's run is applied in order. No atomics on values;
//  - order keys are the CPU's: every value becomes an unsigned key whose
//    integer order is the wanted order (NaN above +inf, -0 == +0, |x| for
//    the masks); among equal keys the lower index ranks first;
//  - sort, topk and l0_mask sort (row, ~key) pairs with cub's stable
//    radix sort. topk's sorted=false returns the sorted order too (the CPU
//    may return another deterministic order for large k);
//  - l0inf_mask is a dedicated kernel: a block holds the |x| keys of 32
//    needles in shared memory and one warp per needle finds the k-th
//    largest key bit by bit with warp ballots (radix select), then the
//    block writes mask / out coalesced.
#include <string.h>

#include <cub/device/device_radix_sort.cuh>

#include "cuda/family_util_cuda.cuh"
extern "C" {
#include "internal/kernels_index.h"
#include "internal/tensor_internal.h"
}

using namespace sgcuda;
using namespace sgfam;

#define GRID_LOOP(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

static const unsigned long long NO_BAD = ~0ull;

static sg_status range_error(const char *op, int64_t v, int dim, int64_t n) {
  return sg_error(SG_ERR_ARG, "%s: index %lld out of range for dim %d of size %lld", op,
                  (long long)v, dim, (long long)n);
}

// [outer, n, inner] view around dim (0-dim counts as [1, 1, 1]).
static void dim_split(const sg_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  *n = t->ndim ? t->shape[dim] : 1;
  for (int d = 0; d < dim && d < t->ndim; d++) *outer *= t->shape[d];
  for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
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

// ======================= sort helper (shared) =======================

sg_status sgfam_sort_pairs(const uint64_t *keys_in, uint64_t *keys_out, const int64_t *vals_in,
                           int64_t *vals_out, int64_t n, int end_bit) {
  cudaStream_t st = sg_cuda_stream();
  if (n <= 0) return SG_OK;
  if (end_bit <= 0) {  // all keys equal: the order stays
    SG_CUDA_TRY(cudaMemcpyAsync(keys_out, keys_in, sizeof(uint64_t) * (size_t)n,
                                cudaMemcpyDeviceToDevice, st));
    return SG_CUDA_CHECK(cudaMemcpyAsync(vals_out, vals_in, sizeof(int64_t) * (size_t)n,
                                         cudaMemcpyDeviceToDevice, st));
  }
  if (end_bit > 64) end_bit = 64;
  size_t tb = 0;
  SG_CUDA_TRY(cub::DeviceRadixSort::SortPairs(NULL, tb, keys_in, keys_out, vals_in, vals_out, n, 0,
                                              end_bit, st));
  DevBuf tmp;
  sg_status s = tmp.alloc(tb);
  if (s != SG_OK) return s;
  return SG_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(tmp.p, tb, keys_in, keys_out, vals_in,
                                                       vals_out, n, 0, end_bit, st));
}

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
    if constexpr (MODE == SGFAM_SCATTER_SET) {
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

sg_status sgfam_scatter_by_target(void *dst, sg_dtype dt, const void *src, const uint64_t *target,
                                  uint64_t skip, int64_t n, int mode) {
  if (n <= 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  DevBuf kb, vb;
  sg_status s = kb.alloc(sizeof(uint64_t) * (size_t)n);
  if (s == SG_OK) s = vb.alloc(sizeof(int64_t) * 2 * (size_t)n);
  if (s != SG_OK) return s;
  int64_t *vin = vb.as<int64_t>(), *vout = vin + n;
  iota_k<<<blocks_for(n), 256, 0, st>>>(vin, n);
  s = SG_CUDA_LAUNCH_CHECK("scatter iota kernel");
  if (s != SG_OK) return s;
  s = sgfam_sort_pairs(target, kb.as<uint64_t>(), vin, vout, n, bits_for(skip));
  if (s != SG_OK) return s;
  const uint64_t *keys = kb.as<uint64_t>();
  unsigned int nb = blocks_for(n);
  if (mode == SGFAM_SCATTER_SET) {
    switch (sg_dtype_size(dt)) {
      case 1:
        apply_runs_k<uint8_t, SGFAM_SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint8_t *)dst, (const uint8_t *)src, keys, vout, skip, n);
        break;
      case 4:
        apply_runs_k<uint32_t, SGFAM_SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint32_t *)dst, (const uint32_t *)src, keys, vout, skip, n);
        break;
      default:
        apply_runs_k<uint64_t, SGFAM_SCATTER_SET><<<nb, 256, 0, st>>>(
            (uint64_t *)dst, (const uint64_t *)src, keys, vout, skip, n);
        break;
    }
  } else {
    switch (dt) {
      case SG_FLOAT32:
        apply_runs_k<float, SGFAM_SCATTER_ADD><<<nb, 256, 0, st>>>((float *)dst, (const float *)src,
                                                                   keys, vout, skip, n);
        break;
      case SG_FLOAT64:
        apply_runs_k<double, SGFAM_SCATTER_ADD><<<nb, 256, 0, st>>>(
            (double *)dst, (const double *)src, keys, vout, skip, n);
        break;
      case SG_INT64:
        apply_runs_k<int64_t, SGFAM_SCATTER_ADD><<<nb, 256, 0, st>>>(
            (int64_t *)dst, (const int64_t *)src, keys, vout, skip, n);
        break;
      case SG_UINT8:
        apply_runs_k<uint8_t, SGFAM_SCATTER_ADD><<<nb, 256, 0, st>>>(
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
    unsigned int nb = blocks_for(total);
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
    check_index_k<<<blocks_for(L), 256, 0, st>>>(dptr<int64_t>(index), L, n, bad.ptr());
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
  unsigned int nb = blocks_for(total);
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
  scatter_prep_k<E><<<blocks_for(total), 256, 0, st>>>(tg.as<uint64_t>(), vals.as<E>(),
                                                       dptr<E>(src), dptr<int64_t>(index), g,
                                                       total, skip, bad->ptr());
  s = SG_CUDA_LAUNCH_CHECK("scatter prepare kernel");
  if (s != SG_OK) return s;
  unsigned long long pos;
  s = bad->read(&pos);
  if (s != SG_OK) return s;
  if (pos != NO_BAD) return report_bad(op, index, pos, dim, g.n);
  return sgfam_scatter_by_target(dptr<void>(out), out->dtype, vals.p, tg.as<uint64_t>(), skip,
                                 total, accumulate ? SGFAM_SCATTER_ADD : SGFAM_SCATTER_SET);
}

template <typename E, int MODE>
static sg_status scatter_lines(sg_tensor *out, const sg_tensor *src, const sg_tensor *index,
                               const IdxGeom &g, int64_t lines, BadFlag *bad) {
  scatter_lines_k<E, MODE><<<blocks_for(lines, 128), 128, 0, sg_cuda_stream()>>>(
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

// ======================= order keys =======================

enum { KM_LARGEST = 0, KM_SMALLEST = 1, KM_ABS = 2 };

__device__ __forceinline__ uint32_t key_f32(float v, int mode) {
  uint32_t b;
  if (mode == KM_ABS) {
    b = __float_as_uint(v) & 0x7fffffffu;
    return b > 0x7f800000u ? 0x7f800001u : b;  // every NaN just above inf
  }
  float w = v == 0.0f ? 0.0f : v;  // -0 -> +0
  b = __float_as_uint(w);
  b ^= (uint32_t)((int32_t)b >> 31) | 0x80000000u;
  b = v != v ? 0xffffffffu : b;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint64_t key_f64(double v, int mode) {
  uint64_t b;
  if (mode == KM_ABS) {
    b = (uint64_t)__double_as_longlong(v) & 0x7fffffffffffffffull;
    return b > 0x7ff0000000000000ull ? 0x7ff0000000000001ull : b;
  }
  double w = v == 0.0 ? 0.0 : v;
  b = (uint64_t)__double_as_longlong(w);
  b ^= (uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull;
  b = v != v ? ~0ull : b;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint64_t key_i64(int64_t v, int mode) {
  if (mode == KM_ABS) return v < 0 ? 0ull - (uint64_t)v : (uint64_t)v;
  uint64_t b = (uint64_t)v ^ 0x8000000000000000ull;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint32_t key_u8(uint8_t v, int mode) {
  return mode == KM_SMALLEST ? ~(uint32_t)v : (uint32_t)v;
}

// The key of element v of dtype T (32-bit keys widened).
template <typename T> struct Key;
template <> struct Key<float> {
  static const int bits = 32;
  __device__ static uint64_t of(float v, int m) { return key_f32(v, m); }
};
template <> struct Key<double> {
  static const int bits = 64;
  __device__ static uint64_t of(double v, int m) { return key_f64(v, m); }
};
template <> struct Key<int64_t> {
  static const int bits = 64;
  __device__ static uint64_t of(int64_t v, int m) { return key_i64(v, m); }
};
template <> struct Key<uint8_t> {
  static const int bits = 32;
  __device__ static uint64_t of(uint8_t v, int m) { return key_u8(v, m); }
};

// ======================= per-row sort =======================

// Sort keys of the [O, n, I] data, rows r = o * I + i: ~key (ascending =
// descending key), with the row above it when `composite`; values = item
// ids r * n + c.
template <typename T>
__global__ void row_keys_k(uint64_t *keys, int64_t *vals, const T *x, int64_t n, int64_t I,
                           int64_t total, int mode, bool composite) {
  GRID_LOOP(e, total) {
    int64_t r = e / n, c = e % n, o = r / I, i = r % I;
    uint64_t k = Key<T>::of(x[(o * n + c) * I + i], mode);
    uint64_t sk = Key<T>::bits == 32 ? (uint64_t)(uint32_t)~(uint32_t)k : ~k;
    if (composite) sk |= (uint64_t)r << 32;
    keys[e] = sk;
    vals[e] = e;
  }
}

__global__ void row_of_k(uint64_t *keys, const int64_t *vals, int64_t n, int64_t total) {
  GRID_LOOP(e, total) keys[e] = (uint64_t)(vals[e] / n);
}

// Item ids of every row of x ([O, n, I] around dim) ordered by descending
// key (mode), ties by lower index: row r's q-th is order[r * n + q] (the
// element c = order % n of that row). `order` gets O*I*n int64.
template <typename T>
static sg_status sort_rows(const sg_tensor *x, int64_t O, int64_t n, int64_t I, int mode,
                           DevBuf *order) {
  int64_t R = O * I, total = R * n;
  cudaStream_t st = sg_cuda_stream();
  DevBuf kb, vb;
  sg_status s = kb.alloc(sizeof(uint64_t) * 2 * (size_t)total);
  if (s == SG_OK) s = vb.alloc(sizeof(int64_t) * (size_t)total);
  if (s == SG_OK) s = order->alloc(sizeof(int64_t) * (size_t)total);
  if (s != SG_OK) return s;
  uint64_t *k0 = kb.as<uint64_t>(), *k1 = k0 + total;
  int rbits = bits_for((uint64_t)(R - 1));
  bool composite = Key<T>::bits == 32 && R > 1 && rbits <= 32;
  row_keys_k<T><<<blocks_for(total), 256, 0, st>>>(k0, vb.as<int64_t>(), dptr<T>(x), n, I, total,
                                                   mode, composite);
  s = SG_CUDA_LAUNCH_CHECK("sort keys kernel");
  if (s != SG_OK) return s;
  if (R == 1 || composite)
    return sgfam_sort_pairs(k0, k1, vb.as<int64_t>(), order->as<int64_t>(), total,
                            Key<T>::bits + (composite ? rbits : 0));
  // two stable passes: by key, then by row
  s = sgfam_sort_pairs(k0, k1, vb.as<int64_t>(), order->as<int64_t>(), total, Key<T>::bits);
  if (s != SG_OK) return s;
  row_of_k<<<blocks_for(total), 256, 0, st>>>(k0, order->as<int64_t>(), n, total);
  s = SG_CUDA_LAUNCH_CHECK("sort rows kernel");
  if (s != SG_OK) return s;
  s = sgfam_sort_pairs(k0, k1, order->as<int64_t>(), vb.as<int64_t>(), total, rbits);
  if (s != SG_OK) return s;
  return SG_CUDA_CHECK(cudaMemcpyAsync(order->p, vb.p, sizeof(int64_t) * (size_t)total,
                                       cudaMemcpyDeviceToDevice, st));
}

// values / indices [O, k, I] from the first k of every sorted row
template <typename T>
__global__ void topk_out_k(T *vals, int64_t *idx, const T *x, const int64_t *order, int64_t n,
                           int64_t k, int64_t I, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t i = e % I, r = e / I, q = r % k, o = r / k;
    int64_t c = order[(o * I + i) * n + q] % n;
    idx[e] = c;
    if (vals) vals[e] = x[(o * n + c) * I + i];
  }
}

template <typename T>
static sg_status topk_impl(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                           int64_t k, int mode) {
  int64_t O, n, I;
  dim_split(x, dim, &O, &n, &I);
  if (O * I * n == 0 || k == 0) return SG_OK;
  DevBuf order;
  sg_status s = sort_rows<T>(x, O, n, I, mode, &order);
  if (s != SG_OK) return s;
  int64_t total = O * k * I;
  topk_out_k<T><<<blocks_for(total), 256, 0, sg_cuda_stream()>>>(
      values ? dptr<T>(values) : NULL, dptr<int64_t>(indices), dptr<T>(x), order.as<int64_t>(), n,
      k, I, total);
  return SG_CUDA_LAUNCH_CHECK("topk output kernel");
}

static sg_status topk_dispatch(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                               int64_t k, int mode, const char *op) {
  switch (x->dtype) {
    case SG_FLOAT32: return topk_impl<float>(values, indices, x, dim, k, mode);
    case SG_FLOAT64: return topk_impl<double>(values, indices, x, dim, k, mode);
    case SG_INT64: return topk_impl<int64_t>(values, indices, x, dim, k, mode);
    case SG_UINT8:
    case SG_BOOL: return topk_impl<uint8_t>(values, indices, x, dim, k, mode);
    default: return sg_error(SG_ERR_ARG, "%s: unsupported dtype", op);
  }
}

static sg_status cuda_topk(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                           int64_t k, bool largest, bool sorted) {
  (void)sorted;  // always sorted: a deterministic order
  return topk_dispatch(values, indices, x, dim, k, largest ? KM_LARGEST : KM_SMALLEST, "topk");
}

static sg_status cuda_sort(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                           bool descending) {
  int64_t O, n, I;
  dim_split(x, dim, &O, &n, &I);
  return topk_dispatch(values, indices, x, dim, n, descending ? KM_LARGEST : KM_SMALLEST, "sort");
}

// ======================= mask outputs =======================

// Where the masks go: mask8 (bool / uint8) or maskT (x's dtype), and out.
template <typename T> struct MaskOut {
  uint8_t *m8;
  T *mT;
  T *out;
};

template <typename T> static MaskOut<T> mask_out(sg_tensor *mask, sg_tensor *out) {
  MaskOut<T> m = {NULL, NULL, NULL};
  if (mask && (mask->dtype == SG_BOOL || mask->dtype == SG_UINT8)) m.m8 = dptr<uint8_t>(mask);
  else if (mask) m.mT = dptr<T>(mask);
  if (out) m.out = dptr<T>(out);
  return m;
}

template <typename T>
__device__ __forceinline__ void mask_write(const MaskOut<T> &m, int64_t pos, bool keep, T v) {
  if (m.m8) m.m8[pos] = keep;
  if (m.mT) m.mT[pos] = keep ? (T)1 : (T)0;
  if (m.out) m.out[pos] = keep ? v : (T)0;
}

// ======================= l0: per sample =======================

// the first k of each sorted sample are kept (mask and out zeroed before)
template <typename T>
__global__ void l0_keep_k(MaskOut<T> m, const T *x, const int64_t *order, int64_t M, int64_t k,
                          int64_t total) {
  GRID_LOOP(e, total) {
    int64_t s = e / k, q = e % k;
    int64_t pos = s * M + order[s * M + q] % M;
    mask_write(m, pos, true, x[pos]);
  }
}

template <typename T>
static sg_status l0_impl(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k) {
  int64_t N = x->shape[0], M = N ? sg_numel(x) / N : 0;
  if (M == 0 || N == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (mask) SG_CUDA_TRY(cudaMemsetAsync(dptr<char>(mask), 0, (size_t)(N * M) * sg_dtype_size(mask->dtype), st));
  if (out) SG_CUDA_TRY(cudaMemsetAsync(dptr<char>(out), 0, sizeof(T) * (size_t)(N * M), st));
  DevBuf order;
  sg_status s = sort_rows<T>(x, N, M, 1, KM_ABS, &order);
  if (s != SG_OK) return s;
  int64_t total = N * k;
  l0_keep_k<T><<<blocks_for(total), 256, 0, st>>>(mask_out<T>(mask, out), dptr<T>(x),
                                                  order.as<int64_t>(), M, k, total);
  return SG_CUDA_LAUNCH_CHECK("l0_mask kernel");
}

static sg_status cuda_l0_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k) {
  switch (x->dtype) {
    case SG_FLOAT32: return l0_impl<float>(mask, out, x, k);
    case SG_FLOAT64: return l0_impl<double>(mask, out, x, k);
    default: return sg_error(SG_ERR_ARG, "l0_mask: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
}

// ======================= l0inf: per needle =======================

// x is [O, C, I] (C along dim); needle u = o * I + i has the C entries
// x[(o * C + c) * I + i]. A block takes 32 consecutive needles. With SMEM
// their |x| keys are staged in shared memory (keys[c * 33 + t], padded
// against bank conflicts); otherwise the warps read x directly.
//
// Per needle (one warp): thr = the k-th largest key, found from the top
// bit down (`need` counts how many keys >= the current prefix are still
// to be kept), then cut = the channel of the need-th key equal to thr in
// channel order. Kept: key > thr, or key == thr and c <= cut.
static const int L0INF_TILE = 32;
static const int L0INF_WARPS = 8;

template <typename T, typename UK, bool SMEM>
__global__ void l0inf_k(MaskOut<T> m, const T *x, int64_t C, int64_t I, int64_t needles,
                        int64_t k) {
  extern __shared__ __align__(16) unsigned char l0inf_smem[];
  UK *thr_s = (UK *)l0inf_smem;                       // [32]
  int64_t *cut_s = (int64_t *)(thr_s + L0INF_TILE);   // [32]
  UK *keys = (UK *)(cut_s + L0INF_TILE);              // [C * 33] when SMEM
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int nthreads = blockDim.x;
  const int64_t u0 = (int64_t)blockIdx.x * L0INF_TILE;
  const int KB = (int)(sizeof(UK) * 8);

  if (SMEM) {
    for (int64_t e = tid; e < C * L0INF_TILE; e += nthreads) {
      int64_t c = e / L0INF_TILE, t = e % L0INF_TILE, u = u0 + t;
      UK key = 0;
      if (u < needles) {
        int64_t o = u / I, i = u % I;
        key = (UK)Key<T>::of(x[(o * C + c) * I + i], KM_ABS);
      }
      keys[c * 33 + t] = key;
    }
    __syncthreads();
  }

  for (int t = warp; t < L0INF_TILE; t += L0INF_WARPS) {
    int64_t u = u0 + t;
    if (u >= needles) break;  // uniform across the warp
    int64_t o = u / I, i = u % I;
    const T *xn = x + o * C * I + i;
    UK prefix = 0, hi = 0;
    int64_t need = k;
    for (int b = KB - 1; b >= 0; b--) {
      const UK bit = (UK)1 << b;
      int64_t ones = 0;
      for (int64_t c0 = 0; c0 < C; c0 += 32) {
        int64_t c = c0 + lane;
        bool p = false;
        if (c < C) {
          UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(xn[c * I], KM_ABS);
          p = (key & hi) == prefix && (key & bit) != 0;
        }
        ones += __popc(__ballot_sync(0xffffffffu, p));
      }
      if (ones >= need) prefix |= bit;
      else need -= ones;
      hi |= bit;
    }
    // the need-th key equal to prefix, in channel order
    int64_t cut = C - 1;
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
      int64_t c = c0 + lane;
      bool p = false;
      if (c < C) {
        UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(xn[c * I], KM_ABS);
        p = key == prefix;
      }
      unsigned int bal = __ballot_sync(0xffffffffu, p);
      int cnt = __popc(bal);
      if (need <= cnt) {
        for (int64_t r = 1; r < need; r++) bal &= bal - 1;
        cut = c0 + (__ffs(bal) - 1);
        break;
      }
      need -= cnt;
    }
    if (lane == 0) {
      thr_s[t] = prefix;
      cut_s[t] = cut;
    }
  }
  __syncthreads();

  // outputs, coalesced over the needles of the tile
  for (int64_t e = tid; e < C * L0INF_TILE; e += nthreads) {
    int64_t c = e / L0INF_TILE, t = e % L0INF_TILE, u = u0 + t;
    if (u >= needles) continue;
    int64_t o = u / I, i = u % I, pos = (o * C + c) * I + i;
    T v = x[pos];
    UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(v, KM_ABS);
    bool keep = key > thr_s[t] || (key == thr_s[t] && c <= cut_s[t]);
    mask_write(m, pos, keep, v);
  }
}

template <typename T, typename UK>
static sg_status l0inf_impl(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                            int dim) {
  int64_t O, C, I;
  dim_split(x, dim, &O, &C, &I);
  int64_t needles = O * I;
  if (needles == 0 || C == 0) return SG_OK;
  int64_t blocks = (needles + L0INF_TILE - 1) / L0INF_TILE;
  if (blocks > 0x7fffffff) return sg_error(SG_ERR_UNSUPPORTED, "l0inf_mask: too many needles");
  size_t head = L0INF_TILE * (sizeof(UK) + sizeof(int64_t));
  size_t smem = head + (size_t)C * 33 * sizeof(UK);
  cudaStream_t st = sg_cuda_stream();
  MaskOut<T> mo = mask_out<T>(mask, out);
  if (smem <= 40 * 1024)
    l0inf_k<T, UK, true><<<(unsigned int)blocks, L0INF_WARPS * 32, smem, st>>>(mo, dptr<T>(x), C,
                                                                               I, needles, k);
  else
    l0inf_k<T, UK, false><<<(unsigned int)blocks, L0INF_WARPS * 32, head, st>>>(mo, dptr<T>(x), C,
                                                                                I, needles, k);
  return SG_CUDA_LAUNCH_CHECK("l0inf_mask kernel");
}

static sg_status cuda_l0inf_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                                 int dim) {
  switch (x->dtype) {
    case SG_FLOAT32: return l0inf_impl<float, uint32_t>(mask, out, x, k, dim);
    case SG_FLOAT64: return l0inf_impl<double, uint64_t>(mask, out, x, k, dim);
    default:
      return sg_error(SG_ERR_ARG, "l0inf_mask: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
}

// ======================= thresholds =======================

template <typename T>
__global__ void threshold_k(T *out, T *mask, const T *x, int64_t n, T lam, bool soft) {
  GRID_LOOP(i, n) {
    T v = x[i];
    if (soft) {
      T c = v < -lam ? -lam : v;
      c = c > lam ? lam : c;
      out[i] = v - c;
    } else {
      out[i] = (v < 0 ? -v : v) <= lam ? (T)0 : v;
    }
    if (mask) mask[i] = (v < 0 ? -v : v) > lam ? (T)1 : (T)0;
  }
}

static sg_status cuda_threshold(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double lambda,
                                bool soft) {
  int64_t n = sg_numel(x);
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    threshold_k<float><<<blocks_for(n), 256, 0, st>>>(dptr<float>(out),
                                                      mask ? dptr<float>(mask) : NULL,
                                                      dptr<float>(x), n, (float)lambda, soft);
  else if (x->dtype == SG_FLOAT64)
    threshold_k<double><<<blocks_for(n), 256, 0, st>>>(dptr<double>(out),
                                                       mask ? dptr<double>(mask) : NULL,
                                                       dptr<double>(x), n, lambda, soft);
  else
    return sg_error(SG_ERR_ARG, "threshold: dtype %s is not supported", sg_dtype_name(x->dtype));
  return SG_CUDA_LAUNCH_CHECK("threshold kernel");
}

// operands: out (contiguous), x, lambda (broadcast); sgn has out's layout
template <typename T>
__global__ void soft_t_k(T *out, T *sgn, const T *x, const T *lam_p, Geom<3> g, int64_t n) {
  GRID_LOOP(e, n) {
    int64_t off[3];
    geom_offsets<3, int64_t>(g, e, off);
    T v = x[off[1]], lam = lam_p[off[2]];
    T sg = (T)((v > 0) - (v < 0));
    T a = v < 0 ? -v : v;
    T shrunk = sub_rn(v, mul_rn(sg, lam));
    out[off[0]] = a > lam ? shrunk : (a <= lam ? (T)0 : v);
    if (sgn) sgn[off[0]] = a > lam ? sg : (T)0;
  }
}

static sg_status cuda_soft_threshold_t(sg_tensor *out, sg_tensor *sgn, const sg_tensor *x,
                                       const sg_tensor *lambda) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  Geom<3> g;
  sg_tensor *ts[3] = {out, (sg_tensor *)x, (sg_tensor *)lambda};
  make_geom<3>(&g, ts, out->shape, out->ndim);
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    soft_t_k<float><<<blocks_for(n), 256, 0, st>>>(dptr<float>(out), sgn ? dptr<float>(sgn) : NULL,
                                                   dptr<float>(x), dptr<float>(lambda), g, n);
  else if (x->dtype == SG_FLOAT64)
    soft_t_k<double><<<blocks_for(n), 256, 0, st>>>(dptr<double>(out),
                                                    sgn ? dptr<double>(sgn) : NULL,
                                                    dptr<double>(x), dptr<double>(lambda), g, n);
  else
    return sg_error(SG_ERR_ARG, "soft_threshold: dtype %s is not supported",
                    sg_dtype_name(x->dtype));
  return SG_CUDA_LAUNCH_CHECK("soft_threshold kernel");
}

extern "C" const struct sg_index_kernels sg_cuda_index_kernels = {
    cuda_index_select,
    cuda_gather,
    cuda_scatter,
    cuda_topk,
    cuda_sort,
    cuda_l0_mask,
    cuda_l0inf_mask,
    cuda_threshold,
    cuda_soft_threshold_t,
};
