// Floor: y = ⌊x⌋ element-wise, for Float32 and Float64. MindSpore writes the primitive "Floor"
// with x its only input (2.x: ops_def floor_op.yaml; 1.x the same name); ONNX's Floor is the same
// function, written and read one to one (FloorDiv's ONNX spelling is Div, then Floor).
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct FloorF {
  template <class T>
  T operator()(T v) const {
    return std::floor(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(floor) {
  OpDef d = unary_row<FloorF>("Floor");
  d.onnx = onnx_same("Floor");
  d.onnx_import = {{"Floor", onnx_unary("Floor")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
