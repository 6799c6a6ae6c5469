// Cases of ReverseV2 (src/ops/tensor/reverse_v2.cpp): the reference maps every output coordinate
// to its input coordinate, mirrored along the reversed axes.
#include <set>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

std::vector<Tensor> reverse_ref(const std::vector<Tensor>& in, const ir::Attrs& attrs) {
  const Shape& s = in[0].shape();
  const auto& axes = std::get<std::vector<int64_t>>(attrs.at("axis"));
  std::set<size_t> rev;
  for (int64_t a : axes) rev.insert(static_cast<size_t>(a < 0 ? a + int64_t(s.rank()) : a));
  const auto x = as_doubles(in[0]);
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < s.numel(); ++i) {
    int64_t rest = i, src = 0, stride = 1;
    for (size_t d = s.rank(); d-- > 0;) {
      const int64_t c = rest % s[d];
      rest /= s[d];
      src += (rev.count(d) ? s[d] - 1 - c : c) * stride;
      stride *= s[d];
    }
    y[static_cast<size_t>(i)] = x[static_cast<size_t>(src)];
  }
  return {from_doubles(y, s, in[0].dtype())};
}

const OpCaseTable kReverse([] {
  using V = std::vector<int64_t>;
  return std::vector<OpCase>{
      {.op = "ReverseV2",
       .label = "last_axis",
       .inputs = {uniform({2, 3, 4}, 3101)},
       .attrs = {{"axis", V{-1}}},
       .reference = reverse_ref},
      {.op = "ReverseV2",
       .label = "two_axes_int64",
       .inputs = {uniform({3, 2, 5}, 3102, -9, 9, DType::Int64)},
       .attrs = {{"axis", V{0, 2}}},
       .reference = reverse_ref},
      {.op = "ReverseV2",
       .label = "every_axis_bool",
       .inputs = {values({1, 0, 0, 1, 1, 0}, {2, 3}, DType::Bool)},
       .attrs = {{"axis", V{1, 0}}},
       .reference = reverse_ref},
      {.op = "ReverseV2",
       .label = "empty_dim",
       .inputs = {Tensor(DType::Float32, Shape{0, 3})},
       .attrs = {{"axis", V{0}}},
       .reference = reverse_ref},
      {.op = "ReverseV2",
       .label = "no_axes",
       .inputs = {uniform({4}, 3103)},
       .attrs = {{"axis", V{}}},
       .reference = reverse_ref},
      {.op = "ReverseV2",
       .label = "axis_twice",
       .inputs = {uniform({2, 2}, 3104)},
       .attrs = {{"axis", V{1, -1}}},
       .error = "given twice"},
      {.op = "ReverseV2",
       .label = "axis_out_of_range",
       .inputs = {uniform({2, 2}, 3105)},
       .attrs = {{"axis", V{2}}},
       .error = "axis"},
  };
});

}  // namespace
}  // namespace cellar::testing
