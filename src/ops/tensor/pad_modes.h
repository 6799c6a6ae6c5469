// Pad's plan and kernels, one per family of modes (private to src/ops/tensor/pad.cpp, whose
// opening comment describes the op and the modes constant, reflect, symmetric and edge: numpy.pad's
// names and limits). The plan checks a node's attributes once; the kernels only copy bytes.
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
