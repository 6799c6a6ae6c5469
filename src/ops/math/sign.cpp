// Sign: y = 1, 0 or −1 by the sign of x, element-wise, for Float32, Float64 and signed integers; a
// NaN gives 0 and −0 gives 0, as MindSpore 2.10's CPU kernel does (checked in
// make_ops_c_fixtures.py). MindSpore writes the primitive "Sign" with x its only input (2.x and
// 1.x alike); ONNX's Sign is written and read one to one (ONNX Runtime's NaN gives NaN: the
// one difference).
#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct SignF {
  template <class T>
  T operator()(T v) const {
    return v > T(0) ? T(1) : v < T(0) ? T(-1) : T(0);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(sign) {
  OpDef d = unary_row<SignF, UnaryDTypes::kNumeric>("Sign");
  d.onnx = onnx_same("Sign");
  d.onnx_import = {{"Sign", onnx_unary("Sign")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
