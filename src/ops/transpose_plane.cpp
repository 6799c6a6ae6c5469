// Element by element, the tiled transpose kept both sides in L1 but still moved one float per
// load and store: 26% of a cold start of vit_b_32 (`perf record` of `cellar bench -n 1`: the
// optimiser turning 85 M Dense weights, 165 ms on a Zen 5). An 8 × 8 block is 8 loads, 24
// shuffles and 8 stores.
#include "ops/transpose_plane.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/isa.h"

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
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
      // Column c of the block (row c of the output): its rows 0-3 from u_, 4-7 from u_+4.
      const __m256 c[8] = {_mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
                           _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
                           _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
                           _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(d + (j + k) * ldd + i, c[k]);
    }
  // The edges: columns past the last whole block (every row), rows past it (the blocks' columns).
  tile_scalar(src, i0, i1, je, j1, lds, dst, ldd);
  tile_scalar(src, ie, i1, j0, je, lds, dst, ldd);
}
#endif

}  // namespace

void transpose_plane32(const void* src, int64_t rows, int64_t cols, int64_t lds, void* dst,
                       int64_t ldd) {
  const auto* s = static_cast<const std::byte*>(src);
  auto* d = static_cast<std::byte*>(dst);
#if defined(__x86_64__)
  const bool simd = kernel_isa() != Isa::kNone;
#else
  const bool simd = false;
#endif
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(cols, j0 + kTile);
#if defined(__x86_64__)
      if (simd) {
        tile_avx2(s, i0, i1, j0, j1, lds, d, ldd);
        continue;
      }
#endif
      tile_scalar(s, i0, i1, j0, j1, lds, d, ldd);
    }
  (void)simd;
}

}  // namespace cellar::ops
