// Old-opset ONNX nodes in their opset-13 form (the table of changes is in onnx_upgrade.h).
#include "formats/onnx_upgrade.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include "cellar/tensor.h"
#include "formats/onnx_builder.h"
#include "onnx/onnx.pb.h"

namespace cellar::formats {

namespace {

namespace pb = ::onnx;

class Upgrade {
 public:
  Upgrade(const pb::NodeProto& n, const OnnxUpgradeContext& ctx) : n_(n), ctx_(ctx) {}

  const pb::AttributeProto* attr(const std::string& name) const {
    for (const auto& a : n_.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  std::optional<int64_t> int_attr(const std::string& name) const {
    const auto* a = attr(name);
    if (!a) return std::nullopt;
    if (a->type() != pb::AttributeProto::INT) ctx_.fail("attribute '" + name + "' must be an INT");
    return a->i();
  }
  std::optional<float> float_attr(const std::string& name) const {
    const auto* a = attr(name);
    if (!a) return std::nullopt;
    if (a->type() != pb::AttributeProto::FLOAT)
      ctx_.fail("attribute '" + name + "' must be a FLOAT");
    return a->f();
  }
  std::optional<std::vector<int64_t>> ints_attr(const std::string& name) const {
    const auto* a = attr(name);
    if (!a) return std::nullopt;
    if (a->type() != pb::AttributeProto::INTS) ctx_.fail("attribute '" + name + "' must be INTS");
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  // The node as it is, less the named attributes.
  pb::NodeProto without(std::initializer_list<const char*> names) const {
    pb::NodeProto out = n_;
    out.clear_attribute();
    for (const auto& a : n_.attribute())
      if (std::none_of(names.begin(), names.end(), [&](const char* k) { return a.name() == k; }))
        *out.add_attribute() = a;
    return out;
  }
  const std::string& in(int i) const { return n_.input(i); }
  std::string hint(const std::string& what) const {
    const std::string base =
        n_.name().empty() ? (n_.output_size() ? n_.output(0) : "node") : n_.name();
    return base + "/upgrade_" + what;
  }

  // A Constant node holding `t`; returns its output's name.
  std::string constant(const std::string& what, const Tensor& t) {
    pb::NodeProto c;
    c.set_op_type("Constant");
    const std::string name = ctx_.fresh(hint(what));
    c.set_name(name);
    c.add_output(name);
    auto* a = c.add_attribute();
    a->set_name("value");
    a->set_type(pb::AttributeProto::TENSOR);
    fill_onnx_tensor(*a->mutable_t(), t, name);
    out_.push_back(std::move(c));
    return name;
  }
  std::string ints(const std::string& what, const std::vector<int64_t>& v) {
    return constant(what, Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())}));
  }
  // A scalar of input `like`'s dtype.
  std::string scalar_like(const std::string& what, double v, const std::string& like) {
    const auto dt = dtype_from_onnx(ctx_.elem_type(like));
    if (!dt) ctx_.unsupported("input '" + like + "' has a dtype cellar does not support");
    return constant(what, Tensor::scalar(v).to(*dt));
  }
  // A node of `op_type` (a step of the upgraded node), its output a fresh name.
  std::string step(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::string& what) {
    pb::NodeProto s;
    s.set_op_type(op_type);
    const std::string name = ctx_.fresh(hint(what));
    s.set_name(name);
    for (const auto& i : inputs) s.add_input(i);
    s.add_output(name);
    out_.push_back(std::move(s));
    return name;
  }
  pb::NodeProto& last() { return out_.back(); }
  std::vector<pb::NodeProto> done(pb::NodeProto final) {
    out_.push_back(std::move(final));
    return std::move(out_);
  }

  const OnnxUpgradeContext& ctx() const { return ctx_; }

 private:
  const pb::NodeProto& n_;
  const OnnxUpgradeContext& ctx_;
  std::vector<pb::NodeProto> out_;
};

void set_int(pb::NodeProto& n, const std::string& name, int64_t v) {
  for (auto& a : *n.mutable_attribute())
    if (a.name() == name) {
      a.set_type(pb::AttributeProto::INT);
      a.set_i(v);
      return;
    }
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}

// Binary ops before opset 7: `broadcast` 1 lets B be a contiguous run of A's dimensions starting
// at `axis` (default: the trailing ones, numpy's rule).
std::vector<pb::NodeProto> legacy_broadcast(Upgrade& u, const pb::NodeProto& n) {
  const int64_t broadcast = u.int_attr("broadcast").value_or(0);
  pb::NodeProto out = u.without({"broadcast", "axis", "consumed_inputs"});
  if (broadcast == 0 || !u.attr("axis") || n.input_size() != 2) return u.done(std::move(out));
  const int64_t ra = u.ctx().rank(n.input(0)), rb = u.ctx().rank(n.input(1));
  int64_t axis = *u.int_attr("axis");
  if (axis < 0) axis += ra;
  if (axis < 0 || axis > ra || axis + rb > ra)
    u.ctx().fail("broadcast axis " + std::to_string(*u.int_attr("axis")) +
                 " does not fit B (rank " + std::to_string(rb) + ") into A (rank " +
                 std::to_string(ra) + ")");
  const int64_t trailing = ra - axis - rb;
  if (trailing == 0) return u.done(std::move(out));
  std::vector<int64_t> axes;
  for (int64_t k = 0; k < trailing; ++k) axes.push_back(rb + k);
  const std::string b = u.step("Unsqueeze", {n.input(1), u.ints("axes", axes)}, "b");
  out.set_input(1, b);
  return u.done(std::move(out));
}

// An attribute of ints → input `index` (inputs before it must exist; absent stays absent).
std::vector<pb::NodeProto> attr_to_input(Upgrade& u, const pb::NodeProto& n, const char* name,
                                         int index) {
  const auto v = u.ints_attr(name);
  pb::NodeProto out = u.without({name});
  if (!v) return u.done(std::move(out));
  if (out.input_size() > index)
    u.ctx().fail("has both attribute '" + std::string(name) + "' and input " +
                 std::to_string(index));
  while (out.input_size() < index) out.add_input("");
  out.add_input(u.ints(name, *v));
  return u.done(std::move(out));
}

std::vector<pb::NodeProto> upgrade_softmax(Upgrade& u, const pb::NodeProto& n) {
  if (n.input_size() != 1 || n.output_size() != 1) u.ctx().fail("takes one input and one output");
  const int64_t r = u.ctx().rank(n.input(0));
  int64_t axis = u.int_attr("axis").value_or(1);
  if (axis < 0) axis += r;
  if (r == 0 || axis == r - 1) {
    pb::NodeProto out = u.without({});
    set_int(out, "axis", r == 0 ? -1 : axis);
    return u.done(std::move(out));
  }
  if (axis < 0 || axis > r) u.ctx().fail("axis is out of range for rank " + std::to_string(r));
  // Coerced to 2-D [prod(d < axis), prod(d ≥ axis)]: the op over the second dimension.
  const std::string flat = u.step("Flatten", {n.input(0)}, "flat");
  set_int(u.last(), "axis", axis);
  const std::string y2 = u.step(n.op_type(), {flat}, "2d");
  set_int(u.last(), "axis", -1);
  const std::string shape = u.step("Shape", {n.input(0)}, "shape");
  pb::NodeProto out;
  out.set_op_type("Reshape");
  out.set_name(n.name());
  out.add_input(y2);
  out.add_input(shape);
  out.add_output(n.output(0));
  return u.done(std::move(out));
}

}  // namespace

std::vector<pb::NodeProto> upgrade_onnx_node(const pb::NodeProto& n, int64_t opset,
                                             const OnnxUpgradeContext& ctx) {
  Upgrade u(n, ctx);
  const std::string& op = n.op_type();
  static const std::set<std::string> kLegacyBroadcast = {
      "Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less"};
  if (opset < 7 && kLegacyBroadcast.count(op)) return legacy_broadcast(u, n);
  if (op == "Gemm" && opset < 7) return u.done(u.without({"broadcast"}));
  // PRelu before opset 7: a 1-D slope is per channel (dimension 1), not numpy-broadcast against
  // the trailing dimension: Unsqueeze it to (C, 1, …, 1).
  if (op == "PRelu" && opset < 7) {
    pb::NodeProto out = u.without({"consumed_inputs"});
    if (n.input_size() != 2) ctx.fail("takes two inputs");
    const int64_t rx = ctx.rank(n.input(0)), rs = ctx.rank(n.input(1));
    if (rs != 1 || rx <= 2) return u.done(std::move(out));
    std::vector<int64_t> axes;
    for (int64_t k = 1; k < rx - 1; ++k) axes.push_back(k);
    out.set_input(1, u.step("Unsqueeze", {n.input(1), u.ints("axes", axes)}, "slope"));
    return u.done(std::move(out));
  }
  if (op == "BatchNormalization") {
    if (opset < 7 && u.int_attr("is_test").value_or(0) == 0)
      ctx.unsupported("is_test is 0 (training mode); cellar runs inference only");
    if (opset < 9 && u.int_attr("spatial").value_or(1) != 1)
      ctx.unsupported("spatial 0 (statistics per activation) is not supported");
    if (opset < 9) return u.done(u.without({"is_test", "spatial", "consumed_inputs"}));
    return {};
  }
  if (op == "Dropout") {
    if (opset < 7 && u.int_attr("is_test").value_or(0) == 0)
      ctx.unsupported("is_test is 0 (training mode); cellar runs inference only");
    if (opset < 12) return u.done(u.without({"is_test", "ratio"}));
    return {};
  }
  if (op == "Clip" && opset < 11) {
    const auto lo = u.float_attr("min"), hi = u.float_attr("max");
    pb::NodeProto out = u.without({"min", "max"});
    if (n.input_size() != 1) ctx.fail("takes one input before opset 11");
    out.add_input(lo ? u.scalar_like("min", *lo, n.input(0)) : "");
    if (hi) out.add_input(u.scalar_like("max", *hi, n.input(0)));
    return u.done(std::move(out));
  }
  if (op == "Pad" && opset < 11) {
    const auto pads = u.ints_attr("pads");
    if (!pads) ctx.fail("attribute 'pads' is required before opset 11");
    const float value = u.float_attr("value").value_or(0.0f);
    if (n.input_size() != 1) ctx.fail("takes one input before opset 11");
    pb::NodeProto out = u.without({"pads", "value"});
    out.add_input(u.ints("pads", *pads));
    if (value != 0.0f) out.add_input(u.scalar_like("value", value, n.input(0)));
    return u.done(std::move(out));
  }
  if (op == "Slice" && opset < 10) {
    const auto starts = u.ints_attr("starts"), ends = u.ints_attr("ends");
    if (!starts || !ends) ctx.fail("attributes 'starts' and 'ends' are required before opset 10");
    const auto axes = u.ints_attr("axes");
    if (n.input_size() != 1) ctx.fail("takes one input before opset 10");
    pb::NodeProto out = u.without({"starts", "ends", "axes"});
    out.add_input(u.ints("starts", *starts));
    out.add_input(u.ints("ends", *ends));
    if (axes) out.add_input(u.ints("axes", *axes));
    return u.done(std::move(out));
  }
  if (opset < 13) {
    if (op == "Split") return attr_to_input(u, n, "split", 1);
    if (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum")
      return attr_to_input(u, n, "axes", 1);
    if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") return upgrade_softmax(u, n);
  }
  if (op == "Upsample")
    ctx.unsupported("Upsample (deprecated in opset 10) is not supported: cellar has no Resize");
  return {};
}

}  // namespace cellar::formats
