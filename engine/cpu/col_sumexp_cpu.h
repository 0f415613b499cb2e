/* Shared by the softmax (softmax_cpu.c) and logsumexp (reduce_cpu.c) kernels:
 * the column-block pass over a contiguous [N, I] slab that finds, for the
 * `bl` adjacent columns starting at i0, the max m[l] and sum_n exp(x - m[l])
 * (accumulated in double). When w is non-NULL the exponentials are also
 * written there (same layout as x). Include after defining exp_f32/exp_f64. */
#ifndef SG_CPU_COL_SUMEXP_H
#define SG_CPU_COL_SUMEXP_H

#include <math.h>
#include <stdint.h>

#define SG_DEFINE_COL_SUMEXP(SUF, T)                                                       \
  static inline void col_sumexp_##SUF(const T *x, int64_t N, int64_t I, int64_t i0,        \
                                      int64_t bl, T *m, double *s, T *w) {                 \
    for (int64_t l = 0; l < bl; l++) {                                                     \
      m[l] = -INFINITY;                                                                    \
      s[l] = 0;                                                                            \
    }                                                                                      \
    for (int64_t n = 0; n < N; n++) {                                                      \
      const T *r = x + n * I + i0;                                                         \
      for (int64_t l = 0; l < bl; l++) m[l] = r[l] > m[l] ? r[l] : m[l];                   \
    }                                                                                      \
    for (int64_t n = 0; n < N; n++) {                                                      \
      const T *r = x + n * I + i0;                                                         \
      if (w) {                                                                             \
        T *wr = w + n * I + i0;                                                            \
        for (int64_t l = 0; l < bl; l++) {                                                 \
          T e = exp_##SUF(r[l] - m[l]);                                                    \
          wr[l] = e;                                                                       \
          s[l] += (double)e;                                                               \
        }                                                                                  \
      } else {                                                                             \
        for (int64_t l = 0; l < bl; l++) s[l] += (double)exp_##SUF(r[l] - m[l]);           \
      }                                                                                    \
    }                                                                                      \
  }

#endif
