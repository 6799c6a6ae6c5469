// BLAS, loaded when first used. cellar's own kernels compute most products; BLAS is left for a
// few (transposed-A and Float64 GEMMs), so it is opened with dlopen on the first such call rather
// than linked: a process that never needs it (a small network's cold start) does not pay for
// loading and relocating it and for the worker threads OpenBLAS starts when it is loaded (about
// half of `cellar run`'s start-up on a small net before this).
#pragma once

#include <cblas.h>

namespace cellar::ops::blas {

// cblas_sgemm / cblas_dgemm of the first library found among CELLAR_BLAS_LIBRARY (the one the
// build found), libopenblas.so.0, libcblas.so.3 and libblas.so.3. Throws cellar::Error
// (kUnsupported) naming the libraries tried when none loads.
void sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
           float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
           int ldc);
void dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
           double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c,
           int ldc);

// Keeps an OpenBLAS's own thread pool at one thread (cellar splits products over its own
// workers): now if it is loaded, else as soon as it is. Process-wide, never undone.
void single_threaded();
// Whether the library has been loaded (for tests).
bool loaded();

}  // namespace cellar::ops::blas
