#include "ops/gemm.h"

#include <cblas.h>

#include <algorithm>

namespace cellar::ops {

namespace {
CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }
int i32(int64_t v) { return static_cast<int>(v); }
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0f);
    return;
  }
  cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), i32(m), i32(n), i32(k), 1.0f, a, i32(lda), b,
              i32(ldb), 0.0f, c, i32(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0);
    return;
  }
  cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), i32(m), i32(n), i32(k), 1.0, a, i32(lda), b,
              i32(ldb), 0.0, c, i32(ldc));
}

}  // namespace cellar::ops
