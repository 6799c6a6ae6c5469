// Pad: constant padding of any rank (MindSpore's Pad primitive, nn.Pad mode "CONSTANT"; ONNX
// Pad mode "constant"). Attributes: `paddings`, 2·rank integers ≥ 0, (before, after) for each
// dimension in order (MindSpore's tuple of pairs, flattened); `value`, the fill (default 0;
// MindSpore's Pad always pads with zeros, so a MindIR file cannot carry another value).
#include <algorithm>
#include <cstring>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "Pad";

struct PadPlan {
  std::vector<int64_t> before;  // per dimension
  Shape out;
};

PadPlan pad_plan(const TensorType& x, const ir::Attrs& attrs) {
  const std::vector<int64_t> p = attr_ints(attrs, kOp, "paddings");
  const size_t r = x.shape.rank();
  if (p.size() != 2 * r)
    shape_error(kOp, "paddings has " + std::to_string(p.size()) + " values for an input of rank " +
                         std::to_string(r) + " (want 2 per dimension: before, after)");
  PadPlan plan;
  std::vector<int64_t> dims;
  for (size_t d = 0; d < r; ++d) {
    const int64_t b = p[2 * d], a = p[2 * d + 1];
    if (b < 0 || a < 0)
      shape_error(kOp, "paddings of dimension " + std::to_string(d) + " are negative (" +
                           std::to_string(b) + ", " + std::to_string(a) + ")");
    int64_t n = 0;
    if (__builtin_add_overflow(x.shape[d], b, &n) || __builtin_add_overflow(n, a, &n))
      shape_error(kOp, "padded dimension " + std::to_string(d) + " overflows");
    plan.before.push_back(b);
    dims.push_back(n);
  }
  plan.out = Shape(dims);
  if (plan.out.numel() < 0) shape_error(kOp, "padded shape overflows");
  return plan;
}

double fill_value(const ir::Attrs& attrs) {
  const auto it = attrs.find("value");
  if (it == attrs.end()) return 0.0;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(&it->second)) return *b ? 1.0 : 0.0;
  shape_error(kOp, "attribute 'value' must be a number");
}

std::vector<TensorType> pad_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  (void)fill_value(attrs);
  require_dtype_in(kOp, in[0].dtype,
                   {DType::Float16, DType::BFloat16, DType::Float32, DType::Float64, DType::Int8,
                    DType::UInt8, DType::Int16, DType::Int32, DType::Int64, DType::Bool});
  return {{in[0].dtype, pad_plan(in[0], attrs).out}};
}

// One element of `dtype` holding `v` (the fill), as bytes.
std::vector<std::byte> fill_bytes(DType dtype, double v) {
  const Tensor one = Tensor::scalar<double>(v).to(dtype);
  return {one.raw_data(), one.raw_data() + itemsize(dtype)};
}

Kernel pad_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const PadPlan plan = pad_plan(in[0], attrs);
  const Shape xs = in[0].shape;
  const size_t item = itemsize(in[0].dtype);
  const std::vector<std::byte> fill = fill_bytes(in[0].dtype, fill_value(attrs));
  const bool zero_fill = std::all_of(fill.begin(), fill.end(), [](std::byte b) { return b == std::byte{0}; });
  return [plan, xs, item, fill, zero_fill](std::span<const Tensor> x, std::span<Tensor> y) {
    std::byte* out = y[0].raw_data();
    const int64_t n_out = plan.out.numel();
    if (zero_fill) {
      std::memset(out, 0, static_cast<size_t>(n_out) * item);
    } else {
      for (int64_t i = 0; i < n_out; ++i) std::memcpy(out + i * item, fill.data(), item);
    }
    const size_t r = xs.rank();
    if (xs.numel() == 0) return;
    if (r == 0) {
      std::memcpy(out, x[0].raw_data(), item);
      return;
    }
    // Copy each innermost row of the input to its place in the output.
    std::vector<int64_t> out_stride(r, 1);
    for (size_t d = r - 1; d > 0; --d) out_stride[d - 1] = out_stride[d] * plan.out[d];
    const int64_t row = xs[r - 1];
    const int64_t rows = xs.numel() / row;
    const std::byte* src = x[0].raw_data();
    std::vector<int64_t> idx(r, 0);  // index of the current row (last entry unused)
    for (int64_t k = 0; k < rows; ++k) {
      int64_t off = plan.before[r - 1];
      for (size_t d = 0; d + 1 < r; ++d) off += (idx[d] + plan.before[d]) * out_stride[d];
      std::memcpy(out + off * static_cast<int64_t>(item), src + k * row * static_cast<int64_t>(item),
                  static_cast<size_t>(row) * item);
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < xs[d]) break;
        idx[d] = 0;
      }
    }
  };
}

}  // namespace

void register_pad_ops(OpTable& t) {
  OpDef d{.name = kOp, .infer = pad_infer, .make_kernel = pad_kernel};
  // MindSpore writes Pad as a PRIMITIVE whose `paddings` attribute is a tuple of (before, after)
  // pairs: ((0, 0), (0, 0), (1, 1), (1, 1)) for the model zoo's ResNet stem.
  d.mindir = {.primitive = kOp,
              .primitive_function = false,
              .complete =
                  [](ir::Attrs& a) {
                    const auto v = a.find("value");
                    if (v != a.end()) {
                      if (fill_value(a) != 0.0)
                        throw ExportError(
                            "Pad with a fill value other than 0 has no MindIR spelling "
                            "(MindSpore's Pad pads with zeros)");
                      a.erase(v);
                    }
                  },
              .nested = {{"paddings", 2}}};
  t.add(std::move(d));
}

}  // namespace cellar::ops
