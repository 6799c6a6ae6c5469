// Element by element, the tiled transpose kept both sides in L1 but still moved one float per
// load and store: 26% of a cold start of vit_b_32 (`perf record` of `cellar bench -n 1`: the
// optimiser turning 85 M Dense weights, 165 ms on a Zen 5). An 8 × 8 block is 8 loads, 24
// shuffles (ops/transpose8.h) and 8 stores.
#include "ops/transpose_plane.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/isa.h"
#include "ops/transpose8.h"

namespace cellar::ops {

namespace {

constexpr int64_t kTile = 32;

// The 4-byte element i, j of a tile (memcpy: the caller's type may be float or an integer).
inline void copy_one(const std::byte* s, std::byte* d) { std::memcpy(d, s, 4); }

void tile_scalar(const std::byte* src, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t lds,
                 std::byte* dst, int64_t ldd) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = i0; i < i1; ++i) copy_one(src + (i * lds + j) * 4, dst + (j * ldd + i) * 4);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void tile_avx2(const std::byte* src, int64_t i0, int64_t i1,
                                                   int64_t j0, int64_t j1, int64_t lds,
                                                   std::byte* dst, int64_t ldd) {
  const auto* s = reinterpret_cast<const float*>(src);
  auto* d = reinterpret_cast<float*>(dst);
  const int64_t ie = i0 + (i1 - i0) / 8 * 8, je = j0 + (j1 - j0) / 8 * 8;
  for (int64_t i = i0; i < ie; i += 8)
    for (int64_t j = j0; j < je; j += 8) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(s + (i + k) * lds + j);
      transpose8(r);  // r[k] is now column j + k of the block
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(d + (j + k) * ldd + i, r[k]);
    }
  // The edges: columns past the last whole block (every row), rows past it (the blocks' columns).
  tile_scalar(src, i0, i1, je, j1, lds, dst, ldd);
  tile_scalar(src, ie, i1, j0, je, lds, dst, ldd);
}
#endif

}  // namespace

void transpose_plane32(const void* src, int64_t rows, int64_t cols, int64_t lds, void* dst,
                       int64_t ldd) {
  auto* tile = &tile_scalar;
#if defined(__x86_64__)
  if (kernel_isa() != Isa::kNone) tile = &tile_avx2;
#endif
  const auto* s = static_cast<const std::byte*>(src);
  auto* d = static_cast<std::byte*>(dst);
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile)
      tile(s, i0, std::min(rows, i0 + kTile), j0, std::min(cols, j0 + kTile), lds, d, ldd);
}

}  // namespace cellar::ops
