// FloorDiv: y = ⌊a / b⌋ element-wise with NumPy broadcasting (Python's `//`), for Float32,
// Float64, Int32 and Int64 operands of one dtype. Integers round toward −∞ as Python does; an
// integer division by zero gives 0 instead of trapping (the divisor is data). MindSpore writes the
// primitive "FloorDiv" (2.x: ops_def floor_div_op.yaml; 1.x the same name) with both operands as
// inputs. ONNX has no floor division: floats are written as Floor(Div(a, b)); integers are
// refused (ONNX's integer Div truncates toward zero).
#include <cmath>

#include "ops/math/binary.h"

namespace cellar::ops {

namespace {
template <class T>
struct FloorDivF {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::floor(a / b);
    } else {
      if (b == 0) return 0;
      if (b == -1) return static_cast<T>(-a);  // no trap on the type's minimum
      const T q = static_cast<T>(a / b);
      return (a % b != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
    }
  }
};
}  // namespace

CELLAR_REGISTER_OPS(floor_div) {
  OpDef d = binary_row<FloorDivF>("FloorDiv");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const DType dt = b.info(n.inputs.at(0)).dtype;
    if (dt != DType::Float32 && dt != DType::Float64)
      b.fail(n, "ONNX has no floor division of integers (its Div truncates)");
    const std::string y = b.name(n.outputs.at(0));
    const std::string q = b.fresh(y + "/div");
    b.add("Div", b.input_names(n), {q});
    b.add("Floor", {q}, {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
