// LRN(x; depth_radius, bias, alpha, beta, norm_region): local response normalisation across the
// channels of an NCHW input, as MindSpore's ops.LRN (TensorFlow's definition):
//   y[n, c, h, w] = x[n, c, h, w] / (bias + alpha · Σ_{c' = c − r … c + r} x[n, c', h, w]²)^beta
// with r = depth_radius (channels outside [0, C) add nothing). Defaults as MindSpore's:
// depth_radius 5, bias 1, alpha 1, beta 0.5, norm_region "ACROSS_CHANNELS" (the only region).
// MindSpore writes the Python PRIMITIVE "LRN" with these as attributes (operations/nn_ops.py),
// in 1.x and 2.x alike. ONNX's LRN has the window's size and divides alpha by it:
// size = 2r + 1 and alpha_onnx = alpha · size, both ways; an even size (a window ONNX centres
// off by one) is refused on import.
#include <algorithm>
#include <cmath>
#include <variant>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "LRN";

struct LrnAttrs {
  int64_t radius;
  double bias, alpha, beta;
};

LrnAttrs lrn_attrs(const ir::Attrs& a) {
  LrnAttrs p{attr_int(a, kOp, "depth_radius", 5), attr_double(a, kOp, "bias", 1.0),
             attr_double(a, kOp, "alpha", 1.0), attr_double(a, kOp, "beta", 0.5)};
  if (p.radius < 0 || p.radius > (int64_t{1} << 30))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "LRN: depth_radius must be in [0, 2^30], got " + std::to_string(p.radius));
  if (!std::isfinite(p.bias) || !std::isfinite(p.alpha) || !std::isfinite(p.beta))
    throw ValueError(ErrorCode::kInvalidArgument, "LRN: bias, alpha and beta must be finite");
  if (auto it = a.find("norm_region"); it != a.end()) {
    const auto* s = std::get_if<std::string>(&it->second);
    if (s == nullptr || *s != "ACROSS_CHANNELS")
      throw ValueError(ErrorCode::kUnsupported,
                       "LRN: norm_region must be \"ACROSS_CHANNELS\" (MindSpore's only region)");
  }
  return p;
}

std::vector<TensorType> lrn_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  if (in[0].shape.rank() != 4)
    shape_error(kOp, "input must be NCHW (rank 4), got " + in[0].shape.str());
  (void)lrn_attrs(attrs);
  return {in[0]};
}

template <class T>
Kernel lrn_kernel(const Shape& s, LrnAttrs p) {
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  return [n, c, hw, p](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t lo = std::max<int64_t>(0, ch - p.radius);
        const int64_t hi = std::min<int64_t>(c - 1, ch + p.radius);
        for (int64_t i = 0; i < hw; ++i) {
          double sq = 0;
          for (int64_t k = lo; k <= hi; ++k) {
            const double v = static_cast<double>(x[(b * c + k) * hw + i]);
            sq += v * v;
          }
          const int64_t at = (b * c + ch) * hw + i;
          y[at] =
              static_cast<T>(static_cast<double>(x[at]) / std::pow(p.bias + p.alpha * sq, p.beta));
        }
      }
  };
}

Kernel lrn_make(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const LrnAttrs p = lrn_attrs(attrs);
  if (in[0].dtype == DType::Float64) return lrn_kernel<double>(in[0].shape, p);
  return lrn_kernel<float>(in[0].shape, p);
}

void export_lrn(OnnxBuilder& b, const ir::Node& n) {
  const LrnAttrs p = onnx_checked(b, n, [&] { return lrn_attrs(n.attrs); });
  const int64_t size = 2 * p.radius + 1;
  b.add("LRN", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
        {{"size", size},
         {"alpha", static_cast<float>(p.alpha * static_cast<double>(size))},
         {"beta", static_cast<float>(p.beta)},
         {"bias", static_cast<float>(p.bias)}});
}

void import_lrn(OnnxImporter& m) {
  m.require_inputs(1, 1);
  if (!m.has_attr("size")) m.fail("attribute 'size' is required");
  const int64_t size = m.attr_int("size", 0);
  if (size < 1) m.fail("size must be positive, got " + std::to_string(size));
  if (size % 2 == 0)
    m.unsupported("an even size (" + std::to_string(size) +
                  ") centres the window off by one, which MindSpore's LRN does not express");
  const int x = m.input(0);
  if (m.rank(x) != 4) m.unsupported("only NCHW input (rank 4) is supported");
  const double alpha = m.attr_float("alpha", 1e-4);
  m.set_output(0, m.emit1(kOp, {x},
                          {{"depth_radius", (size - 1) / 2},
                           {"bias", m.attr_float("bias", 1.0)},
                           {"alpha", alpha / static_cast<double>(size)},
                           {"beta", m.attr_float("beta", 0.75)},
                           {"norm_region", std::string("ACROSS_CHANNELS")}}));
}

}  // namespace

CELLAR_REGISTER_OPS(lrn) {
  table.add({.name = kOp,
             .min_inputs = 1,
             .max_inputs = 1,
             .infer = lrn_infer,
             .make_kernel = lrn_make,
             .mindir = {.primitive = kOp,
                        .defaults = {{"depth_radius", int64_t{5}},
                                     {"bias", 1.0},
                                     {"alpha", 1.0},
                                     {"beta", 0.5},
                                     {"norm_region", std::string("ACROSS_CHANNELS")}},
                        .primitive_function = false},
             .onnx = export_lrn,
             .onnx_import = {{"LRN", import_lrn}},
             // Each output element sums over a window of at most every channel.
             .work = [](std::span<const TensorType> in, std::span<const TensorType> out,
                        const ir::Attrs&) {
               const double channels =
                   in[0].shape.rank() > 1
                       ? static_cast<double>(std::max<int64_t>(in[0].shape[1], 1))
                       : 1;
               double n = 1;
               for (size_t d = 0; d < out[0].shape.rank(); ++d)
                 n *= static_cast<double>(std::max<int64_t>(out[0].shape[d], 0));
               return n * (channels + 1) +
                      static_cast<double>(in[0].shape.numel() > 0 ? in[0].shape.numel() : 0);
             }});
}

}  // namespace cellar::ops
