// Softsign: y = x / (1 + |x|). MindSpore writes the Python PRIMITIVE "Softsign" (no attributes;
// operations/nn_ops.py, nn.Softsign), in 1.x and 2.x alike; ONNX's Softsign is the same op,
// written and read one to one.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct Softsign {
  template <class T>
  T operator()(T v) const {
    return v / (T(1) + std::abs(v));
  }
};
}  // namespace

CELLAR_REGISTER_OPS(softsign) {
  OpDef d = unary_row<Softsign>("Softsign");
  d.mindir.primitive_function = false;
  d.onnx = onnx_same("Softsign");
  d.onnx_import = {{"Softsign", onnx_unary("Softsign")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
