// CUDA kernels of the sort family (internal/kernels_sort.h): sort and
// topk, and the stable radix sort (cub) that the index and sparse kernels
// share (sort_pairs, sort_rows).
//
// Semantics follow engine/cpu/sort_cpu.c: order keys are the CPU's (every
// value becomes an unsigned key whose integer order is the wanted order:
// NaN above +inf, -0 == +0); among equal keys the lower index ranks first.
// sort and topk sort (row, ~key) pairs with cub's stable radix sort.
// topk's sorted=false returns the sorted order too (the CPU may return
// another deterministic order for large k).
#include <cub/device/device_radix_sort.cuh>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_sort.h"
#include "internal/tensor_internal.h"
}

using namespace sgcuda;

// ======================= radix sort (shared with index / sparse) =======================

sg_status sgcuda::sort_pairs(const uint64_t *keys_in, uint64_t *keys_out, const int64_t *vals_in,
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
static sg_status sort_rows_t(const sg_tensor *x, int64_t O, int64_t n, int64_t I, int mode,
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
  row_keys_k<T><<<grid_for(total), 256, 0, st>>>(k0, vb.as<int64_t>(), dptr<T>(x), n, I, total,
                                                   mode, composite);
  s = SG_CUDA_LAUNCH_CHECK("sort keys kernel");
  if (s != SG_OK) return s;
  if (R == 1 || composite)
    return sort_pairs(k0, k1, vb.as<int64_t>(), order->as<int64_t>(), total,
                            Key<T>::bits + (composite ? rbits : 0));
  // two stable passes: by key, then by row
  s = sort_pairs(k0, k1, vb.as<int64_t>(), order->as<int64_t>(), total, Key<T>::bits);
  if (s != SG_OK) return s;
  row_of_k<<<grid_for(total), 256, 0, st>>>(k0, order->as<int64_t>(), n, total);
  s = SG_CUDA_LAUNCH_CHECK("sort rows kernel");
  if (s != SG_OK) return s;
  s = sort_pairs(k0, k1, order->as<int64_t>(), vb.as<int64_t>(), total, rbits);
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
  sg_status s = sort_rows_t<T>(x, O, n, I, mode, &order);
  if (s != SG_OK) return s;
  int64_t total = O * k * I;
  topk_out_k<T><<<grid_for(total), 256, 0, sg_cuda_stream()>>>(
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

sg_status sgcuda::sort_rows(const sg_tensor *x, int64_t O, int64_t n, int64_t I, int mode,
                          DevBuf *order) {
  switch (x->dtype) {
    case SG_FLOAT32: return sort_rows_t<float>(x, O, n, I, mode, order);
    case SG_FLOAT64: return sort_rows_t<double>(x, O, n, I, mode, order);
    case SG_INT64: return sort_rows_t<int64_t>(x, O, n, I, mode, order);
    case SG_UINT8:
    case SG_BOOL: return sort_rows_t<uint8_t>(x, O, n, I, mode, order);
    default: return sg_error(SG_ERR_ARG, "sort: unsupported dtype");
  }
}

extern "C" const struct sg_sort_kernels sg_cuda_sort_kernels = {
    .topk = cuda_topk,
    .sort = cuda_sort,
};
