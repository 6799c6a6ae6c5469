// The ONNX op types the ONNX format reads with no op table row of their own: decompositions into
// rows (Gemm, Clip, GlobalAveragePool), load-time
// constants (Constant, Shape, ConstantOfShape: shapes are static) and identities (Identity,
// Dropout). An ONNX op type is either a row's (its `onnx_import`) or here, never both.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "formats/onnx_builder.h"
#include "ops/attr.h"

namespace cellar::formats {

using ops::kOnnxMaxConstElements;
using ops::OnnxImporter;

namespace {

Tensor scalar_like(double v, DType dt) { return Tensor::scalar(v).to(dt); }

void import_constant(OnnxImporter& m) {
  m.require_inputs(0, 0);
  int given = 0;
  Tensor t;
  if (auto v = m.attr_tensor("value")) t = *v, ++given;
  if (m.has_attr("value_float"))
    t = Tensor::scalar(static_cast<float>(m.attr_float("value_float", 0))), ++given;
  if (m.has_attr("value_int")) t = Tensor::scalar(m.attr_int("value_int", 0)), ++given;
  if (auto v = m.attr_floats("value_floats")) {
    std::vector<float> f(v->begin(), v->end());
    t = Tensor::from_vector(f, Shape{static_cast<int64_t>(f.size())}), ++given;
  }
  if (auto v = m.attr_ints("value_ints"))
    t = Tensor::from_vector(*v, Shape{static_cast<int64_t>(v->size())}), ++given;
  for (const char* k : {"sparse_value", "value_string", "value_strings"})
    if (m.has_attr(k)) m.unsupported(std::string("attribute '") + k + "' is not supported");
  if (given != 1) m.fail("must have exactly one value attribute, has " + std::to_string(given));
  m.set_output(0, m.constant(t));
}

void import_identity(OnnxImporter& m) {
  m.require_inputs(1, 1);
  m.set_output(0, m.input(0));
}

// Dropout is the identity at inference; output 1 (the mask) is not computed.
void import_dropout(OnnxImporter& m) {
  m.require_inputs(1, 3);
  if (m.num_inputs() > 2 && m.has_input(2)) {
    const auto train = m.constant_input(2);
    if (!train) m.unsupported("training_mode must be a constant");
    if (train->numel() != 1 || train->to(DType::Float64).item() != 0)
      m.unsupported("training_mode is true; cellar runs inference only");
  }
  m.set_output(0, m.input(0));
}

// Y = alpha·op(A)·op(B) + beta·C: MatMul, then BiasAdd for a 1-D C (as MindSpore's Dense), else
// Add.
void import_gemm(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int a = m.input(0), b = m.input(1);
  if (m.rank(a) != 2 || m.rank(b) != 2) m.fail("A and B must be 2-D");
  const double alpha = m.attr_float("alpha", 1.0), beta = m.attr_float("beta", 1.0);
  const DType dt = m.info(a).dtype;
  int y = m.emit1("MatMul", {a, b},
                  {{"transpose_a", m.attr_int("transA", 0) != 0},
                   {"transpose_b", m.attr_int("transB", 0) != 0}});
  if (alpha != 1.0) y = m.emit1("Mul", {y, m.constant(scalar_like(alpha, dt))});
  if (m.num_inputs() == 3 && m.has_input(2) && beta != 0.0) {
    int c = m.input(2);
    if (beta != 1.0) c = m.emit1("Mul", {c, m.constant(scalar_like(beta, dt))});
    const Shape& cs = m.info(c).shape;
    const Shape& ys = m.info(y).shape;
    y = cs.rank() == 1 && cs[0] == ys[1] ? m.emit1("BiasAdd", {y, c}) : m.emit1("Add", {y, c});
  }
  m.set_output(0, y);
}

void import_global_avg_pool(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  if (m.rank(x) < 3) m.fail("input must have rank >= 3");
  std::vector<int64_t> axes;
  for (int64_t a = 2; a < m.rank(x); ++a) axes.push_back(a);
  m.set_output(0, m.emit1("ReduceMean", {x}, {{"axis", axes}, {"keep_dims", true}}));
}

// Shapes are static, so Shape is a constant (shape arithmetic then folds away).
void import_shape(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const Shape& s = m.info(m.input(0)).shape;
  const int64_t r = static_cast<int64_t>(s.rank());
  auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  const int64_t start = clamp(m.attr_int("start", 0)), end = clamp(m.attr_int("end", r));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(s[static_cast<size_t>(i)]);
  m.set_output(0, m.constant(Tensor::from_vector(dims, Shape{static_cast<int64_t>(dims.size())})));
}

// ConstantOfShape(shape; value): a constant, since shapes are static (the shape input must fold
// to a constant). The fill is `value`'s one element (default float32 0).
void import_constant_of_shape(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const auto shape = m.constant_input(0);
  if (!shape) m.unsupported("the shape input must be a constant (shapes are static)");
  if (shape->dtype() != DType::Int64 || shape->shape().rank() != 1)
    m.fail("the shape input must be a 1-D int64 tensor");
  std::vector<int64_t> dims(static_cast<size_t>(shape->numel()));
  for (size_t i = 0; i < dims.size(); ++i) {
    dims[i] = shape->data<int64_t>()[i];
    if (dims[i] < 0) m.fail("negative dimension " + std::to_string(dims[i]));
  }
  const Shape out(dims);
  const auto numel = out.checked_numel();
  if (!numel || *numel > kOnnxMaxConstElements)
    m.unsupported("shape " + out.str() + " is too large to make at load time");
  Tensor fill = Tensor::scalar(0.0f);
  if (auto v = m.attr_tensor("value")) {
    if (v->numel() != 1) m.fail("value must hold exactly one element");
    fill = *v;
  }
  m.charge_generated(static_cast<uint64_t>(*numel) * itemsize(fill.dtype()));
  Tensor t(fill.dtype(), out);
  const size_t item = itemsize(fill.dtype());
  for (int64_t i = 0; i < *numel; ++i)
    std::memcpy(static_cast<std::byte*>(t.raw_data()) + static_cast<size_t>(i) * item,
                fill.raw_data(), item);
  m.set_output(0, m.constant(t));
}

// Clip(x, min?, max?) (opset 11+: bounds are optional inputs) = Minimum(Maximum(x, min), max).
void import_clip(OnnxImporter& m) {
  m.require_inputs(1, 3);
  int y = m.input(0);
  if (m.has_input(1)) y = m.emit1("Maximum", {y, m.input(1)});
  if (m.has_input(2)) y = m.emit1("Minimum", {y, m.input(2)});
  m.set_output(0, y);
}

}  // namespace

namespace {
const std::map<std::string, ops::OnnxImportFn>& rules() {
  static const std::map<std::string, ops::OnnxImportFn> table = [] {
    std::map<std::string, ops::OnnxImportFn> r = {
        {"Constant", import_constant},
        {"Identity", import_identity},
        {"Dropout", import_dropout},
        {"Gemm", import_gemm},
        {"GlobalAveragePool", import_global_avg_pool},
        {"Shape", import_shape},
        {"ConstantOfShape", import_constant_of_shape},
        {"Clip", import_clip},
    };
    for (const auto& kv : r)
      if (ops::op_table().find_onnx_import(kv.first))
        throw std::logic_error("ONNX op type '" + kv.first +
                               "' is read both by an op table row and by the ONNX format");
    return r;
  }();
  return table;
}
}  // namespace

const ops::OnnxImportFn* find_onnx_format_rule(const std::string& op_type) {
  auto it = rules().find(op_type);
  return it == rules().end() ? nullptr : &it->second;
}

std::vector<std::string> onnx_format_rule_types() {
  std::vector<std::string> out;
  for (const auto& kv : rules()) out.push_back(kv.first);
  return out;
}

}  // namespace cellar::formats
