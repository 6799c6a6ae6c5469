// NumPy broadcasting (private to src/ops): the broadcast shape of two shapes, each operand's
// strides against the output, and a walk over the output that hands each element's operand
// offsets to a callback. Planned once when a kernel is built; walking allocates nothing.
#pragma once

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace cellar::ops {

inline Shape broadcast_shape(const std::string& op, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.rank() ? 1 : a[i - (r - a.rank())];
    const int64_t db = i < r - b.rank() ? 1 : b[i - (r - b.rank())];
    if (da != db && da != 1 && db != 1)
      shape_error(op, "shapes " + a.str() + " and " + b.str() + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

// Element strides of `s` aligned right to `out`'s rank, 0 along broadcast dimensions.
inline std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  const size_t r = out.rank();
  std::vector<int64_t> st(r, 0);
  int64_t acc = 1;
  for (size_t i = s.rank(); i-- > 0;) {
    const size_t o = i + (r - s.rank());
    st[o] = s[i] == 1 ? 0 : acc;
    acc *= s[i];
  }
  return st;
}

inline constexpr size_t kMaxBroadcastRank = 16;

// The walk of K operands broadcast to `out` (rank ≤ kMaxBroadcastRank, which the caller's shape
// rule checks): run(f) calls f(i, off) for every output element i in C order, off[k] being
// operand k's element offset. Operands of the output's own shape take a plain loop. The
// odometer's state lives on the stack, so one walk can run concurrently on distinct buffers.
template <size_t K>
class BroadcastWalk {
 public:
  // The walk keeps the output's dimensions merged where every operand steps through two
  // neighbours as through one (the outer one's stride is the inner one's times its extent) and
  // drops those of extent 1: a squeeze-excitation scale [N, C, H, W] · [N, C, 1, 1] walks
  // [N·C, H·W], one run per plane, not one per row of W.
  BroadcastWalk(std::span<const Shape, K> in, const Shape& out) : n_(out.numel()) {
    std::array<std::vector<int64_t>, K> st;
    for (size_t k = 0; k < K; ++k) {
      same_ = same_ && in[k] == out;
      st[k] = broadcast_strides(in[k], out);
    }
    for (size_t d = 0; d < out.rank(); ++d) {
      if (out[d] == 1) continue;
      bool merge = !dims_.empty();
      for (size_t k = 0; k < K && merge; ++k) merge = strides_[k].back() == st[k][d] * out[d];
      if (!merge) {
        dims_.push_back(out[d]);
        for (size_t k = 0; k < K; ++k) strides_[k].push_back(st[k][d]);
        continue;
      }
      dims_.back() *= out[d];
      for (size_t k = 0; k < K; ++k) strides_[k].back() = st[k][d];
    }
  }

  int64_t size() const { return n_; }
  // Operand k's stride along the walk's last (merged) dimension (1, or 0 when broadcast along
  // it; 1 for a single element).
  int64_t inner_stride(size_t k) const { return same_ || dims_.empty() ? 1 : strides_[k].back(); }

  // The walk by runs along the last dimension, over output elements [begin, end): f(i, off, len)
  // for each run of `len` elements from i, off[k] being operand k's offset at i; along the run
  // operand k advances by inner_stride(k). Lets a caller loop over a run with fixed strides
  // (vectorisable) instead of taking the odometer's step per element.
  template <class F>
  void runs(int64_t begin, int64_t end, F f) const {
    if (begin >= end) return;
    int64_t off[K] = {0};
    if (same_ || dims_.empty()) {
      for (size_t k = 0; k < K; ++k) off[k] = begin;
      f(begin, off, end - begin);
      return;
    }
    int64_t idx[kMaxBroadcastRank] = {0};
    const size_t r = dims_.size();
    seek(begin, idx, off);
    const int64_t inner = dims_[r - 1];
    for (int64_t i = begin; i < end;) {
      const int64_t len = std::min(inner - idx[r - 1], end - i);
      f(i, off, len);
      i += len;
      for (size_t k = 0; k < K; ++k) off[k] += len * strides_[k][r - 1];
      idx[r - 1] += len;
      if (idx[r - 1] < inner) break;  // only at `end`
      for (size_t d = r; d-- > 0;) {
        if (d + 1 < r) {
          ++idx[d];
          for (size_t k = 0; k < K; ++k) off[k] += strides_[k][d];
        }
        if (idx[d] < dims_[d]) break;
        for (size_t k = 0; k < K; ++k) off[k] -= strides_[k][d] * dims_[d];
        idx[d] = 0;
      }
    }
  }

  template <class F>
  void run(F f) const {
    run(0, n_, f);
  }
  // The same over output elements [begin, end) only: the odometer starts at `begin`.
  template <class F>
  void run(int64_t begin, int64_t end, F f) const {
    int64_t off[K] = {0};
    if (same_) {
      for (int64_t i = begin; i < end; ++i) {
        for (size_t k = 0; k < K; ++k) off[k] = i;
        f(i, off);
      }
      return;
    }
    int64_t idx[kMaxBroadcastRank] = {0};
    const size_t r = dims_.size();
    seek(begin, idx, off);
    for (int64_t i = begin; i < end; ++i) {
      f(i, off);
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        for (size_t k = 0; k < K; ++k) off[k] += strides_[k][d];
        if (idx[d] < dims_[d]) break;
        for (size_t k = 0; k < K; ++k) off[k] -= strides_[k][d] * dims_[d];
        idx[d] = 0;
      }
    }
  }

 private:
  // The odometer at output element `begin`: idx its index along each dimension, off[k] operand
  // k's offset there (both zeroed by the caller).
  void seek(int64_t begin, int64_t* idx, int64_t* off) const {
    for (int64_t d = static_cast<int64_t>(dims_.size()) - 1, rest = begin; d >= 0 && rest > 0;
         --d) {
      const auto du = static_cast<size_t>(d);
      idx[du] = rest % dims_[du];
      rest /= dims_[du];
      for (size_t k = 0; k < K; ++k) off[k] += idx[du] * strides_[k][du];
    }
  }

  std::vector<int64_t> dims_;
  std::array<std::vector<int64_t>, K> strides_;
  int64_t n_ = 0;
  bool same_ = true;
};

}  // namespace cellar::ops
