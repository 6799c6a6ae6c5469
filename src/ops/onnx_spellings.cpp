// ONNX spellings of the op table's rows: how each cellar op is written as ONNX nodes (opset 17)
// and how each ONNX op type read from a file (opsets 13–25) becomes cellar nodes.
//
// Export, per row (MindSpore attribute names on the left):
//   MatMul(transpose_a/b)         Gemm(transA, transB)
//   BiasAdd                       Add (rank 2); Reshape(bias → [C, 1, …]) + Add (rank > 2)
//   ReLU Sigmoid Tanh Abs         Relu Sigmoid Tanh Abs
//   Flatten                       Flatten(axis 1)
//   Reshape(shape)                Reshape(the inferred output shape; allowzero when it has a 0)
//   Add Sub Mul Div               the same (both broadcast as NumPy)
//   Conv2D                        Conv with explicit pads (pad_mode same/valid/pad resolved
//                                 against the input shape), strides, dilations, group
//   MaxPool / AvgPool             MaxPool / AveragePool(count_include_pad 0), explicit pads
//   BatchNorm (inference)         BatchNormalization (output 0; outputs 1–4 must be unused)
//   Softmax LogSoftmax(axis)      the same, one axis
//   GeLU (tanh approximation)     0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³))) in Mul/Add/Tanh
//                                 (ONNX's Gelu op arrives only in opset 20)
//   BatchMatMul(transpose_a/b)    Transpose of the last two axes where asked + MatMul
//   Transpose(perm)               Transpose
//   ExpandDims(axis) / Squeeze    Unsqueeze / Squeeze (axes as an input; () resolved to the
//                                 size-1 dimensions)
//   Concat(axis) Gather(axis)     the same
//   Tile(multiples)               Tile (input reshaped first when multiples is longer)
//   ReduceSum(axis, keep_dims)    ReduceSum (axes input); ReduceMean (axes attribute, opset 17)
//   Erf Sqrt Exp Log Reciprocal Neg Pow Equal Greater Less   the same
//   Minimum Maximum Select        Min Max Where
//   ReduceMax(axis, keep_dims)    ReduceMax (axes attribute, opset 17)
//   Cast(dst_type)                Cast(to)
//
// Import, per ONNX op type: the rows below, plus Constant, Identity, Dropout (identity),
// Gemm (MatMul + alpha/beta + BiasAdd/Add), GlobalAveragePool (ReduceMean over H, W), Shape (a
// constant: shapes are static), Cast, Min/Max (1..N inputs, folded pairwise), Clip (Maximum then
// Minimum), LayerNormalization (opset 17; in ReduceMean/Sub/Mul/Add/Sqrt/Div), Slice and Split
// (Gathers of constant indices), Pad (cellar's Pad; modes constant, reflect, edge), Expand
// (Reshape + Tile), and explicit pooling pads that no MindSpore pad_mode expresses (the input is
// padded with Concat of −∞ or 0 constants first). The attribute→input moves are read by opset:
// Squeeze/Unsqueeze/ ReduceSum axes and Split's split (13), ReduceMean axes and Split's num_outputs
// (18); Pad's pads are an input in every opset read (11+), its axes from 18.
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include "formats/onnx_builder.h"
#include "ops/attr_util.h"

namespace cellar::ops {

namespace {

using formats::OnnxAttrs;
using formats::OnnxBuilder;
using formats::OnnxImporter;

// ============================================================================================
// Export
// ============================================================================================

const Shape& shape_of(OnnxBuilder& b, int v) { return b.info(v).shape; }

// Runs `f` turning the table's attribute errors into an ExportError naming the node.
template <class F>
auto checked(OnnxBuilder& b, const ir::Node& n, F f) {
  try {
    return f();
  } catch (const ValueError& e) {
    b.fail(n, e.reason());
  }
}

OnnxExportFn same_name(std::string op_type) {
  return [op_type](OnnxBuilder& b, const ir::Node& n) {
    std::vector<std::string> in;
    for (int v : n.inputs) in.push_back(b.name(v));
    b.add(op_type, in, {b.name(n.outputs.at(0))});
  };
}

// Padding (before, after) along one spatial dimension for MindSpore's pad modes.
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
  return {need / 2, need - need / 2};
}

void export_conv(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = shape_of(b, n.inputs.at(0));
  const Shape& w = shape_of(b, n.inputs.at(1));
  if (x.rank() != 4 || w.rank() != 4) b.fail(n, "only 2-D convolution (NCHW) is written");
  const auto [sh, sw, dh, dw, group, mode, pad] = checked(b, n, [&] {
    require_nchw(n.attrs, "Conv2D");
    const auto [sh, sw] = attr_hw(n.attrs, "Conv2D", "stride", 1);
    const auto [dh, dw] = attr_hw(n.attrs, "Conv2D", "dilation", 1);
    const int64_t group = attr_scalar_int(n.attrs, "Conv2D", "group",
                                          attr_scalar_int(n.attrs, "Conv2D", "groups", 1));
    auto pad = attr_int_list(n.attrs, "Conv2D", "pad", {0});
    if (pad.size() == 1) pad.assign(4, pad[0]);
    return std::tuple{sh, sw, dh, dw, group, attr_pad_mode(n.attrs, "Conv2D", "valid"), pad};
  });
  std::vector<int64_t> pads(4, 0);  // ONNX: top, left, bottom, right
  if (mode == "same") {
    std::tie(pads[0], pads[2]) = same_pads(x[2], w[2], sh, dh);
    std::tie(pads[1], pads[3]) = same_pads(x[3], w[3], sw, dw);
  } else if (mode == "pad") {
    if (pad.size() != 4) b.fail(n, "pad must have 1 or 4 values");
    pads = {pad[0], pad[2], pad[1], pad[3]};
  }
  b.add("Conv", {b.name(n.inputs[0]), b.name(n.inputs[1])}, {b.name(n.outputs.at(0))},
        {{"kernel_shape", std::vector<int64_t>{w[2], w[3]}},
         {"strides", std::vector<int64_t>{sh, sw}},
         {"dilations", std::vector<int64_t>{dh, dw}},
         {"group", group},
         {"pads", pads}});
}

OnnxExportFn export_pool(bool is_max) {
  return [is_max](OnnxBuilder& b, const ir::Node& n) {
    const Shape& x = shape_of(b, n.inputs.at(0));
    if (x.rank() != 4) b.fail(n, "input must be NCHW");
    const auto [kh, kw, sh, sw, mode] = checked(b, n, [&] {
      require_nchw(n.attrs, n.op);
      const auto [kh, kw] = attr_hw(n.attrs, n.op, "kernel_size", 1);
      const auto [sh, sw] = attr_hw(n.attrs, n.op, "strides", 1);
      return std::tuple{kh, kw, sh, sw, attr_pad_mode(n.attrs, n.op, "valid")};
    });
    if (mode == "pad") b.fail(n, "pad_mode 'pad' is not a mode of " + n.op);
    std::vector<int64_t> pads(4, 0);
    if (mode == "same") {
      std::tie(pads[0], pads[2]) = same_pads(x[2], kh, sh, 1);
      std::tie(pads[1], pads[3]) = same_pads(x[3], kw, sw, 1);
    }
    OnnxAttrs attrs = {{"kernel_shape", std::vector<int64_t>{kh, kw}},
                       {"strides", std::vector<int64_t>{sh, sw}},
                       {"pads", pads}};
    // MindSpore's AvgPool averages the pixels inside the input only.
    if (!is_max) attrs.push_back({"count_include_pad", int64_t{0}});
    b.add(is_max ? "MaxPool" : "AveragePool", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))},
          attrs);
  };
}

void export_bias_add(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = shape_of(b, n.inputs.at(0));
  std::string bias = b.name(n.inputs.at(1));
  if (x.rank() > 2) {  // bias runs along dimension 1: [C] → [C, 1, …, 1]
    std::vector<int64_t> dims(x.rank() - 1, 1);
    dims[0] = x[1];
    const std::string shaped = b.fresh(bias + "_as_" + std::to_string(x.rank() - 1) + "d");
    b.add("Reshape", {bias, b.ints(shaped + "_shape", dims)}, {shaped});
    bias = shaped;
  }
  b.add("Add", {b.name(n.inputs[0]), bias}, {b.name(n.outputs.at(0))});
}

void export_reshape(OnnxBuilder& b, const ir::Node& n) {
  const Shape& y = shape_of(b, n.outputs.at(0));
  const bool has_zero = std::find(y.begin(), y.end(), 0) != y.end();
  const std::string out = b.name(n.outputs[0]);
  OnnxAttrs attrs;
  if (has_zero) attrs.push_back({"allowzero", int64_t{1}});
  b.add("Reshape", {b.name(n.inputs.at(0)), b.ints(out + "_shape", y.dims())}, {out}, attrs);
}

void export_batch_norm(OnnxBuilder& b, const ir::Node& n) {
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (b.used(n.outputs[k]))
      b.fail(n, "output " + std::to_string(k) +
                    " (batch statistics) is used; ONNX's inference BatchNormalization has only y");
  const double eps = checked(b, n, [&] {
    if (attr_bool(n.attrs, "BatchNorm", "is_training", false))
      throw ValueError(ErrorCode::kUnsupported, "training mode (is_training) cannot be exported");
    require_nchw(n.attrs, "BatchNorm");
    return attr_double(n.attrs, "BatchNorm", "epsilon", 1e-5);
  });
  std::vector<std::string> in;
  for (int v : n.inputs) in.push_back(b.name(v));
  b.add("BatchNormalization", in, {b.name(n.outputs.at(0))},
        {{"epsilon", static_cast<float>(eps)}});
}

OnnxExportFn export_softmax(std::string op_type) {
  return [op_type](OnnxBuilder& b, const ir::Node& n) {
    const auto axes = checked(b, n, [&] { return attr_int_list(n.attrs, n.op, "axis", {-1}); });
    if (axes.size() != 1) b.fail(n, "exactly one axis can be written");
    b.add(op_type, {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"axis", axes[0]}});
  };
}

void export_gelu(OnnxBuilder& b, const ir::Node& n) {
  const int xv = n.inputs.at(0);
  const DType dt = b.info(xv).dtype;
  const std::string x = b.name(xv), y = b.name(n.outputs.at(0));
  auto tmp = [&](const std::string& s) { return b.fresh(y + "/" + s); };
  const std::string x2 = tmp("x2"), x3 = tmp("x3"), cx3 = tmp("cx3"), inner = tmp("inner"),
                    scaled = tmp("scaled"), th = tmp("tanh"), one_p = tmp("one_plus"),
                    half_x = tmp("half_x");
  b.add("Mul", {x, x}, {x2});
  b.add("Mul", {x2, x}, {x3});
  b.add("Mul", {x3, b.scalar(y + "/c", 0.044715, dt)}, {cx3});
  b.add("Add", {x, cx3}, {inner});
  b.add("Mul", {inner, b.scalar(y + "/sqrt_2_over_pi", std::sqrt(2.0 / M_PI), dt)}, {scaled});
  b.add("Tanh", {scaled}, {th});
  b.add("Add", {th, b.scalar(y + "/one", 1.0, dt)}, {one_p});
  b.add("Mul", {x, b.scalar(y + "/half", 0.5, dt)}, {half_x});
  b.add("Mul", {half_x, one_p}, {y});
}

void export_batch_matmul(OnnxBuilder& b, const ir::Node& n) {
  const auto [ta, tb] = checked(b, n, [&] {
    return std::pair{attr_bool(n.attrs, "BatchMatMul", "transpose_a", false),
                     attr_bool(n.attrs, "BatchMatMul", "transpose_b", false)};
  });
  auto maybe_t = [&](int v, bool t) {
    if (!t) return b.name(v);
    const size_t r = shape_of(b, v).rank();
    std::vector<int64_t> perm(r);
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[r - 1], perm[r - 2]);
    const std::string out = b.fresh(b.name(v) + "_T");
    b.add("Transpose", {b.name(v)}, {out}, {{"perm", perm}});
    return out;
  };
  const std::string a = maybe_t(n.inputs.at(0), ta), c = maybe_t(n.inputs.at(1), tb);
  b.add("MatMul", {a, c}, {b.name(n.outputs.at(0))});
}

void export_transpose(OnnxBuilder& b, const ir::Node& n) {
  const int64_t r = static_cast<int64_t>(shape_of(b, n.inputs.at(0)).rank());
  auto perm = checked(b, n, [&] { return attr_int_list(n.attrs, "Transpose", "perm"); });
  for (auto& p : perm) p = checked(b, n, [&] { return normalize_axis("Transpose", p, r); });
  b.add("Transpose", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))}, {{"perm", perm}});
}

void export_expand_dims(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis =
      checked(b, n, [&] { return attr_scalar_int(n.attrs, "ExpandDims", "axis"); });
  const std::string out = b.name(n.outputs.at(0));
  b.add("Unsqueeze", {b.name(n.inputs.at(0)), b.ints(out + "_axes", {axis})}, {out});
}

void export_squeeze(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = shape_of(b, n.inputs.at(0));
  auto axes = checked(b, n, [&] { return attr_int_list(n.attrs, "Squeeze", "axis", {}); });
  if (axes.empty())  // () means every dimension of size 1
    for (size_t i = 0; i < x.rank(); ++i)
      if (x[i] == 1) axes.push_back(static_cast<int64_t>(i));
  const std::string out = b.name(n.outputs.at(0));
  if (axes.empty()) {
    b.add("Identity", {b.name(n.inputs[0])}, {out});
    return;
  }
  b.add("Squeeze", {b.name(n.inputs[0]), b.ints(out + "_axes", axes)}, {out});
}

void export_concat(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = checked(b, n, [&] { return attr_scalar_int(n.attrs, "Concat", "axis", 0); });
  std::vector<std::string> in;
  for (int v : n.inputs) in.push_back(b.name(v));
  b.add("Concat", in, {b.name(n.outputs.at(0))}, {{"axis", axis}});
}

void export_gather(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = checked(b, n, [&] {
    if (attr_scalar_int(n.attrs, "Gather", "batch_dims", 0) != 0)
      throw ValueError(ErrorCode::kUnsupported, "batch_dims other than 0");
    return attr_scalar_int(n.attrs, "Gather", "axis");
  });
  b.add("Gather", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
        {{"axis", axis}});
}

// Pad: ONNX wants all the befores, then all the afters; a fill other than 0 is an input of x's
// dtype. Modes constant, reflect and edge are ONNX's own; symmetric has no ONNX spelling.
void export_pad(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = shape_of(b, n.inputs.at(0));
  const auto flat = checked(b, n, [&] { return attr_int_list(n.attrs, "Pad", "paddings"); });
  std::string mode = "constant";
  if (const auto m = n.attrs.find("mode"); m != n.attrs.end()) {
    const auto* s = std::get_if<std::string>(&m->second);
    if (s == nullptr) b.fail(n, "attribute 'mode' is not a string");
    mode = *s;
  }
  if (mode == "symmetric")
    b.fail(n, "Pad mode 'symmetric' has no ONNX spelling (ONNX pads constant, reflect, edge)");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    b.fail(n, "Pad mode '" + mode + "' is not one of constant, reflect, edge");
  if (flat.size() != 2 * x.rank()) b.fail(n, "paddings do not match the input's rank");
  std::vector<int64_t> pads(flat.size());
  for (size_t d = 0; d < x.rank(); ++d) {
    pads[d] = flat[2 * d];
    pads[x.rank() + d] = flat[2 * d + 1];
  }
  const std::string out = b.name(n.outputs.at(0));
  std::vector<std::string> in{b.name(n.inputs[0]), b.ints(out + "_pads", pads)};
  if (const auto v = n.attrs.find("value"); v != n.attrs.end()) {
    const double fill = checked(b, n, [&] { return attr_double(n.attrs, "Pad", "value", 0.0); });
    if (fill != 0)
      in.push_back(b.constant(out + "_value",
                              Tensor::scalar<double>(fill).to(b.info(n.inputs[0]).dtype)));
  }
  b.add("Pad", in, {out}, {{"mode", mode}});
}

void export_tile(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = shape_of(b, n.inputs.at(0));
  const auto mult = checked(b, n, [&] { return attr_int_list(n.attrs, "Tile", "multiples"); });
  std::string in = b.name(n.inputs[0]);
  const std::string out = b.name(n.outputs.at(0));
  if (mult.size() > x.rank()) {  // ONNX's Tile wants one repeat per dimension
    std::vector<int64_t> dims(mult.size() - x.rank(), 1);
    dims.insert(dims.end(), x.begin(), x.end());
    const std::string padded = b.fresh(in + "_rank" + std::to_string(mult.size()));
    b.add("Reshape", {in, b.ints(padded + "_shape", dims)}, {padded});
    in = padded;
  }
  b.add("Tile", {in, b.ints(out + "_repeats", mult)}, {out});
}

OnnxExportFn export_reduce(bool is_mean) {
  return [is_mean](OnnxBuilder& b, const ir::Node& n) {
    const auto [axes, keep, skip] = checked(b, n, [&] {
      return std::tuple{attr_int_list(n.attrs, n.op, "axis", {}),
                        attr_bool(n.attrs, n.op, "keep_dims", false),
                        attr_bool(n.attrs, n.op, "skip_mode", false)};
    });
    const std::string x = b.name(n.inputs.at(0)), out = b.name(n.outputs.at(0));
    if (axes.empty() && skip) {
      b.add("Identity", {x}, {out});
      return;
    }
    OnnxAttrs attrs = {{"keepdims", int64_t{keep}}};
    if (is_mean) {  // opset 17: ReduceMean's axes are an attribute (an input from 18)
      if (!axes.empty()) attrs.push_back({"axes", axes});
      b.add("ReduceMean", {x}, {out}, attrs);
    } else {
      std::vector<std::string> in = {x};
      if (!axes.empty()) in.push_back(b.ints(out + "_axes", axes));
      b.add("ReduceSum", in, {out}, attrs);
    }
  };
}

void register_exports(OpTable& t) {
  t.set_onnx_export("MatMul", [](OnnxBuilder& b, const ir::Node& n) {
    const auto [ta, tb] = checked(b, n, [&] {
      return std::pair{attr_bool(n.attrs, "MatMul", "transpose_a", false),
                       attr_bool(n.attrs, "MatMul", "transpose_b", false)};
    });
    b.add("Gemm", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
          {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}});
  });
  t.set_onnx_export("BiasAdd", export_bias_add);
  t.set_onnx_export("ReLU", same_name("Relu"));
  t.set_onnx_export("Flatten", [](OnnxBuilder& b, const ir::Node& n) {
    b.add("Flatten", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"axis", int64_t{1}}});
  });
  t.set_onnx_export("Reshape", export_reshape);
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Sigmoid", "Tanh", "Abs"})
    t.set_onnx_export(op, same_name(op));
  t.set_onnx_export("Conv2D", export_conv);
  t.set_onnx_export("MaxPool", export_pool(true));
  t.set_onnx_export("AvgPool", export_pool(false));
  t.set_onnx_export("BatchNorm", export_batch_norm);
  t.set_onnx_export("Softmax", export_softmax("Softmax"));
  t.set_onnx_export("LogSoftmax", export_softmax("LogSoftmax"));
  t.set_onnx_export("GeLU", export_gelu);
  t.set_onnx_export("BatchMatMul", export_batch_matmul);
  t.set_onnx_export("Transpose", export_transpose);
  t.set_onnx_export("ExpandDims", export_expand_dims);
  t.set_onnx_export("Squeeze", export_squeeze);
  t.set_onnx_export("Concat", export_concat);
  t.set_onnx_export("Gather", export_gather);
  t.set_onnx_export("Tile", export_tile);
  t.set_onnx_export("Pad", export_pad);
  t.set_onnx_export("ReduceSum", export_reduce(false));
  t.set_onnx_export("ReduceMean", export_reduce(true));
  // src/ops/elementwise_ops.cpp
  for (const char* op :
       {"Erf", "Sqrt", "Exp", "Log", "Reciprocal", "Neg", "Pow", "Equal", "Greater", "Less"})
    t.set_onnx_export(op, same_name(op));
  t.set_onnx_export("Minimum", same_name("Min"));
  t.set_onnx_export("Maximum", same_name("Max"));
  t.set_onnx_export("Select", same_name("Where"));
  t.set_onnx_export("ReduceMax", [](OnnxBuilder& b, const ir::Node& n) {
    const auto [axes, keep] = checked(b, n, [&] {
      return std::pair{attr_int_list(n.attrs, n.op, "axis", {}),
                       attr_bool(n.attrs, n.op, "keep_dims", false)};
    });
    OnnxAttrs attrs = {{"keepdims", int64_t{keep}}};
    if (!axes.empty()) attrs.push_back({"axes", axes});  // an attribute until opset 18
    b.add("ReduceMax", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, attrs);
  });
  t.set_onnx_export("Cast", [](OnnxBuilder& b, const ir::Node& n) {
    const DType to = b.info(n.outputs.at(0)).dtype;
    const auto code = formats::dtype_to_onnx(to);
    if (!code) b.fail(n, "cast to " + std::string(mindspore_name(to)) + " has no ONNX type");
    b.add("Cast", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"to", static_cast<int64_t>(*code)}});
  });
}

// ============================================================================================
// Import
// ============================================================================================

Tensor scalar_like(double v, DType dt) { return Tensor::scalar(v).to(dt); }

OnnxImportFn unary(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(1, 1);
    m.set_output(0, m.emit1(op, {m.input(0)}));
  };
}

OnnxImportFn binary(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(2, 2);
    m.set_output(0, m.emit1(op, {m.input(0), m.input(1)}));
  };
}

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

void import_matmul(OnnxImporter& m) {
  m.require_inputs(2, 2);
  int a = m.input(0), b = m.input(1);
  const int64_t ra = m.rank(a), rb = m.rank(b);
  if (ra == 0 || rb == 0) m.fail("operands must have rank >= 1");
  // NumPy's rules: a 1-D operand gets a dimension added, and removed from the result.
  if (ra == 1) a = m.emit1("ExpandDims", {a}, {{"axis", int64_t{0}}});
  if (rb == 1) b = m.emit1("ExpandDims", {b}, {{"axis", int64_t{-1}}});
  const bool two_d = m.rank(a) == 2 && m.rank(b) == 2;
  int y;
  if (m.rank(a) > 2 && m.rank(b) == 2) {
    // (…, M, K) · (K, N), as torch writes every Linear on a sequence: one 2-D MatMul between
    // Reshapes. (MindSpore 2.10's CPU BatchMatMul returns NaN for this rank mix.)
    const Shape sa = m.info(a).shape;
    const int64_t k = sa[sa.rank() - 1], n = m.info(b).shape[1];
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < sa.rank(); ++i) rows *= sa[i];
    std::vector<int64_t> out(sa.begin(), sa.end());
    out.back() = n;
    const int a2 = m.emit1("Reshape", {a}, {{"shape", std::vector<int64_t>{rows, k}}});
    const int y2 = m.emit1("MatMul", {a2, b}, {{"transpose_a", false}, {"transpose_b", false}});
    y = m.emit1("Reshape", {y2}, {{"shape", out}});
  } else {
    y = m.emit1(two_d ? "MatMul" : "BatchMatMul", {a, b},
                {{"transpose_a", false}, {"transpose_b", false}});
  }
  if (ra == 1) y = m.emit1("Squeeze", {y}, {{"axis", std::vector<int64_t>{m.rank(y) - 2}}});
  if (rb == 1) y = m.emit1("Squeeze", {y}, {{"axis", std::vector<int64_t>{m.rank(y) - 1}}});
  m.set_output(0, y);
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

// Pads (before, after) per spatial dimension from auto_pad / pads, as ONNX defines them.
struct Spatial {
  int64_t in, k, s, d, before, after;
};

std::vector<Spatial> spatial(OnnxImporter& m, const Shape& x, int64_t kh, int64_t kw) {
  const auto strides = m.attr_ints("strides").value_or(std::vector<int64_t>{1, 1});
  const auto dil = m.attr_ints("dilations").value_or(std::vector<int64_t>{1, 1});
  if (strides.size() != 2 || dil.size() != 2) m.fail("strides and dilations must have 2 values");
  std::vector<Spatial> sp = {{x[2], kh, strides[0], dil[0], 0, 0},
                             {x[3], kw, strides[1], dil[1], 0, 0}};
  for (const auto& s : sp)
    if (s.k < 1 || s.s < 1 || s.d < 1) m.fail("kernel, strides and dilations must be positive");
  const std::string auto_pad = m.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const auto pads = m.attr_ints("pads").value_or(std::vector<int64_t>(4, 0));
    if (pads.size() != 4) m.fail("pads must have 4 values, has " + std::to_string(pads.size()));
    for (int64_t p : pads)
      if (p < 0) m.fail("pads must be non-negative");
    sp[0].before = pads[0], sp[1].before = pads[1], sp[0].after = pads[2], sp[1].after = pads[3];
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (m.has_attr("pads")) m.fail("pads must not be given with auto_pad " + auto_pad);
    for (auto& s : sp) {
      std::tie(s.before, s.after) = same_pads(s.in, s.k, s.s, s.d);
      if (auto_pad == "SAME_LOWER") std::swap(s.before, s.after);
    }
  } else if (auto_pad != "VALID") {
    m.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  }
  return sp;
}

void import_conv(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x = m.input(0), w = m.input(1);
  const Shape& xs = m.info(x).shape;
  const Shape& ws = m.info(w).shape;
  if (xs.rank() != 4 || ws.rank() != 4)
    m.unsupported("only 2-D convolution (4-D input and weight) is supported");
  if (auto k = m.attr_ints("kernel_shape");
      k && (k->size() != 2 || (*k)[0] != ws[2] || (*k)[1] != ws[3]))
    m.fail("kernel_shape disagrees with the weight's shape " + ws.str());
  const auto sp = spatial(m, xs, ws[2], ws[3]);
  const int64_t group = m.attr_int("group", 1);
  std::string mode = "pad";
  std::vector<int64_t> pad = {sp[0].before, sp[0].after, sp[1].before, sp[1].after};
  if (pad == std::vector<int64_t>(4, 0)) mode = "valid";
  ir::Attrs attrs = {{"out_channel", ws[0]},
                     {"kernel_size", std::vector<int64_t>{ws[2], ws[3]}},
                     {"mode", int64_t{1}},
                     {"pad_mode", mode},
                     {"pad", pad},
                     {"stride", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                     {"dilation", std::vector<int64_t>{1, 1, sp[0].d, sp[1].d}},
                     {"group", group},
                     {"groups", group},
                     {"data_format", std::string("NCHW")}};
  int y = m.emit1("Conv2D", {x, w}, std::move(attrs));
  if (m.num_inputs() == 3 && m.has_input(2))
    y = m.emit1("BiasAdd", {y, m.input(2)}, {{"data_format", std::string("NCHW")}});
  m.set_output(0, y);
}

// Concat of fill constants around `x` along `axis`: explicit pooling pads (−∞ for a max).
int pad_with(OnnxImporter& m, int x, size_t axis, int64_t before, int64_t after, double fill) {
  std::vector<int> parts;
  const DType dt = m.info(x).dtype;
  auto block = [&](int64_t n) {
    std::vector<int64_t> dims = m.info(x).shape.dims();
    dims[axis] = n;
    const Shape s(dims);
    const auto numel = s.checked_numel();
    if (!numel || *numel > formats::kOnnxMaxConstElements)
      m.unsupported("padding block " + s.str() + " is too large");
    m.charge_generated(static_cast<uint64_t>(*numel) * 8);  // the float64 block, then its cast
    Tensor t = Tensor(DType::Float64, s);
    std::fill_n(t.data<double>(), *numel, fill);
    return m.constant(t.to(dt));
  };
  if (before > 0) parts.push_back(block(before));
  parts.push_back(x);
  if (after > 0) parts.push_back(block(after));
  if (parts.size() == 1) return x;
  return m.emit1("Concat", parts, {{"axis", static_cast<int64_t>(axis)}});
}

void import_pool(OnnxImporter& m, bool is_max) {
  m.require_inputs(1, 1);
  const int x0 = m.input(0);
  const Shape xs = m.info(x0).shape;
  if (xs.rank() != 4) m.unsupported("only 2-D pooling (NCHW input) is supported");
  const auto k = m.attr_ints("kernel_shape");
  if (!k) m.fail("kernel_shape is required");
  if (k->size() != 2) m.fail("kernel_shape must have 2 values");
  auto sp = spatial(m, xs, (*k)[0], (*k)[1]);
  for (const auto& s : sp)
    if (s.d != 1) m.unsupported("dilated pooling is not supported");
  const bool include_pad = !is_max && m.attr_int("count_include_pad", 0) != 0;
  if (m.attr_int("ceil_mode", 0) != 0) {
    for (const auto& s : sp) {
      const int64_t span = s.in + s.before + s.after - s.k;
      if (span >= 0 && span % s.s != 0)
        m.unsupported("ceil_mode with a partial last window is not supported");
    }
  }
  const bool no_pad = std::all_of(sp.begin(), sp.end(),
                                  [](const Spatial& s) { return s.before == 0 && s.after == 0; });
  bool as_same = !include_pad;
  for (const auto& s : sp) {
    const auto [b, a] = same_pads(s.in, s.k, s.s, 1);
    as_same = as_same && s.before == b && s.after == a;
  }
  int x = x0;
  std::string mode = "VALID";
  if (!no_pad && as_same) {
    mode = "SAME";
  } else if (!no_pad) {
    if (!is_max && !include_pad)
      m.unsupported(
          "AveragePool with count_include_pad=0 and padding other than SAME is not "
          "supported");
    // Pad explicitly: −∞ never wins a max; zeros count in an average that includes padding.
    const double fill = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    x = pad_with(m, x, 2, sp[0].before, sp[0].after, fill);
    x = pad_with(m, x, 3, sp[1].before, sp[1].after, fill);
  }
  const int y = m.emit1(is_max ? "MaxPool" : "AvgPool", {x},
                        {{"kernel_size", std::vector<int64_t>{1, 1, sp[0].k, sp[1].k}},
                         {"strides", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                         {"pad_mode", mode},
                         {"data_format", std::string("NCHW")}});
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

void import_batch_norm(OnnxImporter& m) {
  m.require_inputs(5, 5);
  if (m.attr_int("training_mode", 0) != 0)
    m.unsupported("training_mode=1; cellar runs inference only");
  if (m.has_attr("spatial") && m.attr_int("spatial", 1) != 1)
    m.unsupported("spatial=0 is not supported");
  std::vector<int> in;
  for (size_t i = 0; i < 5; ++i) in.push_back(m.input(i));
  const auto ys = m.emit("BatchNorm", in,
                         {{"epsilon", m.attr_float("epsilon", 1e-5)},
                          {"momentum", 1.0 - m.attr_float("momentum", 0.9)},
                          {"is_training", false},
                          {"data_format", std::string("NCHW")}});
  m.set_output(0, ys.at(0));
}

void import_flatten(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  const Shape& s = m.info(x).shape;
  const int64_t r = static_cast<int64_t>(s.rank());
  int64_t axis = m.attr_int("axis", 1);
  if (axis < -r || axis > r) m.fail("axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += r;
  if (axis == 1 && r >= 1) {
    m.set_output(0, m.emit1("Flatten", {x}));
    return;
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= s[static_cast<size_t>(i)];
  m.set_output(0, m.emit1("Reshape", {x}, {{"shape", std::vector<int64_t>{outer, inner}}}));
}

void import_reshape(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  const Shape& s = m.info(x).shape;
  auto dims = m.const_ints(1);
  const bool allowzero = m.attr_int("allowzero", 0) != 0;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && !allowzero) {  // 0 copies the input's dimension
      if (i >= s.rank())
        m.fail("shape has 0 at index " + std::to_string(i) + " beyond the input's rank");
      dims[i] = s[i];
    } else if (dims[i] < -1) {
      m.fail("shape has the invalid dimension " + std::to_string(dims[i]));
    }
  }
  m.set_output(0, m.emit1("Reshape", {x}, {{"shape", dims}}));
}

void import_transpose(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  auto perm = m.attr_ints("perm");
  if (!perm) {  // default: reverse the dimensions
    perm.emplace();
    for (int64_t i = m.rank(x); i-- > 0;) perm->push_back(i);
  }
  m.set_output(0, m.emit1("Transpose", {x}, {{"perm", *perm}}));
}

void import_unsqueeze(OnnxImporter& m) {
  m.require_inputs(1, 2);
  int x = m.input(0);
  const auto axes = m.ints_attr_or_input("axes", 1, 13);
  if (!axes || axes->empty()) m.fail("axes are required");
  const int64_t out_rank = m.rank(x) + static_cast<int64_t>(axes->size());
  std::vector<int64_t> norm;
  for (int64_t a : *axes) norm.push_back(m.axis(a, out_rank));
  std::sort(norm.begin(), norm.end());
  if (std::adjacent_find(norm.begin(), norm.end()) != norm.end()) m.fail("axes repeat an axis");
  for (int64_t a : norm) x = m.emit1("ExpandDims", {x}, {{"axis", a}});
  m.set_output(0, x);
}

void import_squeeze(OnnxImporter& m) {
  m.require_inputs(1, 2);
  const int x = m.input(0);
  auto axes = m.ints_attr_or_input("axes", 1, 13).value_or(std::vector<int64_t>{});
  for (auto& a : axes) a = m.axis(a, m.rank(x));
  m.set_output(0, m.emit1("Squeeze", {x}, {{"axis", axes}}));
}

void import_concat(OnnxImporter& m) {
  if (m.num_inputs() == 0) m.fail("needs at least one input");
  if (!m.has_attr("axis")) m.fail("attribute 'axis' is required");
  std::vector<int> in;
  for (size_t i = 0; i < m.num_inputs(); ++i) in.push_back(m.input(i));
  m.set_output(0, m.emit1("Concat", in, {{"axis", m.attr_int("axis", 0)}}));
}

void import_gather(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int data = m.input(0);
  const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(data));
  int idx = m.input(1);
  // ONNX allows negative indices; cellar's Gather wants them in [0, n): resolve constant ones.
  if (auto c = m.constant_input(1);
      c && (c->dtype() == DType::Int64 || c->dtype() == DType::Int32)) {
    const int64_t n = m.info(data).shape[static_cast<size_t>(axis)];
    Tensor t = c->to(DType::Int64);
    bool changed = false;
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t& v = t.data<int64_t>()[i];
      if (v < -n || v >= n)
        m.fail("index " + std::to_string(v) + " is out of range for size " + std::to_string(n));
      if (v < 0) v += n, changed = true;
    }
    if (changed) idx = m.constant(t.to(c->dtype()));
  }
  m.set_output(0, m.emit1("Gather", {data, idx}, {{"axis", axis}}));
}

void import_tile(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  const auto reps = m.const_ints(1);
  if (static_cast<int64_t>(reps.size()) != m.rank(x))
    m.fail("repeats has " + std::to_string(reps.size()) + " values for rank " +
           std::to_string(m.rank(x)));
  m.set_output(0, m.emit1("Tile", {x}, {{"multiples", reps}}));
}

OnnxImportFn import_reduce(std::string op, int64_t axes_moved_in) {
  return [op, axes_moved_in](OnnxImporter& m) {
    m.require_inputs(1, 2);
    const int x = m.input(0);
    const auto axes = m.ints_attr_or_input("axes", 1, axes_moved_in);
    const bool keep = m.attr_int("keepdims", 1) != 0;
    if ((!axes || axes->empty()) && m.attr_int("noop_with_empty_axes", 0) != 0) {
      m.set_output(0, x);
      return;
    }
    std::vector<int64_t> norm;
    for (int64_t a : axes.value_or(std::vector<int64_t>{})) norm.push_back(m.axis(a, m.rank(x)));
    m.set_output(0, m.emit1(op, {x}, {{"axis", norm}, {"keep_dims", keep}}));
  };
}

OnnxImportFn import_softmax(std::string op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(1, 1);
    const int x = m.input(0);
    const int64_t axis = m.axis(m.attr_int("axis", -1), m.rank(x));
    m.set_output(0, m.emit1(op, {x}, {{"axis", std::vector<int64_t>{axis}}}));
  };
}

void import_gelu(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const std::string approx = m.attr_string("approximate", "none");
  const int x = m.input(0);
  if (approx == "tanh") {
    m.set_output(0, m.emit1("GeLU", {x}));
    return;
  }
  if (approx != "none") m.fail("approximate must be 'none' or 'tanh', not '" + approx + "'");
  // Exact: x · (erf(x / √2) + 1) · 0.5, as ops::gelu(x, false) and MindSpore build it.
  const DType dt = m.info(x).dtype;
  auto c = [&](double v) { return m.constant(Tensor::scalar<double>(v).to(dt)); };
  const int e = m.emit1("Erf", {m.emit1("Div", {x, c(std::sqrt(2.0))})});
  m.set_output(0, m.emit1("Mul", {m.emit1("Mul", {x, m.emit1("Add", {e, c(1.0)})}), c(0.5)}));
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

void import_cast(OnnxImporter& m) {
  m.require_inputs(1, 1);
  if (!m.has_attr("to")) m.fail("attribute 'to' is required");
  const auto dt = formats::dtype_from_onnx(m.attr_int("to", 0));
  if (!dt) m.unsupported("cast to data type " + std::to_string(m.attr_int("to", 0)));
  if (auto c = m.constant_input(0)) {
    m.set_output(0, m.constant(c->to(*dt)));
    return;
  }
  const int x = m.input(0);
  if (m.info(x).dtype == *dt) {
    m.set_output(0, x);
    return;
  }
  m.set_output(0, m.emit1("Cast", {x}, {{"dst_type", std::string(mindspore_name(*dt))}}));
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
  if (!numel || *numel > formats::kOnnxMaxConstElements)
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

// Min / Max: one or more inputs, folded pairwise (all broadcast together).
OnnxImportFn import_minmax(std::string op) {
  return [op](OnnxImporter& m) {
    if (m.num_inputs() < 1) m.fail("needs at least one input");
    int acc = m.input(0);
    for (size_t i = 1; i < m.num_inputs(); ++i) acc = m.emit1(op, {acc, m.input(i)});
    m.set_output(0, acc);
  };
}

// Clip(x, min?, max?) (opset 11+: bounds are optional inputs) = Minimum(Maximum(x, min), max).
void import_clip(OnnxImporter& m) {
  m.require_inputs(1, 3);
  int y = m.input(0);
  if (m.has_input(1)) y = m.emit1("Maximum", {y, m.input(1)});
  if (m.has_input(2)) y = m.emit1("Minimum", {y, m.input(2)});
  m.set_output(0, y);
}

// LayerNormalization (opset 17): normalise over axes [axis, rank) with the biased variance,
// y = (x − mean) / √(var + ε) · scale + B, written in ReduceMean/Sub/Mul/Add/Sqrt/Div (what
// torch computes, within float rounding). Mean and InvStdDev outputs are not produced.
void import_layer_norm(OnnxImporter& m) {
  m.require_inputs(2, 3);
  for (size_t k = 1; k < m.num_outputs(); ++k)
    if (m.has_output(k)) m.unsupported("outputs Mean and InvStdDev are not supported");
  const int x = m.input(0);
  const int64_t r = m.rank(x);
  if (r == 0) m.fail("input must have rank >= 1");
  const int64_t axis = m.axis(m.attr_int("axis", -1), r);
  const DType dt = m.info(x).dtype;
  if (dt != DType::Float32 && dt != DType::Float64) m.unsupported("input must be float");
  if (m.has_attr("stash_type") && m.attr_int("stash_type", 1) != 1)
    m.unsupported("stash_type other than 1 (float32) is not supported");
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < r; ++a) axes.push_back(a);
  const ir::Attrs reduce = {{"axis", axes}, {"keep_dims", true}};
  const int mean = m.emit1("ReduceMean", {x}, reduce);
  const int d = m.emit1("Sub", {x, mean});
  const int var = m.emit1("ReduceMean", {m.emit1("Mul", {d, d})}, reduce);
  const double eps = m.attr_float("epsilon", 1e-5);
  const int den = m.emit1("Sqrt", {m.emit1("Add", {var, m.constant(scalar_like(eps, dt))})});
  for (size_t k = 1; k < m.num_inputs(); ++k)
    if (m.has_input(k) && m.rank(m.input(k)) > r - axis)
      m.fail(std::string(k == 1 ? "Scale" : "B") + " has more dimensions than the normalized axes");
  int y = m.emit1("Mul", {m.emit1("Div", {d, den}), m.input(1)});
  if (m.has_input(2)) y = m.emit1("Add", {y, m.input(2)});
  if (m.info(y).shape != m.info(x).shape)
    m.fail("Scale and B must broadcast to the normalized axes " + m.info(x).shape.str());
  m.set_output(0, y);
}

// Elements [indices…] of `x` along `axis` (slicing a static shape is a Gather of constant
// indices); `x` itself when the indices are the whole axis in order.
int take(OnnxImporter& m, int x, int64_t axis, const std::vector<int64_t>& indices) {
  const int64_t n = m.info(x).shape[static_cast<size_t>(axis)];
  bool whole = static_cast<int64_t>(indices.size()) == n;
  for (size_t i = 0; whole && i < indices.size(); ++i)
    whole = indices[i] == static_cast<int64_t>(i);
  if (whole) return x;
  const int idx =
      m.constant(Tensor::from_vector(indices, Shape{static_cast<int64_t>(indices.size())}));
  return m.emit1("Gather", {x, idx}, {{"axis", axis}});
}

std::vector<int64_t> range(int64_t begin, int64_t end, int64_t step = 1) {
  std::vector<int64_t> r;
  for (int64_t i = begin; step > 0 ? i < end : i > end; i += step) r.push_back(i);
  return r;
}

// Slice with constant starts/ends/axes/steps (ONNX's clamping rules), as Gathers.
void import_slice(OnnxImporter& m) {
  m.require_inputs(3, 5);
  int x = m.input(0);
  const int64_t r = m.rank(x);
  const auto starts = m.const_ints(1), ends = m.const_ints(2);
  std::vector<int64_t> axes, steps(starts.size(), 1);
  if (m.num_inputs() > 3 && m.has_input(3))
    axes = m.const_ints(3);
  else
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (m.num_inputs() > 4 && m.has_input(4)) steps = m.const_ints(4);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    m.fail("starts, ends, axes and steps must have the same length");
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = m.axis(axes[i], r);
    if (!seen.insert(axis).second) m.fail("axes repeat axis " + std::to_string(axis));
    const int64_t dim = m.info(x).shape[static_cast<size_t>(axis)], step = steps[i];
    if (step == 0) m.fail("steps must not be 0");
    auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -dim ? -dim - 1 : v + dim;  // still below lo when far out
      return std::clamp(v, lo, hi);
    };
    const int64_t b = step > 0 ? norm(starts[i], 0, dim) : norm(starts[i], 0, dim - 1);
    const int64_t e = step > 0 ? norm(ends[i], 0, dim) : norm(ends[i], -1, dim - 1);
    const auto idx = range(b, e, step);
    if (static_cast<int64_t>(idx.size()) > formats::kOnnxMaxConstElements)
      m.unsupported("slice too large");
    x = take(m, x, axis, idx);
  }
  m.set_output(0, x);
}

// Split into the outputs along `axis` (sizes from the `split` input/attribute, or equal parts).
void import_split(OnnxImporter& m) {
  m.require_inputs(1, 2);
  const int x = m.input(0);
  const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(x));
  const int64_t dim = m.info(x).shape[static_cast<size_t>(axis)];
  auto sizes = m.ints_attr_or_input("split", 1, 13).value_or(std::vector<int64_t>{});
  const int64_t parts = static_cast<int64_t>(m.num_outputs());
  if (parts == 0) m.fail("has no outputs");
  if (sizes.empty()) {
    const int64_t chunk = m.opset() >= 18 ? (dim + parts - 1) / parts : dim / parts;
    if (m.opset() < 18 && dim % parts != 0)
      m.fail("dimension " + std::to_string(dim) + " does not split into " + std::to_string(parts) +
             " equal parts");
    for (int64_t k = 0, left = dim; k < parts; ++k, left -= chunk)
      sizes.push_back(std::min(chunk, std::max<int64_t>(left, 0)));
  }
  if (static_cast<int64_t>(sizes.size()) != parts)
    m.fail("split sizes disagree with the output count");
  int64_t begin = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] < 0 || sizes[k] > dim - begin)
      m.fail("split sizes do not add up to dimension " + std::to_string(dim));
    m.set_output(k, take(m, x, axis, range(begin, begin + sizes[k])));
    begin += sizes[k];
  }
  if (begin != dim) m.fail("split sizes do not add up to dimension " + std::to_string(dim));
}

// Pad (modes constant, reflect, edge; opset 19's wrap is refused) as cellar's Pad; negative pads
// crop first (Gather). constant_value matters in constant mode only.
void import_pad(OnnxImporter& m) {
  m.require_inputs(2, 4);
  int x = m.input(0);
  const int64_t r = m.rank(x);
  const std::string mode = m.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    m.unsupported("mode '" + mode + "' (cellar pads constant, reflect, edge)");
  const auto pads = m.const_ints(1);
  double fill = 0;
  if (mode == "constant" && m.num_inputs() > 2 && m.has_input(2)) {
    const auto v = m.constant_input(2);
    if (!v) m.unsupported("constant_value must be a constant");
    if (v->numel() != 1) m.fail("constant_value must hold one value");
    fill = v->to(DType::Float64).item();
  }
  std::vector<int64_t> axes;
  if (m.num_inputs() > 3 && m.has_input(3)) {
    for (int64_t a : m.const_ints(3)) axes.push_back(m.axis(a, r));
  } else {
    for (int64_t a = 0; a < r; ++a) axes.push_back(a);
  }
  if (pads.size() != 2 * axes.size())
    m.fail("pads has " + std::to_string(pads.size()) + " values for " +
           std::to_string(axes.size()) + " axes");
  std::vector<int64_t> flat(2 * static_cast<size_t>(r), 0);  // cellar's (before, after) per dim
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t before = pads[i], after = pads[i + axes.size()];
    const int64_t dim = m.info(x).shape[static_cast<size_t>(axes[i])];
    if (before < 0 || after < 0) {  // crop first
      const int64_t b = std::max<int64_t>(0, -before), e = dim - std::max<int64_t>(0, -after);
      if (b > e) m.fail("negative pads remove more than the dimension");
      x = take(m, x, axes[i], range(b, e));
    }
    flat[2 * static_cast<size_t>(axes[i])] = std::max<int64_t>(0, before);
    flat[2 * static_cast<size_t>(axes[i]) + 1] = std::max<int64_t>(0, after);
  }
  if (std::any_of(flat.begin(), flat.end(), [](int64_t v) { return v != 0; })) {
    ir::Attrs attrs{{"paddings", flat}};
    if (mode != "constant") attrs["mode"] = mode;
    if (fill != 0) attrs["value"] = fill;
    x = m.emit1("Pad", {x}, std::move(attrs));
  }
  m.set_output(0, x);
}

// Expand(x, shape): NumPy broadcasting to `shape` as Reshape (rank) + Tile (size-1 dimensions).
void import_expand(OnnxImporter& m) {
  m.require_inputs(2, 2);
  int x = m.input(0);
  const auto target = m.const_ints(1);
  std::vector<int64_t> in = m.info(x).shape.dims();
  const size_t r = std::max(in.size(), target.size());
  in.insert(in.begin(), r - in.size(), 1);
  std::vector<int64_t> want(r - target.size(), 1);
  want.insert(want.end(), target.begin(), target.end());
  std::vector<int64_t> mult(r, 1);
  for (size_t i = 0; i < r; ++i) {
    if (want[i] != in[i] && want[i] != 1 && in[i] != 1)
      m.fail("cannot broadcast " + m.info(x).shape.str() + " to " + Shape(target).str());
    if (in[i] == 1) mult[i] = want[i];
  }
  if (m.info(x).shape.rank() != r) x = m.emit1("Reshape", {x}, {{"shape", in}});
  if (std::any_of(mult.begin(), mult.end(), [](int64_t v) { return v != 1; }))
    x = m.emit1("Tile", {x}, {{"multiples", mult}});
  m.set_output(0, x);
}

void register_imports(OpTable& t) {
  t.add_onnx_import("Constant", import_constant);
  t.add_onnx_import("Identity", import_identity);
  t.add_onnx_import("Dropout", import_dropout);
  t.add_onnx_import("Relu", unary("ReLU"));
  t.add_onnx_import("Sigmoid", unary("Sigmoid"));
  t.add_onnx_import("Tanh", unary("Tanh"));
  t.add_onnx_import("Abs", unary("Abs"));
  t.add_onnx_import("Add", binary("Add"));
  t.add_onnx_import("Sub", binary("Sub"));
  t.add_onnx_import("Mul", binary("Mul"));
  t.add_onnx_import("Div", binary("Div"));
  t.add_onnx_import("MatMul", import_matmul);
  t.add_onnx_import("Gemm", import_gemm);
  t.add_onnx_import("Conv", import_conv);
  t.add_onnx_import("MaxPool", [](OnnxImporter& m) { import_pool(m, true); });
  t.add_onnx_import("AveragePool", [](OnnxImporter& m) { import_pool(m, false); });
  t.add_onnx_import("GlobalAveragePool", import_global_avg_pool);
  t.add_onnx_import("BatchNormalization", import_batch_norm);
  t.add_onnx_import("Flatten", import_flatten);
  t.add_onnx_import("Reshape", import_reshape);
  t.add_onnx_import("Transpose", import_transpose);
  t.add_onnx_import("Unsqueeze", import_unsqueeze);
  t.add_onnx_import("Squeeze", import_squeeze);
  t.add_onnx_import("Concat", import_concat);
  t.add_onnx_import("Gather", import_gather);
  t.add_onnx_import("Tile", import_tile);
  t.add_onnx_import("ReduceSum", import_reduce("ReduceSum", 13));
  t.add_onnx_import("ReduceMean", import_reduce("ReduceMean", 18));
  t.add_onnx_import("Softmax", import_softmax("Softmax"));
  t.add_onnx_import("LogSoftmax", import_softmax("LogSoftmax"));
  t.add_onnx_import("Gelu", import_gelu);
  t.add_onnx_import("Shape", import_shape);
  t.add_onnx_import("Cast", import_cast);
  t.add_onnx_import("Slice", import_slice);
  t.add_onnx_import("Split", import_split);
  t.add_onnx_import("Pad", import_pad);
  t.add_onnx_import("Expand", import_expand);
  for (const char* op : {"Erf", "Sqrt", "Exp", "Log", "Reciprocal", "Neg"})
    t.add_onnx_import(op, unary(op));
  for (const char* op : {"Pow", "Equal", "Greater", "Less"}) t.add_onnx_import(op, binary(op));
  t.add_onnx_import("Min", import_minmax("Minimum"));
  t.add_onnx_import("Max", import_minmax("Maximum"));
  t.add_onnx_import("Where", [](OnnxImporter& m) {
    m.require_inputs(3, 3);
    m.set_output(0, m.emit1("Select", {m.input(0), m.input(1), m.input(2)}));
  });
  t.add_onnx_import("ReduceMax", import_reduce("ReduceMax", 18));
  t.add_onnx_import("Clip", import_clip);
  t.add_onnx_import("ConstantOfShape", import_constant_of_shape);
  t.add_onnx_import("LayerNormalization", import_layer_norm);
}

}  // namespace

void register_onnx_spellings(OpTable& t) {
  register_exports(t);
  register_imports(t);
}

}  // namespace cellar::ops
