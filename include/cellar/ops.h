// The functional ops a Cell's construct is written with. Each runs eagerly on concrete tensors
// and is recorded into the graph when any input is symbolic (export tracing). Every op is a row
// of the op table (src/ops/op_table.h); these functions only name the row and its attributes.
#pragma once

#include <cstdint>
#include <vector>

#include "cellar/generator.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::ops {

// y = op(a) @ op(b), op = transpose when asked; rank-2 operands.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// x + bias broadcast along dimension 1 (NC… layout), as MindSpore's BiasAdd.
Tensor bias_add(const Tensor& x, const Tensor& bias);
Tensor relu(const Tensor& x);
// (N, d1, d2, …) → (N, d1·d2·…).
Tensor flatten(const Tensor& x);
// New shape with at most one -1.
Tensor reshape(const Tensor& x, const Shape& shape);
// Elementwise with NumPy broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);

// Random ops. They run eagerly; inside an export trace they are refused (a graph with random
// numbers in it does not reproduce its outputs).
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32);
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen,
               DType dtype = DType::Float32);
Tensor randperm(int64_t n, Generator& gen, DType dtype = DType::Int64);

}  // namespace cellar::ops

CELLAR_API_END
