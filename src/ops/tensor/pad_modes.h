// Pad's plan and kernels, one per family of modes (private to src/ops/tensor/pad.cpp, which has
// the row, the op's description and its spellings). The modes, numpy.pad's names, for a
// dimension [a b c] padded by 2 on each side:
//   constant   v v | a b c | v v
//   reflect    c b | a b c | b a    padding < dimension
//   symmetric  b a | a b c | c b    padding ≤ dimension
//   edge       a a | a b c | c c    a dimension of size 0 cannot be padded
#pragma once

#include <vector>

#include "ops/registry.h"

namespace cellar::ops::tensor {

inline constexpr const char kPad[] = "Pad";

enum class PadMode { kConstant, kReflect, kSymmetric, kEdge };

// The `mode` attribute (absent: constant); ValueError for a non-string or an unknown mode.
PadMode pad_mode(const ir::Attrs& attrs);
// The `value` attribute, the fill of constant mode (absent: 0); ValueError for a non-number.
double fill_value(const ir::Attrs& attrs);

struct PadPlan {
  PadMode mode = PadMode::kConstant;
  std::vector<int64_t> before;  // per dimension
  Shape out;
};

// Checks `paddings` (2 per dimension: before, after), the mode's limits and the output size
// against x; ValueError saying which dimension and why.
PadPlan pad_plan(const TensorType& x, const ir::Attrs& attrs);

// The kernel of a Pad node with these input types and attributes (checked by pad_plan).
Kernel pad_kernel(std::span<const TensorType> in, const ir::Attrs& attrs);

}  // namespace cellar::ops::tensor
