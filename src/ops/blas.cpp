#include "ops/blas.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>

#include "cellar/error.h"

namespace cellar::ops::blas {

namespace {

using SgemmFn = decltype(&cblas_sgemm);
using DgemmFn = decltype(&cblas_dgemm);
using SetThreadsFn = void (*)(int);

struct Library {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  SetThreadsFn set_threads = nullptr;  // OpenBLAS only
  std::string tried;                   // for the error when none loads
};

std::atomic<bool> g_single{false};
std::atomic<bool> g_loaded{false};

Library open_library() {
  Library lib;
  const char* candidates[] = {
#ifdef CELLAR_BLAS_LIBRARY
      CELLAR_BLAS_LIBRARY,
#endif
      "libopenblas.so.0", "libcblas.so.3", "libblas.so.3"};
  for (const char* name : candidates) {
    if (!lib.tried.empty()) lib.tried += ", ";
    lib.tried += name;
    // RTLD_LOCAL: its symbols stay out of the process's global scope.
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) continue;
    auto s = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    auto d = reinterpret_cast<DgemmFn>(dlsym(h, "cblas_dgemm"));
    if (s == nullptr || d == nullptr) {
      dlclose(h);
      continue;
    }
    lib.sgemm = s;
    lib.dgemm = d;
    lib.set_threads = reinterpret_cast<SetThreadsFn>(dlsym(h, "openblas_set_num_threads"));
    return lib;  // never closed: the process keeps it
  }
  return lib;
}

const Library& library() {
  static const Library lib = [] {
    Library l = open_library();
    if (l.sgemm != nullptr) {
      // Flag first, then look: single_threaded() on another thread sets its flag, then looks at
      // this one, so one of the two calls set_threads.
      g_loaded.store(true);
      if (l.set_threads != nullptr && g_single.load()) l.set_threads(1);
    }
    return l;
  }();
  if (lib.sgemm == nullptr)
    throw Error(ErrorCode::kUnsupported,
                "no BLAS library with cblas_sgemm could be loaded (tried " + lib.tried +
                    "): install libopenblas0 (Debian) or another CBLAS");
  return lib;
}

}  // namespace

void sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
           float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
           int ldc) {
  library().sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
           double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c,
           int ldc) {
  library().dgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void single_threaded() {
  if (g_single.exchange(true)) return;
  if (g_loaded.load()) {
    const Library& lib = library();
    if (lib.set_threads != nullptr) lib.set_threads(1);
  }
}

bool loaded() { return g_loaded.load(); }

}  // namespace cellar::ops::blas
