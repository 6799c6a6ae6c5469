// Flatten, Reshape: data is contiguous, so both are a copy into the planned output buffer.
#include <cstring>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

Kernel copy_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const size_t bytes = static_cast<size_t>(in[0].shape.numel()) * itemsize(in[0].dtype);
  return [bytes](std::span<const Tensor> x, std::span<Tensor> y) {
    if (bytes && x[0].raw_data() != y[0].raw_data()) std::memcpy(y[0].raw_data(), x[0].raw_data(), bytes);
  };
}

std::vector<TensorType> flatten_infer(std::span<const TensorType> in, const ir::Attrs&) {
  const Shape& s = in[0].shape;
  if (s.rank() == 0) shape_error("Flatten", "input must have rank >= 1");
  int64_t rest = 1;
  for (size_t i = 1; i < s.rank(); ++i) rest *= s[i];
  return {{in[0].dtype, Shape{s[0], rest}}};
}

std::vector<TensorType> reshape_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  std::vector<int64_t> dims = attr_ints(attrs, "Reshape", "shape");
  const int64_t total = in[0].shape.numel();
  int64_t known = 1;
  int infer_at = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (infer_at >= 0) shape_error("Reshape", "more than one -1 in target shape");
      infer_at = static_cast<int>(i);
    } else if (dims[i] < 0) {
      shape_error("Reshape", "negative dimension " + std::to_string(dims[i]) + " in target shape");
    } else if (__builtin_mul_overflow(known, dims[i], &known)) {
      shape_error("Reshape", "target shape overflows");
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      shape_error("Reshape", "cannot reshape " + in[0].shape.str() + " to " + Shape(dims).str());
    dims[static_cast<size_t>(infer_at)] = total / known;
  } else if (known != total) {
    shape_error("Reshape", "cannot reshape " + in[0].shape.str() + " to " + Shape(dims).str());
  }
  return {{in[0].dtype, Shape(dims)}};
}

}  // namespace

CELLAR_REGISTER_OPS(array_ops) {
  OpTable& t = table;
  t.add({.name = "Flatten", .infer = flatten_infer, .make_kernel = copy_kernel,
         .mindir = {.primitive = "Flatten"}});
  t.add({.name = "Reshape", .infer = reshape_infer, .make_kernel = copy_kernel,
         .mindir = {.primitive = "Reshape", .attr_inputs = {"shape"}}});
}

}  // namespace cellar::ops
