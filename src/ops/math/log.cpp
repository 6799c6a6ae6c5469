// Log: y = ln x (−∞ at 0, NaN below), element-wise, for floats. MindSpore writes the primitive
// "Log" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def log_op.yaml; 1.x the same
// name); ONNX's Log is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct LogF {
  template <class T>
  T operator()(T v) const {
    return std::log(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(log) {
  OpDef d = unary_row<LogF>("Log");
  d.onnx = onnx_same("Log");
  d.onnx_import = {{"Log", onnx_unary("Log")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
