#include "ops/tensor/pad_modes.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "ir/limits.h"

namespace cellar::ops::tensor {

PadMode pad_mode(const ir::Attrs& attrs) {
  const auto it = attrs.find("mode");
  if (it == attrs.end()) return PadMode::kConstant;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr) shape_error(kPad, "attribute 'mode' must be a string");
  if (*s == "constant") return PadMode::kConstant;
  if (*s == "reflect") return PadMode::kReflect;
  if (*s == "symmetric") return PadMode::kSymmetric;
  if (*s == "edge") return PadMode::kEdge;
  shape_error(kPad, "mode '" + *s + "' is not one of constant, reflect, symmetric, edge");
}

double fill_value(const ir::Attrs& attrs) {
  const auto it = attrs.find("value");
  if (it == attrs.end()) return 0.0;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(&it->second)) return *b ? 1.0 : 0.0;
  shape_error(kPad, "attribute 'value' must be a number");
}

PadPlan pad_plan(const TensorType& x, const ir::Attrs& attrs) {
  PadPlan plan;
  plan.mode = pad_mode(attrs);
  if (plan.mode != PadMode::kConstant && fill_value(attrs) != 0.0)
    shape_error(kPad,
                "attribute 'value' is the fill of constant mode; this Pad's mode is not "
                "constant");
  const std::vector<int64_t> p = attr_ints(attrs, kPad, "paddings");
  const size_t r = x.shape.rank();
  if (p.size() != 2 * r)
    shape_error(kPad, "paddings has " + std::to_string(p.size()) + " values for an input of rank " +
                          std::to_string(r) + " (want 2 per dimension: before, after)");
  std::vector<int64_t> dims;
  for (size_t d = 0; d < r; ++d) {
    const int64_t b = p[2 * d], a = p[2 * d + 1], size = x.shape[d];
    const std::string dim = "dimension " + std::to_string(d) + " (size " + std::to_string(size) +
                            ", paddings " + std::to_string(b) + ", " + std::to_string(a) + ")";
    if (b < 0 || a < 0) shape_error(kPad, "paddings of " + dim + " are negative");
    if (plan.mode == PadMode::kReflect && (b > 0 || a > 0) && (b >= size || a >= size))
      shape_error(kPad, "reflect padding of " + dim + " must be smaller than the dimension");
    if (plan.mode == PadMode::kSymmetric && (b > size || a > size))
      shape_error(kPad, "symmetric padding of " + dim + " must not exceed the dimension");
    if (plan.mode == PadMode::kEdge && size == 0 && (b > 0 || a > 0))
      shape_error(kPad, "edge padding of " + dim + ", which is empty");
    int64_t n = 0;
    if (__builtin_add_overflow(size, b, &n) || __builtin_add_overflow(n, a, &n))
      shape_error(kPad, "padded dimension " + std::to_string(d) + " overflows");
    plan.before.push_back(b);
    dims.push_back(n);
  }
  plan.out = Shape(dims);
  if (!plan.out.checked_numel()) shape_error(kPad, "padded shape overflows");
  return plan;
}

namespace {

// One element of `dtype` holding `v` (the fill), as bytes.
std::vector<std::byte> fill_bytes(DType dtype, double v) {
  const Tensor one = Tensor::scalar<double>(v).to(dtype);
  return {one.raw_data(), one.raw_data() + itemsize(dtype)};
}

// The input index that output index `o` of a dimension of size n (padded by `before`) copies;
// only for o outside [before, before + n) in the mirror and edge modes (the checks of pad_plan
// keep the result inside [0, n)).
int64_t source_index(PadMode mode, int64_t o, int64_t before, int64_t n) {
  const int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kReflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::kSymmetric:
      return i < 0 ? -i - 1 : 2 * n - 1 - i;
    default:  // edge
      return i < 0 ? 0 : n - 1;
  }
}

// Constant mode: fill the output, then copy each innermost row of the input to its place.
Kernel constant_kernel(const PadPlan& plan, const Shape& xs, size_t item,
                       std::vector<std::byte> fill) {
  const bool zero_fill =
      std::all_of(fill.begin(), fill.end(), [](std::byte b) { return b == std::byte{0}; });
  const size_t r = xs.rank();
  std::vector<int64_t> out_stride(r, 1);
  for (size_t d = r; d-- > 1;) out_stride[d - 1] = out_stride[d] * plan.out[d];
  return [plan, xs, item, fill, zero_fill, out_stride, r](std::span<const Tensor> x,
                                                          std::span<Tensor> y) {
    std::byte* out = y[0].raw_data();
    const int64_t n_out = plan.out.numel();
    if (zero_fill) {
      std::memset(out, 0, static_cast<size_t>(n_out) * item);
    } else {
      for (int64_t i = 0; i < n_out; ++i) std::memcpy(out + i * item, fill.data(), item);
    }
    if (xs.numel() == 0) return;
    if (r == 0) {
      std::memcpy(out, x[0].raw_data(), item);
      return;
    }
    const int64_t row = xs[r - 1];
    const int64_t rows = xs.numel() / row;
    const std::byte* src = x[0].raw_data();
    std::array<int64_t, ir::kMaxRank> idx{};  // index of the current row (last entry unused)
    for (int64_t k = 0; k < rows; ++k) {
      int64_t off = plan.before[r - 1];
      for (size_t d = 0; d + 1 < r; ++d) off += (idx[d] + plan.before[d]) * out_stride[d];
      std::memcpy(out + off * static_cast<int64_t>(item),
                  src + k * row * static_cast<int64_t>(item), static_cast<size_t>(row) * item);
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < xs[d]) break;
        idx[d] = 0;
      }
    }
  };
}

// Mirror and edge modes: every output row copies one input row (the middle in one piece, the
// padded ends element by element), the rows chosen through a per-dimension index map built once.
Kernel gather_kernel(const PadPlan& plan, const Shape& xs, size_t item) {
  const size_t r = xs.rank();
  std::vector<std::vector<int64_t>> map(r);
  for (size_t d = 0; d < r; ++d)
    for (int64_t o = 0; o < plan.out[d]; ++o)
      map[d].push_back(source_index(plan.mode, o, plan.before[d], xs[d]));
  std::vector<int64_t> in_stride(r, 1);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * xs[d];
  return [plan, xs, item, map, in_stride, r](std::span<const Tensor> x, std::span<Tensor> y) {
    const std::byte* src = x[0].raw_data();
    std::byte* out = y[0].raw_data();
    if (plan.out.numel() == 0) return;
    if (r == 0) {
      std::memcpy(out, src, item);
      return;
    }
    const int64_t row_out = plan.out[r - 1], row_in = xs[r - 1], b = plan.before[r - 1];
    const int64_t rows = plan.out.numel() / row_out;
    const std::vector<int64_t>& last = map[r - 1];
    std::array<int64_t, ir::kMaxRank> idx{};  // output index of the current row (last unused)
    for (int64_t k = 0; k < rows; ++k) {
      int64_t base = 0;
      for (size_t d = 0; d + 1 < r; ++d) base += map[d][static_cast<size_t>(idx[d])] * in_stride[d];
      std::byte* dst = out + k * row_out * static_cast<int64_t>(item);
      const std::byte* s = src + base * static_cast<int64_t>(item);
      std::memcpy(dst + b * static_cast<int64_t>(item), s, static_cast<size_t>(row_in) * item);
      for (int64_t o = 0; o < row_out; ++o)
        if (o < b || o >= b + row_in)
          std::memcpy(dst + o * static_cast<int64_t>(item),
                      s + last[static_cast<size_t>(o)] * static_cast<int64_t>(item), item);
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < plan.out[d]) break;
        idx[d] = 0;
      }
    }
  };
}

}  // namespace

Kernel pad_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const PadPlan plan = pad_plan(in[0], attrs);
  // A run allocates nothing: its row index lives on the stack.
  if (in[0].shape.rank() > ir::kMaxRank)
    shape_error(kPad, "rank " + std::to_string(in[0].shape.rank()) +
                          " is above cellar's limit of " + std::to_string(ir::kMaxRank));
  const size_t item = itemsize(in[0].dtype);
  if (plan.mode == PadMode::kConstant)
    return constant_kernel(plan, in[0].shape, item, fill_bytes(in[0].dtype, fill_value(attrs)));
  return gather_kernel(plan, in[0].shape, item);
}

}  // namespace cellar::ops::tensor
