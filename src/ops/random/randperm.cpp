// Randperm(; n, seed, dtype): a random permutation of 0 … n-1 (1-D, `dtype` default Int64).
// Eager only (random.h): the functional form is ops::randperm(n, gen). No graph spelling:
// MindSpore's Randperm (1.x: n an int32 tensor input, max_length/pad attributes; 2.x ops.randperm
// with seed and offset) is neither written nor read, and ONNX has no such op.
#include <algorithm>
#include <numeric>

#include "cellar/ops.h"
#include "ops/random/random.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "Randperm";

Tensor draw(int64_t n, Generator& gen, DType dtype) {
  if (n < 0) throw ValueError(ErrorCode::kInvalidArgument, "randperm of a negative count");
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  std::shuffle(v.begin(), v.end(), gen.engine());
  return Tensor::from_vector(v, Shape{n}).to(dtype);
}

std::vector<TensorType> infer(std::span<const TensorType>, const ir::Attrs& a) {
  const int64_t n = attr_int(a, kOp, "n");
  if (n < 0) throw ValueError(ErrorCode::kInvalidArgument, "randperm of a negative count");
  return {{random::attr_dtype(a, kOp, DType::Int64), Shape{n}}};
}

std::vector<Tensor> eager(std::span<const Tensor>, const ir::Attrs& a) {
  random::refuse_in_trace(kOp, kOp);
  Generator gen = random::attr_generator(a, kOp);
  return {draw(attr_int(a, kOp, "n"), gen, random::attr_dtype(a, kOp, DType::Int64))};
}

}  // namespace

CELLAR_REGISTER_OPS(randperm) { table.add(random::random_row(kOp, infer, eager)); }

Tensor randperm(int64_t n, Generator& gen, DType dtype) {
  random::refuse_in_trace("randperm", kOp);
  return draw(n, gen, dtype);
}

}  // namespace cellar::ops
