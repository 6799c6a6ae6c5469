// Random ops. They run eagerly with an explicit Generator and have no kernel a graph could run:
// inside an export trace they are refused (a graph drawing random numbers does not reproduce
// its outputs, and MindSpore's export refuses them too).
#include <algorithm>
#include <numeric>

#include "cellar/ops.h"
#include "ir/trace.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {
void refuse_in_trace(const std::string& fn, const std::string& op) {
  if (ir::Tracer::current() != nullptr)
    throw ExportError("random-number op " + fn + " (" + op +
                          ") inside the traced graph; random ops cannot be exported — draw the "
                          "values before export and pass them as inputs or parameters",
                      {.tensor = fn});
}
std::vector<TensorType> no_infer(std::span<const TensorType>, const ir::Attrs&) {
  throw ValueError(ErrorCode::kUnsupported, "random ops have no graph form");
}
Tensor fill_random(const Shape& shape, DType dtype, const std::function<double()>& draw) {
  if (!is_floating(dtype)) throw ValueError(ErrorCode::kInvalidArgument, "random floats need a floating dtype");
  Tensor t(DType::Float64, shape);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = draw();
  return t.to(dtype);
}
}  // namespace

CELLAR_REGISTER_OPS(random_ops) {
  OpTable& t = table;
  for (const char* name : {"StandardNormal", "UniformReal", "Randperm"})
    t.add({.name = name, .min_inputs = 0, .max_inputs = -1, .infer = no_infer, .is_random = true});
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  refuse_in_trace("randn", "StandardNormal");
  return fill_random(shape, dtype, [&] { return gen.normal(0.0, 1.0); });
}

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  refuse_in_trace("uniform", "UniformReal");
  return fill_random(shape, dtype, [&] { return gen.uniform(lo, hi); });
}

Tensor randperm(int64_t n, Generator& gen, DType dtype) {
  refuse_in_trace("randperm", "Randperm");
  if (n < 0) throw ValueError(ErrorCode::kInvalidArgument, "randperm of a negative count");
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  std::shuffle(v.begin(), v.end(), gen.engine());
  return Tensor::from_vector(v, Shape{n}).to(dtype);
}

}  // namespace cellar::ops
