// Cases of AddN (src/ops/math/add_n.cpp): the sum of any number of same-shape tensors.
#include <string>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

OpReference add_n_ref() {
  return [](const std::vector<Tensor>& in, const ir::Attrs&) {
    std::vector<double> y = as_doubles(in[0]);
    for (size_t i = 1; i < in.size(); ++i) {
      const auto v = as_doubles(in[i]);
      for (size_t j = 0; j < y.size(); ++j) y[j] += v[j];
    }
    return std::vector<Tensor>{from_doubles(y, in[0].shape(), in[0].dtype())};
  };
}

const OpCaseTable kAddN([] {
  std::vector<OpCase> cases;
  uint64_t seed = 900;
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64})
    for (size_t n : {1, 2, 3, 5}) {
      OpCase c{.op = "AddN",
               .label = std::to_string(n) + "_" + std::string(mindspore_name(dt)),
               .reference = add_n_ref()};
      for (size_t i = 0; i < n; ++i) c.inputs.push_back(uniform({2, 3, 4}, seed++, -50, 50, dt));
      cases.push_back(std::move(c));
    }
  cases.push_back({.op = "AddN",
                   .label = "scalars",
                   .inputs = {values({1.5}, {}), values({-2.25}, {})},
                   .reference = add_n_ref()});
  cases.push_back({.op = "AddN",
                   .label = "empty",
                   .inputs = {uniform({0, 3}, 1), uniform({0, 3}, 2)},
                   .reference = add_n_ref()});
  cases.push_back({.op = "AddN",
                   .label = "shapes_differ",
                   .inputs = {uniform({2, 3}, 3), uniform({1, 3}, 4)},
                   .error = "does not broadcast"});
  cases.push_back({.op = "AddN",
                   .label = "dtypes_differ",
                   .inputs = {uniform({2, 3}, 5), uniform({2, 3}, 6, -2, 2, DType::Float64)},
                   .error = "different dtypes"});
  cases.push_back({.op = "AddN",
                   .label = "bool_refused",
                   .inputs = {values({1, 0}, {2}, DType::Bool), values({1, 1}, {2}, DType::Bool)},
                   .error = "Bool"});
  return cases;
});

}  // namespace
}  // namespace cellar::testing
