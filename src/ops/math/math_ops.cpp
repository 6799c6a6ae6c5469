// Elementwise binary ops with NumPy broadcasting (the broadcasting itself is in broadcast.h).
#include <functional>
#include <utility>

#include "ops/broadcast.h"
#include "ops/registry.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(math_ops) {
  OpTable& t = table;
  OpDef add = binary_op<std::plus>("Add");
  add.mindir.legacy_primitives = {"TensorAdd"};  // MindSpore 1.0/1.1 (renamed Add in 1.2)
  t.add(std::move(add));
  t.add(binary_op<std::multiplies>("Mul"));
}

}  // namespace cellar::ops
