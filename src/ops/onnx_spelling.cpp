// The helpers of the ONNX spelling interfaces (ops/onnx_spelling.h): what every row's spelling
// can use, written once.
#include "ops/onnx_spelling.h"

namespace cellar::ops {

// ---- OnnxBuilder ----

void OnnxBuilder::fail(const ir::Node& node, const std::string& why) const {
  throw ExportError("ONNX: node '" + node.name + "' (" + node.op + "): " + why,
                    {.tensor = node.name});
}

std::string OnnxBuilder::ints(const std::string& hint, const std::vector<int64_t>& v) {
  return constant(hint, Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())}));
}

std::string OnnxBuilder::scalar(const std::string& hint, double v, DType dtype) {
  return constant(hint, Tensor::scalar(v).to(dtype));
}

std::vector<std::string> OnnxBuilder::input_names(const ir::Node& node) const {
  std::vector<std::string> in;
  in.reserve(node.inputs.size());
  for (int v : node.inputs) in.push_back(name(v));
  return in;
}

// ---- OnnxImporter ----

void OnnxImporter::require_inputs(size_t min, size_t max) const {
  const size_t n = num_inputs();
  if (n < min || n > max)
    fail("has " + std::to_string(n) + " inputs, expected " +
         (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)));
  for (size_t i = 0; i < min; ++i)
    if (!has_input(i)) fail("required input " + std::to_string(i) + " is empty");
}

std::vector<int64_t> OnnxImporter::const_ints(size_t i) {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  const std::optional<Tensor> t = constant_input(i);
  if (!t)
    unsupported("input " + std::to_string(i) +
                " must be a constant (an initializer or a Constant node): cellar needs it at load "
                "time");
  if (t->rank() > 1)
    fail("input " + std::to_string(i) + " must be a scalar or 1-D, got " + t->shape().str());
  std::vector<int64_t> out(static_cast<size_t>(t->numel()));
  if (t->dtype() == DType::Int64) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = t->data<int64_t>()[k];
  } else if (t->dtype() == DType::Int32) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = t->data<int32_t>()[k];
  } else {
    fail("input " + std::to_string(i) + " must be int64 or int32, got " +
         std::string(mindspore_name(t->dtype())));
  }
  return out;
}

std::optional<std::vector<int64_t>> OnnxImporter::ints_attr_or_input(const std::string& attr,
                                                                     size_t i, int64_t moved_in) {
  if (opset() < moved_in) return attr_ints(attr);
  if (has_attr(attr))
    fail("attribute '" + attr + "' became input " + std::to_string(i) + " in opset " +
         std::to_string(moved_in) + "; this model declares opset " + std::to_string(opset()));
  if (num_inputs() > i && has_input(i)) return const_ints(i);
  return std::nullopt;
}

int64_t OnnxImporter::axis(int64_t a, int64_t rank) const {
  if (a < -rank || a >= rank)
    fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
  return a < 0 ? a + rank : a;
}

void OnnxImporter::require_full_sequence_lens(size_t i, int64_t batch, int64_t seq_len,
                                              const std::string& op) {
  if (!has_input(i)) return;
  const std::optional<Tensor> lens = constant_input(i);
  bool whole = lens.has_value() && lens->numel() == batch &&
               (lens->dtype() == DType::Int32 || lens->dtype() == DType::Int64);
  if (whole) {
    const Tensor l64 = lens->to(DType::Int64);
    for (int64_t k = 0; k < batch; ++k) whole &= l64.data<int64_t>()[k] == seq_len;
  }
  if (!whole)
    unsupported("sequence_lens shorter than the sequence are not supported (cellar's " + op +
                " runs every sequence to its end)");
}

int OnnxImporter::take(int x, int64_t axis, const std::vector<int64_t>& indices) {
  const int64_t n = info(x).shape[static_cast<size_t>(axis)];
  bool whole = static_cast<int64_t>(indices.size()) == n;
  for (size_t i = 0; whole && i < indices.size(); ++i)
    whole = indices[i] == static_cast<int64_t>(i);
  if (whole) return x;
  const int idx =
      constant(Tensor::from_vector(indices, Shape{static_cast<int64_t>(indices.size())}));
  return emit1("Gather", {x, idx}, {{"axis", axis}});
}

// Import rules build these from a file's attributes and declared sizes, so the count is computed
// first (in 128 bits: end − begin may leave int64) and refused past kOnnxMaxConstElements with a
// ValueError (kUnsupported), which the ONNX reader reports naming the node: a declared input of
// 2^40 elements must not make the reader allocate an index per element.
std::vector<int64_t> index_range(int64_t begin, int64_t end, int64_t step) {
  if (step == 0) throw ValueError(ErrorCode::kInvalidArgument, "an index range with step 0");
  const __int128 span = step > 0 ? __int128{end} - begin : __int128{begin} - end;
  const __int128 stride = step > 0 ? __int128{step} : -__int128{step};
  const __int128 count = span <= 0 ? 0 : (span + stride - 1) / stride;
  if (count > kOnnxMaxConstElements)
    throw ValueError(ErrorCode::kUnsupported, "a range of more than " +
                                                  std::to_string(kOnnxMaxConstElements) +
                                                  " indices is too large to make at load time");
  std::vector<int64_t> r(static_cast<size_t>(count));
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = static_cast<int64_t>(begin + static_cast<__int128>(i) * step);
  return r;
}

// ---- shared spellings ----

OnnxExportFn onnx_same(std::string op_type) {
  return [op_type](OnnxBuilder& b, const ir::Node& n) {
    b.add(op_type, b.input_names(n), {b.name(n.outputs.at(0))});
  };
}

OnnxImportFn onnx_unary(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(1, 1);
    m.set_output(0, m.emit1(op, {m.input(0)}));
  };
}

OnnxImportFn onnx_binary(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(2, 2);
    m.set_output(0, m.emit1(op, {m.input(0), m.input(1)}));
  };
}

}  // namespace cellar::ops
