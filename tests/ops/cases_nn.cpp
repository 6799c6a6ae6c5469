// Cases of the nn rows (src/ops/nn/): activations, convolution, pooling, normalisation.
#include <algorithm>
#include <cmath>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

const OpCaseTable kNn([] {
  return std::vector<OpCase>{
      {.op = "ReLU6",
       .label = "both_clamps",
       .inputs = {values({-3, -0.5, 0, 0.5, 5.9, 6, 6.1, 100}, {2, 4})},
       .reference = unary_ref([](double x) { return std::clamp(x, 0.0, 6.0); })},
      {.op = "ReLU6",
       .label = "f64_random",
       .inputs = {uniform({3, 5, 7}, 61, -9, 9, DType::Float64)},
       .reference = unary_ref([](double x) { return std::clamp(x, 0.0, 6.0); })},
      {.op = "ReLU6", .label = "int_refused", .inputs = {values({1, 2}, {2}, DType::Int32)},
       .error = "dtype Int32 is not supported"},
      {.op = "HSwish",
       .label = "around_the_knees",
       .inputs = {uniform({2, 3, 4, 5}, 62, -5, 5)},
       .reference = unary_ref([](double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; })},
  };
});

}  // namespace
}  // namespace cellar::testing
