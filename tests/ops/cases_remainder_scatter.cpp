// Cases of the integer-minded math rows (Mod, FloorMod, TruncateDiv: src/ops/math/mod.cpp,
// truncate_div.cpp) and of the TensorScatter* rows (src/ops/tensor/tensor_scatter.cpp). The
// expected signs are MindSpore 2.10's (Mod(-7, 3) = -1, FloorMod(-7, 3) = 2, checked on its CPU
// kernels), the scatter semantics ONNX's ScatterND reference.
#include <cmath>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

double trunc_mod(double a, double b) { return b == 0 ? 0 : std::fmod(a, b); }
double floor_mod(double a, double b) {
  if (b == 0) return 0;
  const double r = std::fmod(a, b);
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
double trunc_div(double a, double b) { return b == 0 ? 0 : std::trunc(a / b); }

// The ONNX ScatterND reference: copy data, then each index row's slice combined with updates.
OpReference scatter_ref(std::function<double(double, double)> f) {
  return [f](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& ds = in[0].shape();
    const Shape& is = in[1].shape();
    const auto k = static_cast<size_t>(is[is.rank() - 1]);
    int64_t slice = 1;
    for (size_t d = k; d < ds.rank(); ++d) slice *= ds[d];
    auto y = as_doubles(in[0]);
    const auto idx = as_doubles(in[1]);
    const auto upd = as_doubles(in[2]);
    const int64_t rows = is.numel() / static_cast<int64_t>(k);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off = 0;
      for (size_t j = 0; j < k; ++j) {
        auto i = static_cast<int64_t>(idx[static_cast<size_t>(r) * k + j]);
        if (i < 0) i += ds[j];
        off = off * ds[j] + i;
      }
      off *= slice;
      for (int64_t e = 0; e < slice; ++e) {
        double& v = y[static_cast<size_t>(off + e)];
        v = f(v, upd[static_cast<size_t>(r * slice + e)]);
      }
    }
    return std::vector<Tensor>{from_doubles(y, ds, in[0].dtype())};
  };
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;
  const std::vector<double> a = {-7, 7, -7, 7, 0, 5}, b = {3, -3, -3, 3, 2, 5};
  for (DType t : {DType::Float32, DType::Float64, DType::Int32, DType::Int64}) {
    const std::string n(mindspore_name(t));
    c.push_back({.op = "Mod",
                 .label = "signs_" + n,
                 .inputs = {values(a, {6}, t), values(b, {6}, t)},
                 .reference = binary_ref(trunc_mod),
                 .tol = 0});
    const bool whole = t == DType::Int32 || t == DType::Int64;
    c.push_back({.op = "FloorMod",
                 .label = "signs_" + n,
                 .inputs = {values(a, {6}, t), values(b, {6}, t)},
                 .reference = binary_ref(floor_mod),
                 .tol = 0,
                 .no_onnx = whole ? "" : "ONNX's Mod has fmod = 0 for integers only"});
    c.push_back({.op = "TruncateDiv",
                 .label = "signs_" + n,
                 .inputs = {values(a, {6}, t), values(b, {6}, t)},
                 .reference = binary_ref(trunc_div),
                 .tol = 0,
                 .no_onnx = whole ? "" : "ONNX has no truncating float division"});
  }
  c.push_back({.op = "FloorMod",
               .label = "broadcast_f32",
               .inputs = {uniform({2, 1, 4}, 800, -5, 5), uniform({3, 1}, 801, 0.5, 2)},
               .reference = binary_ref(floor_mod),
               .no_onnx = "ONNX's Mod has fmod = 0 for integers only"});
  c.push_back({.op = "Mod",
               .label = "int_by_zero_is_zero",
               .inputs = {values({5, -5}, {2}, DType::Int64), values({0, -1}, {2}, DType::Int64)},
               .reference = binary_ref([](double, double) { return 0.0; }),
               .tol = 0,
               .no_onnx = "ONNX leaves a remainder by zero undefined"});
  c.push_back({.op = "TruncateDiv",
               .label = "int_by_zero_is_zero",
               .inputs = {values({5}, {1}, DType::Int32), values({0}, {1}, DType::Int32)},
               .reference = binary_ref([](double, double) { return 0.0; }),
               .tol = 0,
               .no_onnx = "ONNX leaves a division by zero undefined"});
  c.push_back({.op = "Mod",
               .label = "dtype_mismatch_refused",
               .inputs = {values({1}, {1}), values({1}, {1}, DType::Int32)},
               .error = "Mod"});

  const auto set = [](double, double u) { return u; };
  const auto add = [](double v, double u) { return v + u; };
  const auto mul = [](double v, double u) { return v * u; };
  const Tensor data = uniform({4, 3, 2}, 810);
  for (DType it : {DType::Int32, DType::Int64}) {
    const std::string n(mindspore_name(it));
    c.push_back({.op = "TensorScatterUpdate",
                 .label = "rows_" + n,
                 .inputs = {data, values({3, 0}, {2, 1}, it), uniform({2, 3, 2}, 811)},
                 .reference = scatter_ref(set),
                 .tol = 0});
  }
  c.push_back(
      {.op = "TensorScatterUpdate",
       .label = "elements_negative_index",
       .inputs = {data, values({0, 1, 1, -1, -1, 0}, {2, 3}, DType::Int64), uniform({2}, 812)},
       .reference = scatter_ref(set),
       .tol = 0});
  c.push_back({.op = "TensorScatterAdd",
               .label = "repeated_index_accumulates",
               .inputs = {data, values({1, 1, 2}, {3, 1}, DType::Int64), uniform({3, 3, 2}, 813)},
               .reference = scatter_ref(add)});
  c.push_back({.op = "TensorScatterMul",
               .label = "pairs",
               .inputs = {data, values({0, 2, 3, 1}, {2, 2}, DType::Int64), uniform({2, 2}, 814)},
               .reference = scatter_ref(mul)});
  c.push_back({.op = "TensorScatterMax",
               .label = "pairs",
               .inputs = {data, values({0, 2, 3, 1}, {2, 2}, DType::Int64), uniform({2, 2}, 815)},
               .reference = scatter_ref([](double v, double u) { return std::max(v, u); }),
               .no_onnx = "ScatterND max needs opset 18; cellar writes 17"});
  c.push_back({.op = "TensorScatterMin",
               .label = "pairs",
               .inputs = {data, values({0, 2, 3, 1}, {2, 2}, DType::Int64), uniform({2, 2}, 820)},
               .reference = scatter_ref([](double v, double u) { return std::min(v, u); }),
               .no_onnx = "ScatterND min needs opset 18; cellar writes 17"});
  c.push_back(
      {.op = "TensorScatterDiv",
       .label = "rows",
       .inputs = {data, values({2, 0}, {2, 1}, DType::Int64), uniform({2, 3, 2}, 821, 0.5, 2)},
       .reference = scatter_ref([](double v, double u) { return v / u; })});
  c.push_back(
      {.op = "TensorScatterSub",
       .label = "int64",
       .inputs = {values({1, 2, 3, 4}, {4}, DType::Int64), values({2, 0}, {2, 1}, DType::Int64),
                  values({10, 20}, {2}, DType::Int64)},
       .reference = scatter_ref([](double v, double u) { return v - u; }),
       .tol = 0});
  c.push_back({.op = "TensorScatterUpdate",
               .label = "index_out_of_range_refused",
               .inputs = {data, values({4}, {1, 1}, DType::Int64), uniform({1, 3, 2}, 816)},
               .error = "index 4 (row 0, position 0) is out of range for size 4"});
  c.push_back({.op = "TensorScatterUpdate",
               .label = "updates_shape_refused",
               .inputs = {data, values({1}, {1, 1}, DType::Int64), uniform({1, 3, 3}, 817)},
               .error = "need (1, 3, 2)"});
  c.push_back({.op = "TensorScatterUpdate",
               .label = "index_depth_refused",
               .inputs = {data, values({0, 0, 0, 0}, {1, 4}, DType::Int64), uniform({1}, 818)},
               .error = "must be in [1, rank of data = 3]"});
  c.push_back({.op = "TensorScatterUpdate",
               .label = "float_indices_refused",
               .inputs = {data, values({0}, {1, 1}, DType::Float32), uniform({1, 3, 2}, 819)},
               .error = "TensorScatterUpdate"});
  return c;
}

const OpCaseTable kRemainderScatter(cases);

}  // namespace
}  // namespace cellar::testing
