// CUDA kernels of the elementwise family (internal/kernels_elementwise.h): unary and
// binary ops with broadcasting, where, leaky_relu and clamp.
//
// Each op is a small functor (in_t -> out_t) run by one of three kernels:
//  - vec: every operand contiguous (or, for binary ops, a broadcast
//    scalar) and 4-element aligned: each thread handles 4 elements with
//    one vector load / store per operand (float4 for float32);
//  - flat: contiguous but not aligned;
//  - strided: any broadcast strides, up to SG_MAX_DIMS dims after the
//    CPU iterator's dim merging, 32-bit index math when it fits.
// The semantics (NaN handling, integer wrap-around, rounding) follow the
// CPU kernels in engine/cpu/elementwise_cpu.c; float math
// uses CUDA's libdevice, which differs from glibc in the last bits.
#include <math.h>
#include <type_traits>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_elementwise.h"
}

using namespace sgcuda;

// ---------------- math overloads (float / double) ----------------

#define SG_MATH1(name, ff, df)                                                \
  __device__ __forceinline__ float m_##name(float v) { return ff(v); }       \
  __device__ __forceinline__ double m_##name(double v) { return df(v); }
SG_MATH1(fabs, fabsf, fabs)
SG_MATH1(exp, expf, exp)
SG_MATH1(log, logf, log)
SG_MATH1(sqrt, sqrtf, sqrt)
SG_MATH1(sin, sinf, sin)
SG_MATH1(cos, cosf, cos)
SG_MATH1(tanh, tanhf, tanh)
SG_MATH1(log1p, log1pf, log1p)
SG_MATH1(expm1, expm1f, expm1)
SG_MATH1(floor, floorf, floor)
SG_MATH1(ceil, ceilf, ceil)
SG_MATH1(rint, rintf, rint)  // round half to even, as nearbyint on the CPU
#undef SG_MATH1

__device__ __forceinline__ float m_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double m_pow(double a, double b) { return pow(a, b); }
// integer powers by squaring, exact and wrapping like the CPU's
__device__ __forceinline__ int64_t m_pow(int64_t a, int64_t b) { return sg_i64_pow(a, b); }
__device__ __forceinline__ uint8_t m_pow(uint8_t a, uint8_t b) { return (uint8_t)sg_i64_pow(a, b); }

// + - * of int64 wrap (through uint64); other types as the operators give.
template <typename T> __device__ __forceinline__ T m_add(T a, T b) { return a + b; }
template <typename T> __device__ __forceinline__ T m_sub(T a, T b) { return a - b; }
template <typename T> __device__ __forceinline__ T m_mul(T a, T b) { return a * b; }
template <> __device__ __forceinline__ int64_t m_add<int64_t>(int64_t a, int64_t b) {
  return sg_i64_add(a, b);
}
template <> __device__ __forceinline__ int64_t m_sub<int64_t>(int64_t a, int64_t b) {
  return sg_i64_sub(a, b);
}
template <> __device__ __forceinline__ int64_t m_mul<int64_t>(int64_t a, int64_t b) {
  return sg_i64_mul(a, b);
}

// maximum / minimum: NaN propagates for floats, as in PyTorch.
template <typename T> __device__ __forceinline__ T m_max(T a, T b) {
  if (std::is_floating_point<T>::value) return (a > b || a != a) ? a : b;
  return a > b ? a : b;
}
template <typename T> __device__ __forceinline__ T m_min(T a, T b) {
  if (std::is_floating_point<T>::value) return (a < b || a != a) ? a : b;
  return a < b ? a : b;
}

// ---------------- functors ----------------

template <int OP, typename T> struct UnaryFloat {
  typedef T in_t;
  typedef T out_t;
  __device__ __forceinline__ T operator()(T v) const {
    switch (OP) {
      case SG_NEG: return -v;
      case SG_ABS: return m_fabs(v);
      case SG_SIGN: return (T)((v > 0) - (v < 0));
      case SG_EXP: return m_exp(v);
      case SG_LOG: return m_log(v);
      case SG_SQRT: return m_sqrt(v);
      case SG_RSQRT: return (T)1 / m_sqrt(v);
      case SG_SIN: return m_sin(v);
      case SG_COS: return m_cos(v);
      case SG_TANH: return m_tanh(v);
      case SG_SIGMOID: return (T)1 / ((T)1 + m_exp(-v));
      case SG_RELU: return v < 0 ? (T)0 : v;
      case SG_RECIPROCAL: return (T)1 / v;
      case SG_SQUARE: return v * v;
      case SG_LOG1P: return m_log1p(v);
      case SG_EXPM1: return m_expm1(v);
      case SG_SOFTPLUS: return (v > 0 ? v : (T)0) + m_log1p(m_exp(-m_fabs(v)));
      case SG_FLOOR: return m_floor(v);
      case SG_CEIL: return m_ceil(v);
      case SG_ROUND: return m_rint(v);
      default: return v;
    }
  }
};

template <int OP> struct UnaryI64 {
  typedef int64_t in_t;
  typedef int64_t out_t;
  __device__ __forceinline__ int64_t operator()(int64_t v) const {
    switch (OP) {
      case SG_NEG: return sg_i64_neg(v);
      case SG_ABS: return v < 0 ? sg_i64_neg(v) : v;  // abs(INT64_MIN) is INT64_MIN
      case SG_SIGN: return (v > 0) - (v < 0);
      case SG_RELU: return v < 0 ? 0 : v;
      case SG_SQUARE: return sg_i64_mul(v, v);
      default: return v;  // floor, ceil, round: identity
    }
  }
};

// uint8 and bool (one byte): negation wraps, as in PyTorch.
template <int OP> struct UnaryU8 {
  typedef uint8_t in_t;
  typedef uint8_t out_t;
  __device__ __forceinline__ uint8_t operator()(uint8_t v) const {
    switch (OP) {
      case SG_NEG: return (uint8_t)(0u - v);
      case SG_SIGN: return v > 0;
      case SG_SQUARE: return (uint8_t)(v * v);
      default: return v;  // abs, relu, floor, ceil, round
    }
  }
};

template <typename T> struct NotOp {
  typedef T in_t;
  typedef uint8_t out_t;
  __device__ __forceinline__ uint8_t operator()(T v) const { return v == (T)0; }
};

template <typename T> struct LeakyOp {
  typedef T in_t;
  typedef T out_t;
  T slope;
  __device__ __forceinline__ T operator()(T v) const { return v > 0 ? v : v * slope; }
};

// Absent bounds are flagged; NaN input stays NaN (comparisons are false).
template <typename T> struct ClampOp {
  typedef T in_t;
  typedef T out_t;
  bool has_lo, has_hi;
  T lo, hi;
  __device__ __forceinline__ T operator()(T v) const {
    if (has_lo && v < lo) v = lo;
    if (has_hi && v > hi) v = hi;
    return v;
  }
};

template <int OP, typename T> struct BinaryOp {
  typedef T in_t;
  typedef typename std::conditional<(OP >= SG_EQ), uint8_t, T>::type out_t;
  __device__ __forceinline__ out_t operator()(T a, T b) const {
    switch (OP) {
      case SG_ADD: return (out_t)m_add(a, b);
      case SG_SUB: return (out_t)m_sub(a, b);
      case SG_MUL: return (out_t)m_mul(a, b);
      case SG_DIV: return (out_t)(a / b);
      case SG_POW: return (out_t)m_pow(a, b);
      case SG_MAXIMUM: return (out_t)m_max(a, b);
      case SG_MINIMUM: return (out_t)m_min(a, b);
      case SG_EQ: return a == b;
      case SG_NE: return a != b;
      case SG_LT: return a < b;
      case SG_LE: return a <= b;
      case SG_GT: return a > b;
      case SG_GE: return a >= b;
      case SG_LOGICAL_AND: return (a != (T)0) && (b != (T)0);
      case SG_LOGICAL_OR: return (a != (T)0) || (b != (T)0);
      default: return (out_t)0;
    }
  }
};

// ---------------- one-input kernels ----------------

template <typename F, typename I>
__global__ void map1_strided(F f, typename F::out_t *o, const typename F::in_t *x, Geom<2> g,
                             I n) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I off[2];
    geom_offsets<2, I>(g, i, off);
    o[off[0]] = f(x[off[1]]);
  }
}

template <typename F>
__global__ void map1_flat(F f, typename F::out_t *o, const typename F::in_t *x, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    o[i] = f(x[i]);
}

template <typename F>
__global__ void map1_vec(F f, typename F::out_t *o, const typename F::in_t *x, int64_t n) {
  typedef typename F::in_t TI;
  typedef typename F::out_t TO;
  int64_t nv = n / 4, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const Vec<TI, 4> *xv = reinterpret_cast<const Vec<TI, 4> *>(x);
  Vec<TO, 4> *ov = reinterpret_cast<Vec<TO, 4> *>(o);
  for (int64_t i = tid; i < nv; i += stride) {
    Vec<TI, 4> a = xv[i];
    Vec<TO, 4> r;
#pragma unroll
    for (int j = 0; j < 4; j++) r.v[j] = f(a.v[j]);
    ov[i] = r;
  }
  for (int64_t i = nv * 4 + tid; i < n; i += stride) o[i] = f(x[i]);
}

template <typename F>
static sg_status launch_map1(F f, sg_tensor *out, const sg_tensor *x, const char *name) {
  typedef typename F::in_t TI;
  typedef typename F::out_t TO;
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  Geom<2> g;
  sg_tensor *ts[2] = {out, (sg_tensor *)x};
  bool small = make_geom<2>(&g, ts, out->shape, out->ndim);
  TO *po = dptr<TO>(out);
  const TI *px = dptr<const TI>(x);
  cudaStream_t st = sg_cuda_stream();
  if (geom_flat(g)) {
    if (aligned_to(po, 4 * sizeof(TO)) && aligned_to(px, 4 * sizeof(TI)))
      map1_vec<F><<<grid_for((n + 3) / 4), kThreads, 0, st>>>(f, po, px, n);
    else
      map1_flat<F><<<grid_for(n), kThreads, 0, st>>>(f, po, px, n);
  } else if (small) {
    map1_strided<F, int32_t><<<grid_for(n), kThreads, 0, st>>>(f, po, px, g, (int32_t)n);
  } else {
    map1_strided<F, int64_t><<<grid_for(n), kThreads, 0, st>>>(f, po, px, g, n);
  }
  return SG_CUDA_LAUNCH_CHECK(name);
}

// ---------------- two-input kernels ----------------

template <typename F, typename I>
__global__ void map2_strided(F f, typename F::out_t *o, const typename F::in_t *a,
                             const typename F::in_t *b, Geom<3> g, I n) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I off[3];
    geom_offsets<3, I>(g, i, off);
    o[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

// Contiguous output; a and b contiguous (step 1) or broadcast scalars
// (step 0).
template <typename F>
__global__ void map2_flat(F f, typename F::out_t *o, const typename F::in_t *a,
                          const typename F::in_t *b, int64_t n, int sa, int sb) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    o[i] = f(a[i * sa], b[i * sb]);
}

template <typename F>
__global__ void map2_vec(F f, typename F::out_t *o, const typename F::in_t *a,
                         const typename F::in_t *b, int64_t n, int sa, int sb) {
  typedef typename F::in_t TI;
  typedef typename F::out_t TO;
  int64_t nv = n / 4, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const Vec<TI, 4> *av = reinterpret_cast<const Vec<TI, 4> *>(a);
  const Vec<TI, 4> *bv = reinterpret_cast<const Vec<TI, 4> *>(b);
  Vec<TO, 4> *ov = reinterpret_cast<Vec<TO, 4> *>(o);
  TI a0 = sa ? (TI)0 : a[0], b0 = sb ? (TI)0 : b[0];
  for (int64_t i = tid; i < nv; i += stride) {
    Vec<TI, 4> x, y;
    if (sa) {
      x = av[i];
    } else {
#pragma unroll
      for (int j = 0; j < 4; j++) x.v[j] = a0;
    }
    if (sb) {
      y = bv[i];
    } else {
#pragma unroll
      for (int j = 0; j < 4; j++) y.v[j] = b0;
    }
    Vec<TO, 4> r;
#pragma unroll
    for (int j = 0; j < 4; j++) r.v[j] = f(x.v[j], y.v[j]);
    ov[i] = r;
  }
  for (int64_t i = nv * 4 + tid; i < n; i += stride) o[i] = f(a[i * sa], b[i * sb]);
}

template <typename F>
static sg_status launch_map2(F f, sg_tensor *out, const sg_tensor *a, const sg_tensor *b,
                             const char *name) {
  typedef typename F::in_t TI;
  typedef typename F::out_t TO;
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  Geom<3> g;
  sg_tensor *ts[3] = {out, (sg_tensor *)a, (sg_tensor *)b};
  bool small = make_geom<3>(&g, ts, out->shape, out->ndim);
  TO *po = dptr<TO>(out);
  const TI *pa = dptr<const TI>(a), *pb = dptr<const TI>(b);
  cudaStream_t st = sg_cuda_stream();
  bool flat = g.ndim == 1 && g.strides[0][0] == 1 && (g.strides[1][0] == 0 || g.strides[1][0] == 1) &&
              (g.strides[2][0] == 0 || g.strides[2][0] == 1);
  if (flat) {
    int sa = (int)g.strides[1][0], sb = (int)g.strides[2][0];
    if (aligned_to(po, 4 * sizeof(TO)) && (!sa || aligned_to(pa, 4 * sizeof(TI))) &&
        (!sb || aligned_to(pb, 4 * sizeof(TI))))
      map2_vec<F><<<grid_for((n + 3) / 4), kThreads, 0, st>>>(f, po, pa, pb, n, sa, sb);
    else
      map2_flat<F><<<grid_for(n), kThreads, 0, st>>>(f, po, pa, pb, n, sa, sb);
  } else if (small) {
    map2_strided<F, int32_t><<<grid_for(n), kThreads, 0, st>>>(f, po, pa, pb, g, (int32_t)n);
  } else {
    map2_strided<F, int64_t><<<grid_for(n), kThreads, 0, st>>>(f, po, pa, pb, g, n);
  }
  return SG_CUDA_LAUNCH_CHECK(name);
}

// ---------------- unary ----------------

template <typename T>
static sg_status unary_float(sg_unary_op op, sg_tensor *out, const sg_tensor *x) {
  switch (op) {
#define U(OP) \
  case OP: return launch_map1(UnaryFloat<OP, T>(), out, x, "unary_" #OP);
    U(SG_NEG) U(SG_ABS) U(SG_SIGN) U(SG_EXP) U(SG_LOG) U(SG_SQRT) U(SG_RSQRT) U(SG_SIN)
    U(SG_COS) U(SG_TANH) U(SG_SIGMOID) U(SG_RELU) U(SG_RECIPROCAL) U(SG_SQUARE) U(SG_LOG1P)
    U(SG_EXPM1) U(SG_SOFTPLUS) U(SG_FLOOR) U(SG_CEIL) U(SG_ROUND)
#undef U
    case SG_LOGICAL_NOT: return launch_map1(NotOp<T>(), out, x, "unary_not");
    default: break;
  }
  return sg_error(SG_ERR_ARG, "unary op %d: not defined for dtype %s", (int)op,
                  sg_dtype_name(x->dtype));
}

static sg_status unary_i64(sg_unary_op op, sg_tensor *out, const sg_tensor *x) {
  switch (op) {
#define U(OP) \
  case OP: return launch_map1(UnaryI64<OP>(), out, x, "unary_i64_" #OP);
    U(SG_NEG) U(SG_ABS) U(SG_SIGN) U(SG_RELU) U(SG_SQUARE)
#undef U
    case SG_FLOOR:
    case SG_CEIL:
    case SG_ROUND: return launch_map1(UnaryI64<SG_FLOOR>(), out, x, "unary_i64_copy");
    case SG_LOGICAL_NOT: return launch_map1(NotOp<int64_t>(), out, x, "unary_not");
    default: break;
  }
  return sg_error(SG_ERR_ARG, "unary op %d: not defined for dtype %s", (int)op,
                  sg_dtype_name(x->dtype));
}

static sg_status unary_u8(sg_unary_op op, sg_tensor *out, const sg_tensor *x) {
  switch (op) {
    case SG_NEG: return launch_map1(UnaryU8<SG_NEG>(), out, x, "unary_u8_neg");
    case SG_SIGN: return launch_map1(UnaryU8<SG_SIGN>(), out, x, "unary_u8_sign");
    case SG_SQUARE: return launch_map1(UnaryU8<SG_SQUARE>(), out, x, "unary_u8_square");
    case SG_ABS:
    case SG_RELU:
    case SG_FLOOR:
    case SG_CEIL:
    case SG_ROUND: return launch_map1(UnaryU8<SG_ABS>(), out, x, "unary_u8_copy");
    case SG_LOGICAL_NOT: return launch_map1(NotOp<uint8_t>(), out, x, "unary_not");
    default: break;
  }
  return sg_error(SG_ERR_ARG, "unary op %d: not defined for dtype %s", (int)op,
                  sg_dtype_name(x->dtype));
}

static sg_status cuda_unary(sg_unary_op op, sg_tensor *out, const sg_tensor *x) {
  switch (x->dtype) {
    case SG_FLOAT32: return unary_float<float>(op, out, x);
    case SG_FLOAT64: return unary_float<double>(op, out, x);
    case SG_INT64: return unary_i64(op, out, x);
    case SG_UINT8:
    case SG_BOOL: return unary_u8(op, out, x);
    default: return sg_error(SG_ERR_ARG, "unary: invalid dtype");
  }
}

// ---------------- binary ----------------

template <typename T>
static sg_status binary_t(sg_binary_op op, sg_tensor *out, const sg_tensor *a,
                          const sg_tensor *b) {
  switch (op) {
#define B(OP) \
  case OP: return launch_map2(BinaryOp<OP, T>(), out, a, b, "binary_" #OP);
    B(SG_ADD) B(SG_SUB) B(SG_MUL) B(SG_DIV) B(SG_POW) B(SG_MAXIMUM) B(SG_MINIMUM) B(SG_EQ)
    B(SG_NE) B(SG_LT) B(SG_LE) B(SG_GT) B(SG_GE) B(SG_LOGICAL_AND) B(SG_LOGICAL_OR)
#undef B
    default: break;
  }
  return sg_error(SG_ERR_ARG, "binary op %d: unknown", (int)op);
}

static sg_status cuda_binary(sg_binary_op op, sg_tensor *out, const sg_tensor *a,
                             const sg_tensor *b) {
  if (a->dtype != b->dtype)
    return sg_error(SG_ERR_ARG, "binary op: operand dtypes differ (%s, %s)",
                    sg_dtype_name(a->dtype), sg_dtype_name(b->dtype));
  if (op == SG_DIV && !sg_dtype_is_float(a->dtype))
    return sg_error(SG_ERR_ARG, "div: integer operands must be converted to float first");
  switch (a->dtype) {
    case SG_FLOAT32: return binary_t<float>(op, out, a, b);
    case SG_FLOAT64: return binary_t<double>(op, out, a, b);
    case SG_INT64: return binary_t<int64_t>(op, out, a, b);
    case SG_UINT8:
    case SG_BOOL: return binary_t<uint8_t>(op, out, a, b);
    default: return sg_error(SG_ERR_ARG, "binary: invalid dtype");
  }
}

// ---------------- where ----------------

template <typename T, typename I>
__global__ void where_strided(T *o, const uint8_t *c, const T *a, const T *b, Geom<4> g, I n) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I off[4];
    geom_offsets<4, I>(g, i, off);
    o[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <typename T>
__global__ void where_flat(T *o, const uint8_t *c, const T *a, const T *b, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    o[i] = c[i] ? a[i] : b[i];
}

template <typename T>
static sg_status launch_where(sg_tensor *out, const sg_tensor *cond, const sg_tensor *a,
                              const sg_tensor *b) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  Geom<4> g;
  sg_tensor *ts[4] = {out, (sg_tensor *)cond, (sg_tensor *)a, (sg_tensor *)b};
  bool small = make_geom<4>(&g, ts, out->shape, out->ndim);
  T *po = dptr<T>(out);
  const uint8_t *pc = dptr<const uint8_t>(cond);
  const T *pa = dptr<const T>(a), *pb = dptr<const T>(b);
  cudaStream_t st = sg_cuda_stream();
  if (geom_flat(g))
    where_flat<T><<<grid_for(n), kThreads, 0, st>>>(po, pc, pa, pb, n);
  else if (small)
    where_strided<T, int32_t><<<grid_for(n), kThreads, 0, st>>>(po, pc, pa, pb, g, (int32_t)n);
  else
    where_strided<T, int64_t><<<grid_for(n), kThreads, 0, st>>>(po, pc, pa, pb, g, n);
  return SG_CUDA_LAUNCH_CHECK("where");
}

static sg_status cuda_where(sg_tensor *out, const sg_tensor *cond, const sg_tensor *a,
                            const sg_tensor *b) {
  if (cond->dtype != SG_BOOL && cond->dtype != SG_UINT8)
    return sg_error(SG_ERR_ARG, "where: condition must be bool, got %s",
                    sg_dtype_name(cond->dtype));
  switch (out->dtype) {
    case SG_FLOAT32: return launch_where<float>(out, cond, a, b);
    case SG_FLOAT64: return launch_where<double>(out, cond, a, b);
    case SG_INT64: return launch_where<int64_t>(out, cond, a, b);
    case SG_UINT8:
    case SG_BOOL: return launch_where<uint8_t>(out, cond, a, b);
    default: return sg_error(SG_ERR_ARG, "where: invalid dtype");
  }
}

// ---------------- leaky_relu, clamp ----------------

static sg_status cuda_leaky_relu(sg_tensor *out, const sg_tensor *x, double slope) {
  switch (x->dtype) {
    case SG_FLOAT32: {
      LeakyOp<float> f;
      f.slope = (float)slope;
      return launch_map1(f, out, x, "leaky_relu");
    }
    case SG_FLOAT64: {
      LeakyOp<double> f;
      f.slope = slope;
      return launch_map1(f, out, x, "leaky_relu");
    }
    default:
      return sg_error(SG_ERR_ARG, "leaky_relu: expected a float tensor, got %s",
                      sg_dtype_name(x->dtype));
  }
}

// A bound in the tensor's type, as on the CPU (elementwise_cpu.c): integer
// types saturate out-of-range bounds (a cast would be undefined).
template <typename T> static T clamp_bound(double v) {
  if (std::is_same<T, int64_t>::value) return (T)sg_f2i64(v);
  if (std::is_same<T, uint8_t>::value) return (T)sg_u8_bound(v);
  return (T)v;
}

template <typename T>
static sg_status clamp_t(sg_tensor *out, const sg_tensor *x, double lo, double hi) {
  ClampOp<T> f;
  f.has_lo = lo == lo;
  f.has_hi = hi == hi;
  f.lo = f.has_lo ? clamp_bound<T>(lo) : (T)0;
  f.hi = f.has_hi ? clamp_bound<T>(hi) : (T)0;
  return launch_map1(f, out, x, "clamp");
}

static sg_status cuda_clamp(sg_tensor *out, const sg_tensor *x, double lo, double hi) {
  switch (x->dtype) {
    case SG_FLOAT32: return clamp_t<float>(out, x, lo, hi);
    case SG_FLOAT64: return clamp_t<double>(out, x, lo, hi);
    case SG_INT64: return clamp_t<int64_t>(out, x, lo, hi);
    case SG_UINT8:
    case SG_BOOL: return clamp_t<uint8_t>(out, x, lo, hi);
    default: return sg_error(SG_ERR_ARG, "clamp: invalid dtype");
  }
}

extern "C" const struct sg_elementwise_kernels sg_cuda_elementwise_kernels = {
    .unary = cuda_unary,
    .binary = cuda_binary,
    .where = cuda_where,
    .leaky_relu = cuda_leaky_relu,
    .clamp = cuda_clamp,
    .leaky_relu_backward = nullptr,  // the op composes it
};
