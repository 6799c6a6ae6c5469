// Sigmoid: y = 1 / (1 + e^−x). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Sigmoid" with x its
// only input (ops_def sigmoid_op.yaml), as 1.x did; ONNX's Sigmoid is the same op, written and
// read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"
#include "ops/vec_math.h"

namespace cellar::ops {

namespace {
struct Sigmoid {
  template <class T>
  T operator()(T v) const {
    return T(1) / (T(1) + std::exp(-v));
  }
};
}  // namespace

CELLAR_REGISTER_OPS(sigmoid) {
  OpDef d = unary_row<Sigmoid>("Sigmoid");
  d.make_kernel = vec_make_kernel(&sigmoid_simd, d.make_kernel);  // Float32 in SIMD lanes
  d.onnx = onnx_same("Sigmoid");
  d.onnx_import = {{"Sigmoid", onnx_unary("Sigmoid")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
