// TruncateDiv: a / b rounded toward zero (MindSpore's TruncateDiv; on integers C's and ONNX's
// integer Div), broadcasting as NumPy does, for Float32, Float64, Int32 and Int64. MindSpore's own
// Div turns integer operands into a float quotient, so ONNX's integer Div is read as this row,
// not as Div, and written back as ONNX Div (integers only: ONNX has no truncating float division).
// An integer division by zero has no defined result anywhere; cellar gives 0 rather than trapping.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

template <class T>
struct TruncDiv {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::trunc(a / b);
    } else {
      if (b == 0) return 0;
      if (b == -1) return a == std::numeric_limits<T>::min() ? a : -a;  // wraps as two's complement
      return a / b;
    }
  }
};

}  // namespace

CELLAR_REGISTER_OPS(truncate_div) {
  OpDef d = binary_row<TruncDiv>("TruncateDiv");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const DType t = b.info(n.inputs.at(0)).dtype;
    if (t == DType::Float32 || t == DType::Float64)
      b.fail(n, "ONNX has no truncating division of floating-point values");
    b.add("Div", b.input_names(n), {b.name(n.outputs.at(0))});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
