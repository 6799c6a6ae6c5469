// The rows of the math domain's element-wise ops on broadcast operands (private to
// src/ops/math/): arithmetic rows (Add, Sub, Mul, Div, Pow, Minimum, Maximum) give a result in
// their operands' dtype, comparison rows (Equal, Greater, Less) a Bool one. Both broadcast as
// NumPy does (ops/broadcast.h); Select's three-operand walk uses broadcast_all below too.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "ops/broadcast.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

// The broadcast shape of every input; refuses ranks above kMaxBroadcastRank.
inline Shape broadcast_all(const std::string& op, std::span<const TensorType> in) {
  Shape s = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) s = broadcast_shape(op, s, in[i].shape);
  if (s.rank() > kMaxBroadcastRank) shape_error(op, "rank above 16 is not supported");
  return s;
}

// Both inputs of one dtype, one of `allowed`; returns their broadcast shape.
inline Shape binary_infer(const std::string& op, std::span<const TensorType> in,
                          const std::vector<DType>& allowed) {
  require_same_dtype(op, in);
  bool ok = false;
  for (DType t : allowed) ok |= t == in[0].dtype;
  if (!ok) {
    std::string list;
    for (DType t : allowed) list += (list.empty() ? "" : ", ") + std::string(mindspore_name(t));
    throw ValueError(ErrorCode::kUnsupported, op + ": dtype " +
                                                  std::string(mindspore_name(in[0].dtype)) +
                                                  " is not supported (supported: " + list + ")");
  }
  return broadcast_all(op, in);
}

// out[i] = f(a[i], b[i]) over the broadcast walk; Out is T, or uint8_t for Bool results.
template <class T, class Out, class F>
Kernel binary_kernel(std::span<const TensorType> in, const Shape& out) {
  const Shape shapes[2] = {in[0].shape, in[1].shape};
  return [w = BroadcastWalk<2>(shapes, out)](std::span<const Tensor> x, std::span<Tensor> y,
                                             Parallel& par) {
    const auto* a = reinterpret_cast<const T*>(x[0].raw_data());
    const auto* b = reinterpret_cast<const T*>(x[1].raw_data());
    auto* o = reinterpret_cast<Out*>(y[0].raw_data());
    // By runs along the last dimension, each operand read with stride 1 or 0 there: a loop per
    // case, which the compiler vectorises (the odometer's step per element cost more than the
    // arithmetic: a squeeze-excitation Mul of [N, C, H, W] by [N, C, 1, 1] was 8% of
    // mobilenet_v3).
    const int64_t sa = w.inner_stride(0), sb = w.inner_stride(1);
    par.for_range(w.size(), kElementGrain, [&](int64_t i0, int64_t i1, int) {
      const F f;
      w.runs(i0, i1, [&](int64_t i, const int64_t* off, int64_t len) {
        const T* ap = a + off[0];
        const T* bp = b + off[1];
        Out* op = o + i;
        if (sa == 1 && sb == 1) {
          for (int64_t t = 0; t < len; ++t) op[t] = static_cast<Out>(f(ap[t], bp[t]));
        } else if (sa == 1) {
          const T bv = *bp;
          for (int64_t t = 0; t < len; ++t) op[t] = static_cast<Out>(f(ap[t], bv));
        } else if (sb == 1) {
          const T av = *ap;
          for (int64_t t = 0; t < len; ++t) op[t] = static_cast<Out>(f(av, bp[t]));
        } else {
          const Out v = static_cast<Out>(f(*ap, *bp));
          for (int64_t t = 0; t < len; ++t) op[t] = v;
        }
      });
    });
  };
}

inline const std::vector<DType> kBinaryDTypes = {DType::Float32, DType::Float64, DType::Int32,
                                                 DType::Int64};

// An arithmetic row named `name` (also its MindIR primitive): y = F<T>()(a, b) in the operands'
// dtype T, one of `dtypes` (a subset of Float32, Float64, Int32, Int64).
template <template <class> class F>
OpDef binary_row(const std::string& name, std::vector<DType> dtypes = kBinaryDTypes) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = [name, dtypes](std::span<const TensorType> in, const ir::Attrs&) {
    return std::vector<TensorType>{{in[0].dtype, binary_infer(name, in, dtypes)}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const Shape out = broadcast_all(name, in);
    switch (in[0].dtype) {
      case DType::Float64:
        return binary_kernel<double, double, F<double>>(in, out);
      case DType::Int32:
        return binary_kernel<int32_t, int32_t, F<int32_t>>(in, out);
      case DType::Int64:
        return binary_kernel<int64_t, int64_t, F<int64_t>>(in, out);
      default:
        return binary_kernel<float, float, F<float>>(in, out);
    }
  };
  d.mindir.primitive = name;
  return d;
}

// A comparison row: y = Cmp()(a, b) as Bool (one byte, 0 or 1), for operands of one dtype in
// `dtypes` (a subset of Float32, Float64, Int32, Int64, Bool).
template <class Cmp>
OpDef compare_row(const std::string& name, std::vector<DType> dtypes) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = [name, dtypes](std::span<const TensorType> in, const ir::Attrs&) {
    return std::vector<TensorType>{{DType::Bool, binary_infer(name, in, dtypes)}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const Shape out = broadcast_all(name, in);
    switch (in[0].dtype) {
      case DType::Float64:
        return binary_kernel<double, uint8_t, Cmp>(in, out);
      case DType::Int32:
        return binary_kernel<int32_t, uint8_t, Cmp>(in, out);
      case DType::Int64:
        return binary_kernel<int64_t, uint8_t, Cmp>(in, out);
      case DType::Bool:
        return binary_kernel<uint8_t, uint8_t, Cmp>(in, out);
      default:
        return binary_kernel<float, uint8_t, Cmp>(in, out);
    }
  };
  d.mindir.primitive = name;
  return d;
}

// Import of ONNX's Min / Max: one or more inputs (all broadcast together), folded pairwise into
// nodes of the two-input row `op`.
inline OnnxImportFn onnx_fold_inputs(std::string op) {
  return [op](OnnxImporter& m) {
    if (m.num_inputs() < 1) m.fail("needs at least one input");
    int acc = m.input(0);
    for (size_t i = 1; i < m.num_inputs(); ++i) acc = m.emit1(op, {acc, m.input(i)});
    m.set_output(0, acc);
  };
}

// y = F<T>()(x, s) element-wise, s the scalar attribute `other` as T: the rows of MindSpore 2.x's
// tensor-by-Python-number ops (Muls, Divs), whose scalar is a constant input, not a tensor.
template <template <class> class F>
OpDef scalar_row(const std::string& name, std::vector<DType> dtypes) {
  OpDef d;
  d.name = name;
  d.infer = [name, dtypes](std::span<const TensorType> in, const ir::Attrs& attrs) {
    attr_double(attrs, name, "other", 0);  // a number, if present
    if (!has_attr(attrs, "other"))
      throw ValueError(ErrorCode::kInvalidArgument, name + ": attribute 'other' is required");
    bool ok = false;
    for (DType t : dtypes) ok |= t == in[0].dtype;
    if (!ok)
      throw ValueError(
          ErrorCode::kUnsupported,
          name + ": dtype " + std::string(mindspore_name(in[0].dtype)) + " is not supported");
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const double s = attr_double(attrs, name, "other", 0);
    const int64_t n = in[0].shape.numel();
    auto make = [&](auto zero) -> Kernel {
      using T = decltype(zero);
      return [n, v = static_cast<T>(s)](std::span<const Tensor> x, std::span<Tensor> y) {
        const T* p = x[0].data<T>();
        T* q = y[0].data<T>();
        const F<T> f;
        for (int64_t i = 0; i < n; ++i) q[i] = f(p[i], v);
      };
    };
    switch (in[0].dtype) {
      case DType::Float64:
        return make(double{});
      case DType::Int32:
        return make(int32_t{});
      case DType::Int64:
        return make(int64_t{});
      default:
        return make(float{});
    }
  };
  d.mindir.primitive = name;
  d.mindir.attr_inputs = {"other"};
  return d;
}

// y = a + sign·alpha·b with NumPy broadcasting (MindSpore 2.x's AddExt, SubExt: `alpha` a number,
// default 1), for operands of one dtype in kBinaryDTypes.
inline OpDef alpha_row(const std::string& name, int sign) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    attr_double(attrs, name, "alpha", 1);
    return std::vector<TensorType>{{in[0].dtype, binary_infer(name, in, kBinaryDTypes)}};
  };
  d.make_kernel = [name, sign](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const Shape out = broadcast_all(name, in);
    const double alpha = sign * attr_double(attrs, name, "alpha", 1);
    const Shape shapes[2] = {in[0].shape, in[1].shape};
    auto make = [&](auto zero) -> Kernel {
      using T = decltype(zero);
      // By runs along the last dimension over the workers, as binary_kernel (a residual Add of
      // [1, 256, 56, 56] was 0.2 ms on one thread while the other waited: resnet50, 2 threads).
      return [w = BroadcastWalk<2>(shapes, out), a = static_cast<T>(alpha)](
                 std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
        const T* p = x[0].data<T>();
        const T* q = x[1].data<T>();
        T* o = y[0].data<T>();
        const int64_t sp = w.inner_stride(0), sq = w.inner_stride(1);
        par.for_range(w.size(), kElementGrain, [&](int64_t i0, int64_t i1, int) {
          w.runs(i0, i1, [&](int64_t i, const int64_t* off, int64_t len) {
            const T* pp = p + off[0];
            const T* qp = q + off[1];
            T* op = o + i;
            if (sp == 1 && sq == 1) {
              for (int64_t t = 0; t < len; ++t) op[t] = pp[t] + a * qp[t];
            } else {
              for (int64_t t = 0; t < len; ++t) op[t] = pp[t * sp] + a * qp[t * sq];
            }
          });
        });
      };
    };
    switch (in[0].dtype) {
      case DType::Float64:
        return make(double{});
      case DType::Int32:
        return make(int32_t{});
      case DType::Int64:
        return make(int64_t{});
      default:
        return make(float{});
    }
  };
  d.mindir.primitive = name;
  d.mindir.attr_inputs = {"alpha"};
  d.mindir.defaults = {{"alpha", int64_t{1}}};
  return d;
}

// ONNX export of an alpha row: a ± b, with b scaled first when alpha is not 1.
inline OnnxExportFn onnx_alpha_export(std::string op_type, std::string name) {
  return [op_type, name](OnnxBuilder& b, const ir::Node& n) {
    const double alpha = onnx_checked(b, n, [&] { return attr_double(n.attrs, name, "alpha", 1); });
    const std::string y = b.name(n.outputs.at(0));
    std::string rhs = b.name(n.inputs.at(1));
    if (alpha != 1) {
      const std::string scaled = b.fresh(y + "/alpha_b");
      b.add("Mul", {rhs, b.scalar(y + "/alpha", alpha, b.info(n.inputs[1]).dtype)}, {scaled});
      rhs = scaled;
    }
    b.add(op_type, {b.name(n.inputs.at(0)), rhs}, {y});
  };
}

// ONNX export of a scalar row: the ONNX binary op with the scalar as a rank-0 constant.
inline OnnxExportFn onnx_scalar_export(std::string op_type, std::string name) {
  return [op_type, name](OnnxBuilder& b, const ir::Node& n) {
    const double s = onnx_checked(b, n, [&] { return attr_double(n.attrs, name, "other", 0); });
    const std::string y = b.name(n.outputs.at(0));
    b.add(op_type, {b.name(n.inputs.at(0)), b.scalar(y + "/other", s, b.info(n.inputs[0]).dtype)},
          {y});
  };
}

}  // namespace cellar::ops
