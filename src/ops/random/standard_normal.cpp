// StandardNormal(; shape, seed, dtype): a tensor of `shape` (floating `dtype`, default Float32)
// drawn from N(0, 1). Eager only (random.h): the functional form is ops::randn(shape, gen). No
// graph spelling: MindSpore's StandardNormal (seed, seed2 attributes, the shape an input; 1.x and
// 2.x) and ONNX's RandomNormal are neither written nor read, a graph holding one is refused.
#include "cellar/ops.h"
#include "ops/random/random.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "StandardNormal";

Tensor draw(const Shape& shape, Generator& gen, DType dtype) {
  return random::fill_random(shape, dtype, [&] { return gen.normal(0.0, 1.0); });
}

std::vector<TensorType> infer(std::span<const TensorType>, const ir::Attrs& a) {
  return {{random::attr_dtype(a, kOp, DType::Float32), random::attr_shape(a, kOp)}};
}

std::vector<Tensor> eager(std::span<const Tensor>, const ir::Attrs& a) {
  random::refuse_in_trace(kOp, kOp);
  Generator gen = random::attr_generator(a, kOp);
  return {draw(random::attr_shape(a, kOp), gen, random::attr_dtype(a, kOp, DType::Float32))};
}

}  // namespace

CELLAR_REGISTER_OPS(standard_normal) { table.add(random::random_row(kOp, infer, eager)); }

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  random::refuse_in_trace("randn", kOp);
  return draw(shape, gen, dtype);
}

}  // namespace cellar::ops
