// Range(start, limit, delta): the 1-D sequence start, start + delta, … up to (not including)
// limit, max(⌈(limit − start) / delta⌉, 0) elements in the inputs' dtype (one of Float32,
// Float64, Int16, Int32, Int64; integers counted exactly). The three scalars are value inputs
// (OpDef::value_inputs): the length is their function, so an executor plans with their values
// (torch's arange(x.size(1)) on a dynamic axis). Scalars known at load make a constant instead
// (the ONNX format's Range rule). MindIR: MindSpore's Range (with its maxlen argument); ONNX:
// Range.
#include <cmath>

#include "ir/limits.h"
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Range";

void check_types(std::span<const TensorType> in) {
  const DType dt = in[0].dtype;
  if (dt != DType::Float32 && dt != DType::Float64 && dt != DType::Int16 && dt != DType::Int32 &&
      dt != DType::Int64)
    dtype_error(kOp, "dtype " + std::string(mindspore_name(dt)) + " is not one of Range's");
  for (size_t i = 0; i < 3; ++i) {
    if (in[i].dtype != dt) dtype_error(kOp, "start, limit and delta must have one dtype");
    if (in[i].shape.numel() != 1 || in[i].shape.rank() > 1)
      shape_error(
          kOp, "input " + std::to_string(i) + " must be a scalar, got shape " + in[i].shape.str());
  }
}

ir::Attrs range_attrs(std::span<const TensorType> in, std::span<const Tensor> v,
                      const ir::Attrs& attrs) {
  check_types(in);
  int64_t count = 0;
  if (is_floating(in[0].dtype)) {
    const double start = v[0].to(DType::Float64).data<double>()[0];
    const double limit = v[1].to(DType::Float64).data<double>()[0];
    const double delta = v[2].to(DType::Float64).data<double>()[0];
    if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
      shape_error(kOp, "delta must be non-zero and start, limit and delta finite");
    const double c = std::max(0.0, std::ceil((limit - start) / delta));
    if (c > static_cast<double>(ir::kMaxDimension))
      shape_error(kOp, "a sequence of " + std::to_string(c) +
                           " elements, above cellar's dimension limit of 2^48");
    count = static_cast<int64_t>(c);
  } else {
    auto as_int = [&](size_t i) { return v[i].to(DType::Int64).data<int64_t>()[0]; };
    const __int128 diff = static_cast<__int128>(as_int(1)) - as_int(0), d = as_int(2);
    if (d == 0) shape_error(kOp, "delta must be non-zero");
    __int128 q = diff / d;
    if (diff % d != 0 && (diff > 0) == (d > 0)) ++q;
    if (q > ir::kMaxDimension)
      shape_error(kOp, "a sequence from " + std::to_string(as_int(0)) + " to " +
                           std::to_string(as_int(1)) + " by " + std::to_string(as_int(2)) +
                           " is above cellar's dimension limit of 2^48 elements");
    count = q <= 0 ? 0 : static_cast<int64_t>(q);
  }
  ir::Attrs out = attrs;
  out["count"] = count;
  return out;
}

// Values unknown: one element (the representative type).
std::vector<TensorType> infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  check_types(in);
  const int64_t n = attrs.count("count") ? attr_int(attrs, kOp, "count") : 1;
  if (n < 0) shape_error(kOp, "count must be non-negative");
  return {{in[0].dtype, Shape{n}}};
}

template <class T>
void fill(const Tensor& start, const Tensor& delta, Tensor& y) {
  const int64_t n = y.numel();
  T* q = reinterpret_cast<T*>(y.raw_data());
  if constexpr (std::is_floating_point_v<T>) {
    const double s = static_cast<double>(start.data<T>()[0]);
    const double d = static_cast<double>(delta.data<T>()[0]);
    for (int64_t i = 0; i < n; ++i) q[i] = static_cast<T>(s + static_cast<double>(i) * d);
  } else {  // in int64, wrapping as the narrower type would (the values the count allows fit)
    const auto s = static_cast<uint64_t>(static_cast<int64_t>(start.data<T>()[0]));
    const auto d = static_cast<uint64_t>(static_cast<int64_t>(delta.data<T>()[0]));
    for (int64_t i = 0; i < n; ++i)
      q[i] = static_cast<T>(static_cast<int64_t>(s + static_cast<uint64_t>(i) * d));
  }
}

Kernel make_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  check_types(in);
  switch (in[0].dtype) {
    case DType::Float32:
      return [](std::span<const Tensor> x, std::span<Tensor> y) { fill<float>(x[0], x[2], y[0]); };
    case DType::Float64:
      return [](std::span<const Tensor> x, std::span<Tensor> y) { fill<double>(x[0], x[2], y[0]); };
    case DType::Int16:
      return
          [](std::span<const Tensor> x, std::span<Tensor> y) { fill<int16_t>(x[0], x[2], y[0]); };
    case DType::Int32:
      return
          [](std::span<const Tensor> x, std::span<Tensor> y) { fill<int32_t>(x[0], x[2], y[0]); };
    default:
      return
          [](std::span<const Tensor> x, std::span<Tensor> y) { fill<int64_t>(x[0], x[2], y[0]); };
  }
}

}  // namespace

CELLAR_REGISTER_OPS(range) {
  table.add({.name = kOp,
             .min_inputs = 3,
             .max_inputs = 3,
             .infer = infer,
             .value_inputs = {0, 1, 2},
             .attrs_from_values = range_attrs,
             .make_kernel = make_kernel,
             .mindir = {.primitive = kOp,
                        .attr_inputs = {"maxlen"},
                        .defaults = {{"maxlen", int64_t{1000000}}}},
             .onnx = onnx_same("Range")});
}

}  // namespace cellar::ops
