// Elementwise binary ops with NumPy broadcasting (the broadcasting itself is in broadcast.h).
#include <functional>

#include "ops/broadcast.h"

namespace cellar::ops {

void register_math_ops(OpTable& t) {
  t.add(binary_op<std::plus>("Add"));
  t.add(binary_op<std::multiplies>("Mul"));
}

}  // namespace cellar::ops
