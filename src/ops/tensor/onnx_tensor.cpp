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

void export_reshape(OnnxBuilder& b, const ir::Node& n) {
  const Shape& y = b.shape(n.outputs.at(0));
  const bool has_zero = std::find(y.begin(), y.end(), 0) != y.end();
  const std::string out = b.name(n.outputs[0]);
  OnnxAttrs attrs;
  if (has_zero) attrs.push_back({"allowzero", int64_t{1}});
  b.add("Reshape", {b.name(n.inputs.at(0)), b.ints(out + "_shape", y.dims())}, {out}, attrs);
}

void export_transpose(OnnxBuilder& b, const ir::Node& n) {
  const int64_t r = static_cast<int64_t>(b.shape(n.inputs.at(0)).rank());
  auto perm = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Transpose", "perm"); });
  for (auto& p : perm) p = onnx_checked(b, n, [&] { return normalize_axis("Transpose", p, r); });
  b.add("Transpose", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))}, {{"perm", perm}});
}

void export_expand_dims(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis =
      onnx_checked(b, n, [&] { return attr_int(n.attrs, "ExpandDims", "axis"); });
  const std::string out = b.name(n.outputs.at(0));
  b.add("Unsqueeze", {b.name(n.inputs.at(0)), b.ints(out + "_axes", {axis})}, {out});
}

void export_squeeze(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  auto axes = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Squeeze", "axis", {}); });
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
  const int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, "Concat", "axis", 0); });
  std::vector<std::string> in;
  for (int v : n.inputs) in.push_back(b.name(v));
  b.add("Concat", in, {b.name(n.outputs.at(0))}, {{"axis", axis}});
}

void export_gather(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = onnx_checked(b, n, [&] {
    if (attr_int(n.attrs, "Gather", "batch_dims", 0) != 0)
      throw ValueError(ErrorCode::kUnsupported, "batch_dims other than 0");
    return attr_int(n.attrs, "Gather", "axis");
  });
  b.add("Gather", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
        {{"axis", axis}});
}

// Pad: ONNX wants all the befores, then all the afters; a fill other than 0 is an input of x's
// dtype. Modes constant, reflect and edge are ONNX's own; symmetric has no ONNX spelling.
void export_pad(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const auto flat = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Pad", "paddings"); });
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
    const double fill = onnx_checked(b, n, [&] { return attr_double(n.attrs, "Pad", "value", 0.0); });
    if (fill != 0)
      in.push_back(b.constant(out + "_value",
                              Tensor::scalar<double>(fill).to(b.info(n.inputs[0]).dtype)));
  }
  b.add("Pad", in, {out}, {{"mode", mode}});
}

void export_tile(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const auto mult = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Tile", "multiples"); });
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
      x = m.take(x, axes[i], index_range(b, e));
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

}  // namespace

void attach_onnx_tensor(OpTable& t) {
  t.set_onnx_export("Flatten", [](OnnxBuilder& b, const ir::Node& n) {
    b.add("Flatten", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"axis", int64_t{1}}});
  });
  t.set_onnx_export("Reshape", export_reshape);
  t.set_onnx_export("Transpose", export_transpose);
  t.set_onnx_export("ExpandDims", export_expand_dims);
  t.set_onnx_export("Squeeze", export_squeeze);
  t.set_onnx_export("Concat", export_concat);
  t.set_onnx_export("Gather", export_gather);
  t.set_onnx_export("Tile", export_tile);
  t.set_onnx_export("Pad", export_pad);

  t.add_onnx_import("Flatten", import_flatten);
  t.add_onnx_import("Reshape", import_reshape);
  t.add_onnx_import("Transpose", import_transpose);
  t.add_onnx_import("Unsqueeze", import_unsqueeze);
  t.add_onnx_import("Squeeze", import_squeeze);
  t.add_onnx_import("Concat", import_concat);
  t.add_onnx_import("Gather", import_gather);
  t.add_onnx_import("Tile", import_tile);
  t.add_onnx_import("Pad", import_pad);
}

}  // namespace cellar::ops
