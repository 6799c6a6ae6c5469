// What Softmax and LogSoftmax share (private to src/ops/nn): the shape rule and kernel over one
// axis, y = e^(x − max) / Σ e^(x − max) or x − max − log Σ e^(x − max), computed in double over
// the input viewed as outer × axis × inner; and their ONNX spellings, which are the same op types
// with one int `axis`. The ops' files give the MindIR spelling (whose `axis` forms differ).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"
#include "ops/vec_math.h"

namespace cellar::ops {

struct SoftmaxSplit {
  int64_t outer = 1, len = 1, inner = 1;
};

// The one axis of a Softmax/LogSoftmax node, normalized: `axis` is an int or a one-element tuple
// (default -1); more axes are refused (kUnsupported), as on MindSpore's CPU.
inline int64_t softmax_axis(const std::string& op, std::span<const TensorType> in,
                            const ir::Attrs& attrs) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  const int64_t rank = static_cast<int64_t>(in[0].shape.rank());
  if (rank == 0) shape_error(op, "input must have rank >= 1");
  const auto axes = attr_ints(attrs, op, "axis", {-1});
  if (axes.size() != 1)
    throw ValueError(ErrorCode::kUnsupported,
                     op + ": exactly one axis is supported, got " + std::to_string(axes.size()));
  return normalize_axis(op, axes[0], rank);
}

inline SoftmaxSplit softmax_split(const Shape& s, int64_t axis) {
  SoftmaxSplit a;
  for (int64_t i = 0; i < static_cast<int64_t>(s.rank()); ++i) {
    if (i < axis)
      a.outer *= s[static_cast<size_t>(i)];
    else if (i == axis)
      a.len = s[static_cast<size_t>(i)];
    else
      a.inner *= s[static_cast<size_t>(i)];
  }
  return a;
}

template <class T, bool kLog>
void softmax_run(const SoftmaxSplit& a, const T* x, T* y) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const T* xs = x + o * a.len * a.inner + i;
      T* ys = y + o * a.len * a.inner + i;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < a.len; ++k) m = std::max(m, static_cast<double>(xs[k * a.inner]));
      double sum = 0;
      for (int64_t k = 0; k < a.len; ++k) sum += std::exp(static_cast<double>(xs[k * a.inner]) - m);
      if constexpr (kLog) {
        const double lse = m + std::log(sum);
        for (int64_t k = 0; k < a.len; ++k)
          ys[k * a.inner] = static_cast<T>(static_cast<double>(xs[k * a.inner]) - lse);
      } else {
        for (int64_t k = 0; k < a.len; ++k)
          ys[k * a.inner] =
              static_cast<T>(std::exp(static_cast<double>(xs[k * a.inner]) - m) / sum);
      }
    }
}

// Softmax over the last axis (inner == 1), Float32, rows [r0, r1): the row's maximum (NaN
// ignored, as above), e^(x − max) in SIMD lanes (`exp`, ops/vec_math.h), their sum in double (8
// running sums in a fixed order), then each scaled by 1 / sum.
inline void softmax_rows_f32(const SoftmaxSplit& a, const float* x, float* y, int64_t r0,
                             int64_t r1, VecFn exp) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xs = x + r * a.len;
    float* ys = y + r * a.len;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < a.len; ++k) m = std::max(m, xs[k]);
    for (int64_t k = 0; k < a.len; ++k) ys[k] = xs[k] - m;
    exp(ys, ys, a.len);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t k = 0;
    for (; k + 8 <= a.len; k += 8)
      for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(ys[k + j]);
    for (; k < a.len; ++k) acc[0] += static_cast<double>(ys[k]);
    const double sum =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    const auto inv = static_cast<float>(1 / sum);
    for (k = 0; k < a.len; ++k) ys[k] *= inv;
  }
}

// The row's name, shape rule and kernel (kLog: LogSoftmax); the caller adds the spellings.
template <bool kLog>
OpDef softmax_row(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    softmax_axis(name, in, attrs);
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const SoftmaxSplit a = softmax_split(in[0].shape, softmax_axis(name, in, attrs));
    if (in[0].dtype == DType::Float64)
      return [a](std::span<const Tensor> x, std::span<Tensor> y) {
        softmax_run<double, kLog>(a, x[0].data<double>(), y[0].data<double>());
      };
    if (!kLog && a.inner == 1)
      return [a](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
        const float* xp = x[0].data<float>();
        float* yp = y[0].data<float>();
        const VecFn exp = exp_simd();  // chosen at each run (ops/isa.h may be forced between)
        if (exp == nullptr) {
          softmax_run<float, kLog>(a, xp, yp);
          return;
        }
        // A grain of a quarter of an element-wise op's: a row costs three passes and an e^x
        // per element (ViT-B/32's 12 × 50 × 50 attention weights: one chunk of 32 µs before).
        par.for_range(a.outer, rows_grain(4 * a.len), [&](int64_t r0, int64_t r1, int) {
          softmax_rows_f32(a, xp, yp, r0, r1, exp);
        });
      };
    return [a](std::span<const Tensor> x, std::span<Tensor> y) {
      softmax_run<float, kLog>(a, x[0].data<float>(), y[0].data<float>());
    };
  };
  return d;
}

// Export as ONNX's `op_type` with the one axis as its int attribute.
inline OnnxExportFn onnx_softmax_export(std::string op_type) {
  return [op_type](OnnxBuilder& b, const ir::Node& n) {
    const auto axes = onnx_checked(b, n, [&] { return attr_ints(n.attrs, n.op, "axis", {-1}); });
    if (axes.size() != 1) b.fail(n, "exactly one axis can be written");
    b.add(op_type, {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"axis", axes[0]}});
  };
}

// Import ONNX's Softmax/LogSoftmax (opset 13+: one axis, default -1) as row `op`.
inline OnnxImportFn onnx_softmax_import(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(1, 1);
    const int x = m.input(0);
    const int64_t axis = m.axis(m.attr_int("axis", -1), m.rank(x));
    m.set_output(0, m.emit1(op, {x}, {{"axis", std::vector<int64_t>{axis}}}));
  };
}

}  // namespace cellar::ops
