// Rsqrt: y = 1 / sqrt(x) (inf at 0, NaN below), element-wise, for Float32 and Float64. MindSpore
// writes the primitive "Rsqrt" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x
// the same name and input). ONNX has no Rsqrt: written as Reciprocal(Sqrt(x)).
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct RsqrtF {
  template <class T>
  T operator()(T v) const {
    return T(1) / std::sqrt(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(rsqrt) {
  OpDef d = unary_row<RsqrtF>("Rsqrt");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string root = b.fresh(b.name(n.outputs.at(0)) + "/sqrt");
    b.add("Sqrt", {b.name(n.inputs.at(0))}, {root});
    b.add("Reciprocal", {root}, {b.name(n.outputs.at(0))});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
