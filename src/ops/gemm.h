// The one matrix-multiply entry point of the kernels (MatMul, BatchMatMul, Conv2D's im2col):
// whatever computes it (OpenBLAS today; the inference-speed work swaps what is behind it) is
// chosen here, not at each call site.
#pragma once

#include <cstdint>

namespace cellar::ops {

// C[m×n] = op(A) · op(B), row-major, op = transpose when asked; op(A) is m×k, op(B) is k×n;
// lda/ldb/ldc are the row strides of A, B, C as stored. C is overwritten (zeros when k == 0);
// nothing happens when m or n is 0. Dimensions must fit an int (the BLAS interface).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc);

}  // namespace cellar::ops
