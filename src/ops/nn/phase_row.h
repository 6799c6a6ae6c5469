// Stride phases of a zero-padded input row (private to src/ops/nn): the direct convolution
// (conv_direct.cpp) and the depthwise kernel (depthwise.cpp) both split a row padded by `pl` on
// the left into sw phases, phase q holding padded columns c·sw + q, i.e. input columns
// c·sw + q − pl, and zeros where those fall outside the row.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

namespace cellar::ops {

// The phase columns [lo, hi) of phase q, out of `cols`, that read input columns inside [0, w);
// the others are padding.
inline std::pair<int64_t, int64_t> phase_columns(int64_t w, int64_t pl, int64_t sw, int64_t q,
                                                 int64_t cols) {
  const int64_t first = pl - q;  // c·sw ≥ first
  const int64_t lo = std::min(cols, first <= 0 ? 0 : (first + sw - 1) / sw);
  const int64_t hi = std::clamp<int64_t>((w + pl - q + sw - 1) / sw, lo, cols);
  return {lo, hi};
}

// dst[c] = src[2c] for c in [0, n), reading src[0 .. 2n − 2] only: AVX-512 or AVX2 lanes where the
// kernels run them (ops/isa.h), element by element otherwise (phase_row.cpp).
void gather_stride2(float* dst, int64_t n, const float* src);

// One phase row: dst[c] = src[c·sw + q − pl] for c in [lo, hi) (from phase_columns), 0 for the
// rest of [0, cols).
inline void copy_phase_row(float* dst, int64_t cols, const float* src, int64_t lo, int64_t hi,
                           int64_t sw, int64_t q, int64_t pl) {
  std::fill_n(dst, lo, 0.0f);
  if (sw == 1) {
    std::copy(src + lo + q - pl, src + hi + q - pl, dst + lo);
  } else if (sw == 2) {
    gather_stride2(dst + lo, hi - lo, src + lo * 2 + q - pl);
  } else {
    for (int64_t c = lo; c < hi; ++c) dst[c] = src[c * sw + q - pl];
  }
  std::fill(dst + hi, dst + cols, 0.0f);
}

}  // namespace cellar::ops
