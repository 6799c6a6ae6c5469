// Elementwise binary ops with NumPy broadcasting (the broadcasting itself is in broadcast.h).
#include <functional>
#include <utility>

#include "ops/broadcast.h"

namespace cellar::ops {

void register_math_ops(OpTable& t) {
  OpDef add = binary_op<std::plus>("Add");
  add.mindir.legacy_primitives = {"TensorAdd"};  // MindSpore 1.0/1.1 (renamed Add in 1.2)
  t.add(std::move(add));
  t.add(binary_op<std::multiplies>("Mul"));
}

}  // namespace cellar::ops
