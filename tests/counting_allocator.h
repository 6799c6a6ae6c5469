// Every allocation of the process counted, so that a test can say "this run allocated nothing":
// the replaceable global operator new and delete, defined here. Include this header in exactly one
// translation unit of a test executable (the test's own file), never in test_util.cpp.
//
// Not under ThreadSanitizer, whose runtime brings its own operator new (a second definition would
// not link): kCountingAllocations is then false, the count stays 0, and tests skip the checks that
// need it. AddressSanitizer intercepts malloc beneath these, so the counts hold there.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_THREAD__)
#define CELLAR_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CELLAR_TEST_TSAN 1
#endif
#endif

namespace cellar::testing {

inline std::atomic<size_t> g_allocations{0};

#ifdef CELLAR_TEST_TSAN
inline constexpr bool kCountingAllocations = false;
#else
inline constexpr bool kCountingAllocations = true;
#endif

// Allocations so far (0 where kCountingAllocations is false).
inline size_t allocations() { return g_allocations.load(); }

}  // namespace cellar::testing

#ifndef CELLAR_TEST_TSAN
// Not inlined: gcc would otherwise pair an inlined free() with `new` and warn.
[[gnu::noinline]] void* operator new(std::size_t n) {
  ++cellar::testing::g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return operator new(n); }
[[gnu::noinline]] void* operator new(std::size_t n, std::align_val_t a) {
  ++cellar::testing::g_allocations;
  const size_t al = static_cast<size_t>(a);
  if (void* p = std::aligned_alloc(al, (std::max<size_t>(n, 1) + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n, std::align_val_t a) {
  return operator new(n, a);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#endif
