// UniformReal(; shape, minval, maxval, seed, dtype): a tensor of `shape` (floating `dtype`,
// default Float32) drawn uniformly from [minval, maxval) (default [0, 1), MindSpore's
// UniformReal). Eager only (random.h): the functional form is ops::uniform(shape, lo, hi, gen).
// No graph spelling: MindSpore's UniformReal (seed, seed2 attributes, the shape an input; 1.x and
// 2.x) and ONNX's RandomUniform are neither written nor read, a graph holding one is refused.
#include "cellar/ops.h"
#include "ops/random/random.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "UniformReal";

Tensor draw(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  return random::fill_random(shape, dtype, [&] { return gen.uniform(lo, hi); });
}

std::vector<TensorType> infer(std::span<const TensorType>, const ir::Attrs& a) {
  const double lo = attr_double(a, kOp, "minval", 0.0), hi = attr_double(a, kOp, "maxval", 1.0);
  if (!(lo < hi))
    throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": minval " +
                                                      std::to_string(lo) + " is not below maxval " +
                                                      std::to_string(hi));
  return {{random::attr_dtype(a, kOp, DType::Float32), random::attr_shape(a, kOp)}};
}

std::vector<Tensor> eager(std::span<const Tensor>, const ir::Attrs& a) {
  random::refuse_in_trace(kOp, kOp);
  Generator gen = random::attr_generator(a, kOp);
  return {draw(random::attr_shape(a, kOp), attr_double(a, kOp, "minval", 0.0),
               attr_double(a, kOp, "maxval", 1.0), gen,
               random::attr_dtype(a, kOp, DType::Float32))};
}

}  // namespace

CELLAR_REGISTER_OPS(uniform_real) { table.add(random::random_row(kOp, infer, eager)); }

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  random::refuse_in_trace("uniform", kOp);
  return draw(shape, lo, hi, gen, dtype);
}

}  // namespace cellar::ops
