// The rows of the element-wise activations that carry attributes (Elu's alpha, LeakyReLU's
// negative_slope, Softplus's beta and threshold) and the spellings several activations share.
// Private to src/ops/nn/.
//
// param_unary_row<F>(name, make): the row of ops/unary.h (float dtypes, y has x's type) whose
// functor is built from the node's attributes by `make`, once per kernel; `make` validates the
// attributes and throws ValueError naming the op, so the shape rule refuses a bad node too.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

template <class F>
OpDef param_unary_row(const std::string& name, F (*make)(const ir::Attrs&)) {
  OpDef d = unary_row<F>(name);
  d.infer = [base = d.infer, make](std::span<const TensorType> in, const ir::Attrs& a) {
    (void)make(a);
    return base(in, a);
  };
  d.make_kernel = [make](std::span<const TensorType> in, const ir::Attrs& a) -> Kernel {
    const F f = make(a);
    const int64_t n = in[0].shape.numel();
    auto kernel = [n, f]<class T>(T) -> Kernel {
      return [n, f](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
        const T* p = x[0].data<T>();
        T* q = y[0].data<T>();
        par.for_range(n, kElementGrain, [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i) q[i] = f(p[i]);
        });
      };
    };
    if (in[0].dtype == DType::Float64) return kernel(0.0);
    return kernel(0.0f);
  };
  return d;
}

// A MindSpore 2.x primitive of the same function with no attributes of its own (MishExt for Mish,
// SeLUExt for SeLU): read as the row, never written.
MindIRVariant same_function_variant(const std::string& primitive);

// ONNX export helpers over the builder: a rank-0 constant of x's dtype, and one node with one
// fresh output.
std::string onnx_step(OnnxBuilder& b, const std::string& hint, const std::string& op_type,
                      const std::vector<std::string>& inputs, const OnnxAttrs& attrs = {});

}  // namespace cellar::ops
