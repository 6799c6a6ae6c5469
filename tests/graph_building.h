// Helpers the tests that build graphs by hand share (the optimiser's, the residual fusion's):
// constant initialisers with reproducible values, and a graph's op census.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "cellar/cellar.h"

namespace cellar::testing {

// A tensor of `dt` whose element i is start + step · (i mod 13), computed in double.
inline Tensor filled(Shape s, double start, double step, DType dt = DType::Float32) {
  Tensor t(DType::Float64, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<double>()[i] = start + step * static_cast<double>(i % 13);
  return t.to(dt);
}

// `t` as a parameter of g named `name`: its value id.
inline int constant(ir::Graph& g, const std::string& name, Tensor t) {
  const int v = g.add_value(name, t.dtype(), t.shape());
  g.initializers.push_back({.value = v, .data = std::move(t), .is_parameter = true});
  return v;
}

// How many nodes of each op g holds.
inline std::map<std::string, int> census(const ir::Graph& g) {
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  return ops;
}

}  // namespace cellar::testing
