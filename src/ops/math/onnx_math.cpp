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

void export_batch_matmul(OnnxBuilder& b, const ir::Node& n) {
  const auto [ta, tb] = onnx_checked(b, n, [&] {
    return std::pair{attr_bool(n.attrs, "BatchMatMul", "transpose_a", false),
                     attr_bool(n.attrs, "BatchMatMul", "transpose_b", false)};
  });
  auto maybe_t = [&](int v, bool t) {
    if (!t) return b.name(v);
    const size_t r = b.shape(v).rank();
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

OnnxExportFn export_reduce(bool is_mean) {
  return [is_mean](OnnxBuilder& b, const ir::Node& n) {
    const auto [axes, keep, skip] = onnx_checked(b, n, [&] {
      return std::tuple{attr_ints(n.attrs, n.op, "axis", {}),
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

// Min / Max: one or more inputs, folded pairwise (all broadcast together).
OnnxImportFn import_minmax(std::string op) {
  return [op](OnnxImporter& m) {
    if (m.num_inputs() < 1) m.fail("needs at least one input");
    int acc = m.input(0);
    for (size_t i = 1; i < m.num_inputs(); ++i) acc = m.emit1(op, {acc, m.input(i)});
    m.set_output(0, acc);
  };
}

void import_cast(OnnxImporter& m) {
  m.require_inputs(1, 1);
  if (!m.has_attr("to")) m.fail("attribute 'to' is required");
  const auto dt = m.dtype_of_code(m.attr_int("to", 0));
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

}  // namespace

void attach_onnx_math(OpTable& t) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) t.set_onnx_export(op, onnx_same(op));
  t.set_onnx_export("BatchMatMul", export_batch_matmul);
  t.set_onnx_export("ReduceSum", export_reduce(false));
  t.set_onnx_export("ReduceMean", export_reduce(true));
  for (const char* op :
       {"Erf", "Sqrt", "Exp", "Log", "Reciprocal", "Neg", "Pow", "Equal", "Greater", "Less"})
    t.set_onnx_export(op, onnx_same(op));
  t.set_onnx_export("Minimum", onnx_same("Min"));
  t.set_onnx_export("Maximum", onnx_same("Max"));
  t.set_onnx_export("Select", onnx_same("Where"));
  t.set_onnx_export("ReduceMax", [](OnnxBuilder& b, const ir::Node& n) {
    const auto [axes, keep] = onnx_checked(b, n, [&] {
      return std::pair{attr_ints(n.attrs, n.op, "axis", {}),
                       attr_bool(n.attrs, n.op, "keep_dims", false)};
    });
    OnnxAttrs attrs = {{"keepdims", int64_t{keep}}};
    if (!axes.empty()) attrs.push_back({"axes", axes});  // an attribute until opset 18
    b.add("ReduceMax", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, attrs);
  });
  t.set_onnx_export("Cast", [](OnnxBuilder& b, const ir::Node& n) {
    const DType to = b.info(n.outputs.at(0)).dtype;
    const auto code = b.dtype_code(to);
    if (!code) b.fail(n, "cast to " + std::string(mindspore_name(to)) + " has no ONNX type");
    b.add("Cast", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"to", *code}});
  });

  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "Less"})
    t.add_onnx_import(op, onnx_binary(op));
  for (const char* op : {"Erf", "Sqrt", "Exp", "Log", "Reciprocal", "Neg"})
    t.add_onnx_import(op, onnx_unary(op));
  t.add_onnx_import("ReduceSum", import_reduce("ReduceSum", 13));
  t.add_onnx_import("ReduceMean", import_reduce("ReduceMean", 18));
  t.add_onnx_import("ReduceMax", import_reduce("ReduceMax", 18));
  t.add_onnx_import("Min", import_minmax("Minimum"));
  t.add_onnx_import("Max", import_minmax("Maximum"));
  t.add_onnx_import("Where", [](OnnxImporter& m) {
    m.require_inputs(3, 3);
    m.set_output(0, m.emit1("Select", {m.input(0), m.input(1), m.input(2)}));
  });
  t.add_onnx_import("Cast", import_cast);
}

}  // namespace cellar::ops
