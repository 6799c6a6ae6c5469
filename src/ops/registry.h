// Each file of src/ops registers its rows into the table (called once, by op_table()).
#pragma once

#include "ops/op_table.h"

namespace cellar::ops {

void register_nn_ops(OpTable& table);      // MatMul, BiasAdd, ReLU
void register_array_ops(OpTable& table);   // Flatten, Reshape
void register_math_ops(OpTable& table);    // Add, Mul
void register_random_ops(OpTable& table);  // StandardNormal, UniformReal, Randperm
void register_conv_ops(OpTable& table);        // Conv2D
void register_pool_ops(OpTable& table);        // MaxPool, AvgPool
void register_norm_ops(OpTable& table);        // BatchNorm
void register_activation_ops(OpTable& table);  // Softmax, LogSoftmax, Sigmoid, Tanh, GeLU, Abs
void register_shape_ops(OpTable& table);       // Transpose, ExpandDims, Squeeze, Concat, Gather, Tile
void register_reduce_ops(OpTable& table);      // ReduceSum, ReduceMean
void register_math2_ops(OpTable& table);       // Sub, Div, BatchMatMul
void register_pad_ops(OpTable& table);          // Pad
void register_elementwise_ops(OpTable& table);  // Erf, Sqrt, …, Equal, Select, ReduceMax, Cast
void register_onnx_spellings(OpTable& table);  // ONNX export/import of the rows above (last)

// Shared helpers for shape rules.
[[noreturn]] void shape_error(const std::string& op, const std::string& why);
[[noreturn]] void dtype_error(const std::string& op, const std::string& why);
void require_same_dtype(const std::string& op, std::span<const TensorType> in);
void require_dtype_in(const std::string& op, DType t, std::initializer_list<DType> allowed);

}  // namespace cellar::ops
