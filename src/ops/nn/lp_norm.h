// The reduction plan LpNorm and L2Normalize share (private to src/ops/nn/): for x's shape and a
// set of axes, the offset in x of every output element's first input and the offsets of the
// reduced elements relative to it, both computed once when the kernel is built, so running it
// allocates nothing and accumulates each output in a double.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace cellar::ops {

struct NormPlan {
  std::vector<int64_t> base;     // per kept position (C order over the kept axes)
  std::vector<int64_t> reduced;  // per reduced position, relative to base
};

// `axes` an int list (negative from the end; empty: every axis), refused out of range or twice
// (ValueError naming `op`). Returns the sorted, normalised axes.
std::vector<int64_t> norm_axes(const std::string& op, std::vector<int64_t> axes, int64_t rank);
NormPlan norm_plan(const Shape& x, const std::vector<int64_t>& sorted_axes);

}  // namespace cellar::ops
