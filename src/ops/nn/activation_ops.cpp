// Softmax, LogSoftmax, Sigmoid, Tanh, GeLU, Abs (MindSpore's primitives).
//
// Softmax's `axis` is a tuple (ops.Softmax stores an int as (axis,)); one axis is supported, as
// on MindSpore's CPU. LogSoftmax's `axis` is an int. MindSpore 2.x passes both as a constant
// input (mindspore/core/ops/ops_def/softmax_op.yaml, log_softmax_op.yaml: prim_init args). GeLU is
// MindSpore's primitive, which is the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x +
// 0.044715·x³))); nn.GELU(approximate=False) is a composite of other ops in MindSpore, not this
// primitive.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

// ---- Softmax / LogSoftmax: outer × axis × inner ----

struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};

AxisSplit split_at(const Shape& s, int64_t axis) {
  AxisSplit a;
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

int64_t softmax_axis(const std::string& op, std::span<const TensorType> in,
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

template <class T, bool kLog>
void softmax_run(const AxisSplit& a, const T* x, T* y) {
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

template <bool kLog>
OpDef softmax_op(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    softmax_axis(name, in, attrs);
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const AxisSplit a = split_at(in[0].shape, softmax_axis(name, in, attrs));
    if (in[0].dtype == DType::Float64)
      return [a](std::span<const Tensor> x, std::span<Tensor> y) {
        softmax_run<double, kLog>(a, x[0].data<double>(), y[0].data<double>());
      };
    return [a](std::span<const Tensor> x, std::span<Tensor> y) {
      softmax_run<float, kLog>(a, x[0].data<float>(), y[0].data<float>());
    };
  };
  // MindSpore 2.x passes `axis` as a constant input (softmax_op.yaml / log_softmax_op.yaml).
  d.mindir = {
      .primitive = name,
      .attr_inputs = {"axis"},
      .defaults = {{"axis", kLog ? ir::Attr(int64_t{-1}) : ir::Attr(std::vector<int64_t>{-1})}}};
  return d;
}

// ---- elementwise unary ----

struct Sigmoid {
  template <class T>
  T operator()(T v) const {
    return T(1) / (T(1) + std::exp(-v));
  }
};
struct Tanh {
  template <class T>
  T operator()(T v) const {
    return std::tanh(v);
  }
};
struct GeLU {
  template <class T>
  T operator()(T v) const {
    const T c = static_cast<T>(0.7978845608028654);  // √(2/π)
    return T(0.5) * v * (T(1) + std::tanh(c * (v + static_cast<T>(0.044715) * v * v * v)));
  }
};
struct Abs {
  template <class T>
  T operator()(T v) const {
    return v < T(0) ? T(-v) : v;
  }
};

template <class T, class F>
Kernel unary_typed(int64_t n) {
  return [n](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* p = x[0].data<T>();
    T* q = y[0].data<T>();
    const F f;
    for (int64_t i = 0; i < n; ++i) q[i] = f(p[i]);
  };
}

template <class F, bool kInts>
OpDef unary_op(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs&) {
    if (kInts)
      require_dtype_in(
          name, in[0].dtype,
          {DType::Float32, DType::Float64, DType::Int8, DType::Int16, DType::Int32, DType::Int64});
    else
      require_dtype_in(name, in[0].dtype, {DType::Float32, DType::Float64});
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const int64_t n = in[0].shape.numel();
    if (in[0].dtype == DType::Float64) return unary_typed<double, F>(n);
    if constexpr (kInts) switch (in[0].dtype) {
        case DType::Int8:
          return unary_typed<int8_t, F>(n);
        case DType::Int16:
          return unary_typed<int16_t, F>(n);
        case DType::Int32:
          return unary_typed<int32_t, F>(n);
        case DType::Int64:
          return unary_typed<int64_t, F>(n);
        default:
          break;
      }
    return unary_typed<float, F>(n);
  };
  d.mindir.primitive = name;
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(activation_ops) {
  OpTable& t = table;
  t.add(softmax_op<false>("Softmax"));
  t.add(softmax_op<true>("LogSoftmax"));
  t.add(unary_op<Sigmoid, false>("Sigmoid"));
  t.add(unary_op<Tanh, false>("Tanh"));
  t.add(unary_op<GeLU, false>("GeLU"));
  t.add(unary_op<Abs, true>("Abs"));
}

}  // namespace cellar::ops
