// TRANSITIONAL: the ONNX spellings of this domain's rows, moved out of the old
// src/ops/onnx_spellings.cpp. Each moves into its op's own file (the row's `onnx` and
// `onnx_import` fields) as the domain is split into one file per op; then this file goes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include "ops/attr.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

// Padding (before, after) along one spatial dimension for MindSpore's pad modes.
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
  return {need / 2, need - need / 2};
}

void export_conv(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const Shape& w = b.shape(n.inputs.at(1));
  if (x.rank() != 4 || w.rank() != 4) b.fail(n, "only 2-D convolution (NCHW) is written");
  const auto [sh, sw, dh, dw, group, mode, pad] = onnx_checked(b, n, [&] {
    require_nchw(n.attrs, "Conv2D");
    const auto [sh, sw] = attr_hw(n.attrs, "Conv2D", "stride", 1);
    const auto [dh, dw] = attr_hw(n.attrs, "Conv2D", "dilation", 1);
    const int64_t group = attr_int(n.attrs, "Conv2D", "group",
                                          attr_int(n.attrs, "Conv2D", "groups", 1));
    auto pad = attr_ints(n.attrs, "Conv2D", "pad", {0});
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
    const Shape& x = b.shape(n.inputs.at(0));
    if (x.rank() != 4) b.fail(n, "input must be NCHW");
    const auto [kh, kw, sh, sw, mode] = onnx_checked(b, n, [&] {
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
  const Shape& x = b.shape(n.inputs.at(0));
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

void export_batch_norm(OnnxBuilder& b, const ir::Node& n) {
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (b.used(n.outputs[k]))
      b.fail(n, "output " + std::to_string(k) +
                    " (batch statistics) is used; ONNX's inference BatchNormalization has only y");
  const double eps = onnx_checked(b, n, [&] {
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
    const auto axes = onnx_checked(b, n, [&] { return attr_ints(n.attrs, n.op, "axis", {-1}); });
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
    if (!numel || *numel > kOnnxMaxConstElements)
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

}  // namespace

void attach_onnx_nn(OpTable& t) {
  t.set_onnx_export("MatMul", [](OnnxBuilder& b, const ir::Node& n) {
    const auto [ta, tb] = onnx_checked(b, n, [&] {
      return std::pair{attr_bool(n.attrs, "MatMul", "transpose_a", false),
                       attr_bool(n.attrs, "MatMul", "transpose_b", false)};
    });
    b.add("Gemm", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
          {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}});
  });
  t.set_onnx_export("BiasAdd", export_bias_add);
  t.set_onnx_export("ReLU", onnx_same("Relu"));
  for (const char* op : {"Sigmoid", "Tanh", "Abs"}) t.set_onnx_export(op, onnx_same(op));
  t.set_onnx_export("Conv2D", export_conv);
  t.set_onnx_export("MaxPool", export_pool(true));
  t.set_onnx_export("AvgPool", export_pool(false));
  t.set_onnx_export("BatchNorm", export_batch_norm);
  t.set_onnx_export("Softmax", export_softmax("Softmax"));
  t.set_onnx_export("LogSoftmax", export_softmax("LogSoftmax"));
  t.set_onnx_export("GeLU", export_gelu);

  t.add_onnx_import("Relu", onnx_unary("ReLU"));
  t.add_onnx_import("Sigmoid", onnx_unary("Sigmoid"));
  t.add_onnx_import("Tanh", onnx_unary("Tanh"));
  t.add_onnx_import("Abs", onnx_unary("Abs"));
  t.add_onnx_import("MatMul", import_matmul);
  t.add_onnx_import("Conv", import_conv);
  t.add_onnx_import("MaxPool", [](OnnxImporter& m) { import_pool(m, true); });
  t.add_onnx_import("AveragePool", [](OnnxImporter& m) { import_pool(m, false); });
  t.add_onnx_import("BatchNormalization", import_batch_norm);
  t.add_onnx_import("Softmax", import_softmax("Softmax"));
  t.add_onnx_import("LogSoftmax", import_softmax("LogSoftmax"));
  t.add_onnx_import("Gelu", import_gelu);
}

}  // namespace cellar::ops
