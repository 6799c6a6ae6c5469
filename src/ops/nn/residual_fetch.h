// Prefetches of a fused convolution's residual (FusedConv2D with `residual`: y = act(conv + bias +
// residual)), shared by the 1 × 1 tiles (pointwise.cpp) and the direct 3 × 3 tiles (conv_taps.cpp).
// A block's shortcut comes from L3 or memory: read only at the store, resnet50's fused 1 × 1
// layers took 31% more samples at batch 8 than unfused, about what the Add and ReLU had cost;
// asked for at the start of each tile, and the next panel's into L2, 24% (docs/benchmarks.md,
// "Session 12: residual add in the convolution epilogue"). Private to src/ops/nn/; x86-64 only.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>

namespace cellar::ops {

// The residual's `lines` cache lines (16 floats each) from res in each of `rows` rows (stride ld),
// asked for at the start of a tile: its epilogue reads them after the tile's multiply-adds.
inline void fetch_residual(const float* res, int64_t ld, int rows, int lines) {
  for (int r = 0; r < rows; ++r)
    for (int l = 0; l < lines; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(res + r * ld + 16 * l), _MM_HINT_T0);
}

// The residual of the next panel's rows (`rows` rows of `len` floats, stride ld) into L2 while this
// panel computes: its tiles' own fetches (above) then find it near.
inline void fetch_residual_l2(const float* res, int64_t ld, int64_t rows, int64_t len) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < len; i += 16)
      _mm_prefetch(reinterpret_cast<const char*>(res + r * ld + i), _MM_HINT_T1);
}

}  // namespace cellar::ops

#endif  // __x86_64__
