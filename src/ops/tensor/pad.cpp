// Pad(x; paddings, mode, value): widens every dimension of a tensor of any rank and dtype (but
// str) by (before, after) elements. Attributes: `paddings`, 2·rank integers ≥ 0, (before, after)
// for each dimension in order (MindSpore's tuple of pairs, flattened); `mode`, how the new
// elements are filled (default "constant"); `value`, the fill of constant mode (default 0; only
// constant mode has one).
//
// The modes (numpy.pad's names; pad_modes.h has their kernels), for a dimension [a b c] padded by
// 2 on each side:
//   constant   v v | a b c | v v    ONNX "constant"; MindSpore Pad (v = 0), PadV3 "constant"
//   reflect    c b | a b c | b a    ONNX "reflect"; MindSpore MirrorPad REFLECT, PadV3 "reflect";
//                                   padding < dimension
//   symmetric  b a | a b c | c b    MindSpore MirrorPad SYMMETRIC (ONNX has no such mode);
//                                   padding ≤ dimension
//   edge       a a | a b c | c c    ONNX "edge"; MindSpore PadV3 "edge" (nn.ReplicationPad*);
//                                   a dimension of size 0 cannot be padded
//
// MindIR: MindSpore (2.x and 1.x) writes Pad as a PRIMITIVE whose `paddings` attribute is a tuple
// of (before, after) pairs, zero fill only; the other modes and fills are its variants MirrorPad
// and PadV3 (below), read as this row and written where a node needs them. ONNX: Pad with the
// pads as an input (all befores, then all afters), a fill other than 0 as a third input.
//
// Pads computed in the graph (torch's F.pad(x, (0, (7 - W % 7) % 7)) on a dynamic W) make the
// two-input form Pad(x, pads): `pads` a value input (OpDef::value_inputs) in ONNX's layout (2·rank
// Int64 or Int32 values ≥ 0, all befores then all afters), written in as `paddings` per plan.
// MindIR carries paddings only as constants.
#include <algorithm>
#include <cctype>

#include "ops/onnx_spelling.h"
#include "ops/tensor/pad_modes.h"

namespace cellar::ops {

namespace {

using tensor::fill_value;
using tensor::pad_mode;
using tensor::pad_plan;
using Mode = tensor::PadMode;
constexpr const char* kOp = tensor::kPad;

// The two-input form's pads input: a 1-D Int64 or Int32 tensor of 2·rank entries.
void check_pads_input(const TensorType& x, const TensorType& p) {
  if (p.dtype != DType::Int64 && p.dtype != DType::Int32)
    dtype_error(
        kOp, "the pads input must be Int64 or Int32, got " + std::string(mindspore_name(p.dtype)));
  if (p.shape != Shape{2 * static_cast<int64_t>(x.shape.rank())})
    shape_error(kOp, "the pads input must have shape (" + std::to_string(2 * x.shape.rank()) +
                         ",) for an input of rank " + std::to_string(x.shape.rank()) + ", got " +
                         p.shape.str());
}

// The pads input's values (ONNX's layout) written in as `paddings`; a negative one (a crop, which
// cellar reads only from constant pads) is refused.
ir::Attrs pads_from_values(std::span<const TensorType> in, std::span<const Tensor> v,
                           const ir::Attrs& attrs) {
  check_pads_input(in[0], in[1]);
  const size_t r = in[0].shape.rank();
  std::vector<int64_t> flat(2 * r);
  for (size_t i = 0; i < 2 * r; ++i) {
    const int64_t p = v[1].dtype() == DType::Int64 ? v[1].data<int64_t>()[i]
                                                   : static_cast<int64_t>(v[1].data<int32_t>()[i]);
    if (p < 0)
      shape_error(kOp, "the pads input (computed at run time) holds " + std::to_string(p) +
                           " at index " + std::to_string(i) +
                           "; negative pads (crops) must be constants");
    flat[2 * (i % r) + i / r] = p;
  }
  ir::Attrs a = attrs;
  a["paddings"] = std::move(flat);
  return a;
}

std::vector<TensorType> pad_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  (void)fill_value(attrs);
  if (in[0].dtype == DType::String) shape_error(kOp, "str tensors cannot be padded");
  if (in.size() == 2) {
    check_pads_input(in[0], in[1]);
    if (!attrs.count("paddings")) {  // the values unknown: a representative that pads nothing
      ir::Attrs a = attrs;
      a["paddings"] = std::vector<int64_t>(2 * in[0].shape.rank(), 0);
      return {{in[0].dtype, pad_plan(in[0], a).out}};
    }
  }
  return {{in[0].dtype, pad_plan(in[0], attrs).out}};
}

// ---- MindIR: MindSpore 2.10 spells Pad three ways (Pad, MirrorPad, PadV3) ----

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// No padding at all: any mode and fill is the identity, which MindSpore's Pad spells as well.
bool pads_nothing(const ir::Attrs& a) {
  const std::vector<int64_t> p = attr_ints(a, kOp, "paddings");
  return std::all_of(p.begin(), p.end(), [](int64_t v) { return v == 0; });
}

std::string string_attr(const ir::Attrs& a, const std::string& prim, const std::string& key) {
  const auto it = a.find(key);
  if (it == a.end()) shape_error(prim, "attribute '" + key + "' is missing");
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr) shape_error(prim, "attribute '" + key + "' is not a string");
  return *s;
}

// MirrorPad (nn.Pad modes REFLECT / SYMMETRIC, nn.ReflectionPad*): attribute `mode`, and
// `paddings` an integer tensor input of shape (rank, 2), (before, after) per dimension in order.
void read_mirror_pad(ir::Attrs& a, std::span<const TensorType> in) {
  const std::string prim = "MirrorPad";
  const std::string mode = string_attr(a, prim, "mode");
  if (mode != "REFLECT" && mode != "SYMMETRIC")
    shape_error(prim, "mode '" + mode + "' is not REFLECT or SYMMETRIC");
  const auto it = a.find("paddings");
  if (it == a.end()) shape_error(prim, "input 'paddings' is missing");
  const auto* t = std::get_if<Tensor>(&it->second);
  if (t == nullptr) shape_error(prim, "input 'paddings' is not a tensor");
  const int64_t r = static_cast<int64_t>(in[0].shape.rank());
  if (t->dtype() != DType::Int32 && t->dtype() != DType::Int64)
    shape_error(prim, "input 'paddings' has dtype " + std::string(mindspore_name(t->dtype())) +
                          " (want int32 or int64)");
  if (t->shape() != Shape{r, 2})
    shape_error(prim, "input 'paddings' has shape " + t->shape().str() + " for an input of rank " +
                          std::to_string(r) + " (want (" + std::to_string(r) + ", 2))");
  const Tensor p = t->to(DType::Int64);
  std::vector<int64_t> flat(p.data<int64_t>(), p.data<int64_t>() + 2 * r);
  a = {{"paddings", std::move(flat)}, {"mode", lower(mode)}};
  (void)pad_plan(in[0], a);
}

// MindSpore 2.10's MirrorPad runs inputs of rank 1 to 5 (rank 6 fails in its kernel).
bool write_mirror_pad(ir::Attrs& a, std::span<const TensorType> in) {
  const Mode mode = pad_mode(a);
  if (mode != Mode::kReflect && mode != Mode::kSymmetric) return false;
  (void)pad_plan(in[0], a);
  if (pads_nothing(a)) return false;
  if (in[0].shape.rank() < 1 || in[0].shape.rank() > 5)
    throw ExportError("Pad: MindSpore's MirrorPad pads inputs of rank 1 to 5, not " +
                      std::to_string(in[0].shape.rank()));
  const std::vector<int64_t> flat = attr_ints(a, kOp, "paddings");
  const int64_t r = static_cast<int64_t>(flat.size() / 2);
  Tensor p(DType::Int64, Shape{r, 2});
  std::copy(flat.begin(), flat.end(), p.data<int64_t>());
  a = {{"mode", std::string(mode == Mode::kReflect ? "REFLECT" : "SYMMETRIC")}, {"paddings", p}};
  return true;
}

// PadV3 (nn.ConstantPad*, nn.ZeroPad2d, nn.ReplicationPad*, ops.pad): attributes `mode`
// ("constant", "reflect", "edge"; "circular" is not read) and `paddings_contiguous`; inputs
// `paddings`, pairs for the LAST dimensions, last dimension first ((b, a) pairs when contiguous,
// else all befores then all afters), and `value`, a scalar tensor (None outside constant mode).
void read_pad_v3(ir::Attrs& a, std::span<const TensorType> in) {
  const std::string prim = "PadV3";
  const std::string mode = string_attr(a, prim, "mode");
  if (mode == "circular")
    throw ValueError(ErrorCode::kUnsupported, "PadV3: mode 'circular' is not supported");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    shape_error(prim, "mode '" + mode + "' is not constant, reflect or edge");
  bool contiguous = true;
  if (const auto c = a.find("paddings_contiguous"); c != a.end()) {
    const auto* b = std::get_if<bool>(&c->second);
    if (b == nullptr) shape_error(prim, "attribute 'paddings_contiguous' is not a bool");
    contiguous = *b;
  }
  if (!a.count("paddings")) shape_error(prim, "input 'paddings' is missing");
  const std::vector<int64_t> p = attr_ints(a, prim, "paddings");
  const size_t r = in[0].shape.rank();
  if (p.size() % 2 != 0 || p.size() > 2 * r)
    shape_error(prim, "input 'paddings' has " + std::to_string(p.size()) +
                          " values for an input of rank " + std::to_string(r) +
                          " (want an even number, at most " + std::to_string(2 * r) + ")");
  double value = 0;
  if (const auto v = a.find("value"); v != a.end() && mode == "constant") {
    if (const auto* t = std::get_if<Tensor>(&v->second)) {
      if (t->numel() != 1 || t->dtype() == DType::String)
        shape_error(prim, "input 'value' is not a scalar number");
      value = t->to(DType::Float64).data<double>()[0];
    } else {
      value = attr_double(a, prim, "value", 0.0);
    }
  }
  const size_t k = p.size() / 2;
  std::vector<int64_t> flat(2 * r, 0);
  for (size_t j = 0; j < k; ++j) {
    const size_t d = r - 1 - j;
    flat[2 * d] = contiguous ? p[2 * j] : p[j];
    flat[2 * d + 1] = contiguous ? p[2 * j + 1] : p[k + j];
  }
  a = {{"paddings", std::move(flat)}};
  if (mode != "constant") a["mode"] = mode;
  if (value != 0) a["value"] = value;
  (void)pad_plan(in[0], a);
}

// Edge mode, and constant mode with a fill other than 0 (MindSpore's Pad pads with zeros).
// MindSpore 2.10's PadV3 takes constant paddings for any number of last dimensions: pairs are
// written for the last dimensions up to the first padded one. In edge mode it takes exactly the
// dimensions from 2 on of a rank-3 to rank-5 input (nn.ReplicationPad1d/2d/3d's (N, C, …)) and
// refuses or miscomputes anything else, so other edge paddings are refused here.
bool write_pad_v3(ir::Attrs& a, std::span<const TensorType> in) {
  const Mode mode = pad_mode(a);
  const double value = fill_value(a);
  if (mode != Mode::kEdge && !(mode == Mode::kConstant && value != 0)) return false;
  (void)pad_plan(in[0], a);
  if (pads_nothing(a)) return false;
  const std::vector<int64_t> flat = attr_ints(a, kOp, "paddings");
  const size_t r = flat.size() / 2;
  size_t first = 0;  // the first padded dimension
  while (first < r && flat[2 * first] == 0 && flat[2 * first + 1] == 0) ++first;
  if (mode == Mode::kEdge) {
    if (r < 3 || r > 5 || first < 2)
      throw ExportError(
          "Pad: MindSpore's PadV3 pads in edge mode only dimensions 2 and up of an input of rank "
          "3 to 5 (nn.ReplicationPad1d/2d/3d); this one has rank " +
          std::to_string(r) +
          (first < 2 && r >= 3 ? " and pads dimension " + std::to_string(first) : ""));
    first = 2;
  }
  std::vector<int64_t> p;
  for (size_t d = flat.size() / 2; d-- > first;) {
    p.push_back(flat[2 * d]);
    p.push_back(flat[2 * d + 1]);
  }
  ir::Attrs out{{"mode", std::string(mode == Mode::kEdge ? "edge" : "constant")},
                {"paddings_contiguous", true},
                {"paddings", std::move(p)}};
  if (mode == Mode::kConstant) out["value"] = Tensor::scalar<double>(value).to(in[0].dtype);
  a = std::move(out);
  return true;
}

// ---- ONNX ----

// Pad: ONNX wants all the befores, then all the afters; a fill other than 0 is an input of x's
// dtype. Modes constant, reflect and edge are ONNX's own; symmetric has no ONNX spelling.
void export_pad(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const bool computed = n.inputs.size() == 2;  // pads computed at run time: passed on
  const auto flat = computed
                        ? std::vector<int64_t>(2 * x.rank(), 0)
                        : onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Pad", "paddings"); });
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
  std::string pads_name;
  if (computed) {
    pads_name = b.name(n.inputs[1]);
    if (b.info(n.inputs[1]).dtype != DType::Int64) {
      const std::string cast = b.fresh(pads_name + "/int64");
      b.add("Cast", {pads_name}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
      pads_name = cast;
    }
  } else {
    pads_name = b.ints(out + "_pads", pads);
  }
  std::vector<std::string> in{b.name(n.inputs[0]), pads_name};
  if (const auto v = n.attrs.find("value"); v != n.attrs.end()) {
    const double fill =
        onnx_checked(b, n, [&] { return attr_double(n.attrs, "Pad", "value", 0.0); });
    if (fill != 0)
      in.push_back(
          b.constant(out + "_value", Tensor::scalar<double>(fill).to(b.info(n.inputs[0]).dtype)));
  }
  b.add("Pad", in, {out}, {{"mode", mode}});
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
  const bool computed = !m.constant_input(1);
  const auto pads = computed ? std::vector<int64_t>{} : m.const_ints(1);
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
  if (computed) {
    // Pads computed in the graph: the two-input form, planned with their values, over every
    // dimension (ONNX's axes filled in with zeros by a Gather from the pads and a 0).
    int p = m.input(1);
    const ir::ValueInfo info = m.info(p);
    if ((info.dtype != DType::Int64 && info.dtype != DType::Int32) ||
        info.shape != Shape{2 * static_cast<int64_t>(axes.size())} || !m.shape_known(p) ||
        info.open(0))
      m.unsupported("pads (computed in the graph) must be a 1-D int64 tensor of " +
                    std::to_string(2 * axes.size()) + " entries fixed at load time, got " +
                    info.type_str());
    const auto n = static_cast<int64_t>(axes.size());
    bool all = n == r;
    for (int64_t i = 0; all && i < n; ++i) all = axes[static_cast<size_t>(i)] == i;
    if (!all) {
      const int zero =
          m.constant(Tensor::from_vector(std::vector<int64_t>{0}, Shape{1}).to(info.dtype));
      const int padded = m.emit1("Concat", {p, zero}, {{"axis", int64_t{0}}});
      std::vector<int64_t> idx(2 * static_cast<size_t>(r), 2 * n);  // 2n: the zero
      for (int64_t i = 0; i < n; ++i) {
        idx[static_cast<size_t>(axes[static_cast<size_t>(i)])] = i;
        idx[static_cast<size_t>(r + axes[static_cast<size_t>(i)])] = n + i;
      }
      p = m.emit1("Gather", {padded, m.constant(Tensor::from_vector(idx, Shape{2 * r}))},
                  {{"axis", int64_t{0}}});
    }
    ir::Attrs attrs;
    if (mode != "constant") attrs["mode"] = mode;
    if (fill != 0) attrs["value"] = fill;
    m.set_output(0, m.emit1("Pad", {x, p}, std::move(attrs)));
    return;
  }
  if (pads.size() != 2 * axes.size())
    m.fail("pads has " + std::to_string(pads.size()) + " values for " +
           std::to_string(axes.size()) + " axes");
  std::vector<int64_t> flat(2 * static_cast<size_t>(r), 0);  // cellar's (before, after) per dim
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t before = pads[i], after = pads[i + axes.size()];
    const int64_t dim = m.info(x).shape[static_cast<size_t>(axes[i])];
    // A pad below -dim would remove more than the axis holds; refusing it here also keeps the
    // negations below clear of INT64_MIN (fuzz_onnx found that overflow).
    if (before < -dim || after < -dim) m.fail("negative pads remove more than the dimension");
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

CELLAR_REGISTER_OPS(pad) {
  OpDef d{.name = kOp,
          .max_inputs = 2,
          .infer = pad_infer,
          .value_inputs = {1},
          .attrs_from_values = pads_from_values,
          .make_kernel = tensor::pad_kernel};
  // MindSpore writes Pad as a PRIMITIVE whose `paddings` attribute is a tuple of (before, after)
  // pairs: ((0, 0), (0, 0), (1, 1), (1, 1)) for the model zoo's ResNet stem. It pads with zeros;
  // the other modes and fills are its variants MirrorPad and PadV3.
  d.mindir = {
      .primitive = kOp,
      .primitive_function = false,
      .complete =
          [](ir::Attrs& a) {
            if (!pads_nothing(a) && (pad_mode(a) != Mode::kConstant || fill_value(a) != 0.0))
              throw ExportError("Pad: only a zero fill is MindSpore's Pad primitive");
            a.erase("mode");
            a.erase("value");
          },
      .nested = {{"paddings", 2}}};
  d.mindir.variants.push_back({.spelling = {.primitive = "MirrorPad",
                                            .attr_inputs = {"paddings"},
                                            .primitive_function = false},
                               .read = read_mirror_pad,
                               .write = write_mirror_pad});
  d.mindir.variants.push_back({.spelling = {.primitive = "PadV3",
                                            .attr_inputs = {"paddings", "value"},
                                            .none_when_absent = {"value"},
                                            .primitive_function = false},
                               .read = read_pad_v3,
                               .write = write_pad_v3});
  d.onnx = export_pad;
  d.onnx_import = {{"Pad", import_pad}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
