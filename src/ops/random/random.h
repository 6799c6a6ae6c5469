// What the random rows share (private to src/ops/random/). A random op runs eagerly only: it has
// no kernel a graph could run, and inside an export trace it is refused (a graph drawing random
// numbers does not reproduce its outputs, and MindSpore's export refuses them too). It is called
// two ways: through the functional API (cellar/ops.h) with the caller's Generator, and through
// ops::call with attributes, its numbers drawn from a Generator seeded by `seed` (absent: from
// std::random_device), so the same seed gives the same values as the functional form with
// Generator(seed).
#pragma once

#include <functional>
#include <string>

#include "cellar/generator.h"
#include "ops/registry.h"

namespace cellar::ops::random {

// ExportError when an export trace is active: `fn` is the functional name (randn), `op` the row.
void refuse_in_trace(const std::string& fn, const std::string& op);

// A tensor of `shape` and floating `dtype` filled with draw() in C order (drawn in double).
Tensor fill_random(const Shape& shape, DType dtype, const std::function<double()>& draw);

// ---- the rows' attributes ----

// `shape`: a list of dimensions ≥ 0 whose element count fits (ValueError otherwise).
Shape attr_shape(const ir::Attrs& a, const std::string& op);
// `dtype`: a MindSpore dtype name ("Float32"); absent: `dflt`.
DType attr_dtype(const ir::Attrs& a, const std::string& op, DType dflt);
// The generator of an ops::call: Generator(seed) when `seed` is given, else a fresh one.
Generator attr_generator(const ir::Attrs& a, const std::string& op);

// A random row: no inputs, output types from `infer`, computed by `eager` (null make_kernel).
OpDef random_row(std::string name, decltype(OpDef::infer) infer, decltype(OpDef::eager) eager);

}  // namespace cellar::ops::random
