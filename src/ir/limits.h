// The limits on shapes that every part holding hostile input to account shares (private to
// src/): the readers check each value a file makes against them, and Graph::infer_at each shape
// computed from values while planning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cellar/tensor.h"

namespace cellar::ir {

// No dimension of a value a reader makes (input, weight, constant, node output), nor of a shape
// computed from values while planning (Graph::infer_at), may exceed
// kMaxDimension, nor its rank kMaxRank. A shape with a zero elsewhere has no elements whatever its
// other dimensions, so a file can declare (0, 2^62) cheaply; the shape rules and import rules then
// compute with such sizes (sums of dimensions, splits, pads, index ranges) where int64 overflows
// or loops run for ever. 2^48 is far beyond any real model's dimension and leaves 2^15 of
// headroom for that arithmetic. Nor may the non-zero dimensions multiply past int64: the strides
// shape rules and kernels compute (partial products of the dimensions) overflowed for (0, 2^40,
// 2^40), a shape of no elements (fuzz_onnx: Einsum's ReduceSum of such an input). A rank in the
// thousands costs a few bytes too, and rules that
// work per axis (Unsqueeze's one ExpandDims per axis) would do quadratic work over it; real models
// stay under 10.
inline constexpr int64_t kMaxDimension = int64_t{1} << 48;
inline constexpr size_t kMaxRank = 64;

// Why `s` is over those limits (its rank, or its first dimension too large); empty when it is
// within them.
inline std::string shape_over_limits(const Shape& s) {
  if (s.rank() > kMaxRank)
    return "rank " + std::to_string(s.rank()) + " is above cellar's limit of " +
           std::to_string(kMaxRank);
  int64_t nonzero = 1;  // the product of the non-zero dimensions bounds every stride
  for (int64_t d : s.dims()) {
    if (d > kMaxDimension)
      return s.str() + " has a dimension of " + std::to_string(d) +
             ", above cellar's limit of 2^48";
    if (d > 0 && __builtin_mul_overflow(nonzero, d, &nonzero))
      return s.str() + " has non-zero dimensions that multiply past int64 (no stride could " +
             "address them)";
  }
  return {};
}

}  // namespace cellar::ir
