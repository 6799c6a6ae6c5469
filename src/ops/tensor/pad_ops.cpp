// Pad: widens every dimension of a tensor of any rank and dtype by (before, after) elements.
// Attributes: `paddings`, 2·rank integers ≥ 0, (before, after) for each dimension in order
// (MindSpore's tuple of pairs, flattened); `mode`, how the new elements are filled (default
// "constant"); `value`, the fill of constant mode (default 0; only constant mode has one).
//
// The modes (numpy.pad's names), for a dimension [a b c] padded by 2 on each side:
//   constant   v v | a b c | v v    ONNX "constant"; MindSpore Pad (v = 0), PadV3 "constant"
//   reflect    c b | a b c | b a    ONNX "reflect"; MindSpore MirrorPad REFLECT, PadV3 "reflect";
//                                   padding < dimension
//   symmetric  b a | a b c | c b    MindSpore MirrorPad SYMMETRIC (ONNX has no such mode);
//                                   padding ≤ dimension
//   edge       a a | a b c | c c    ONNX "edge"; MindSpore PadV3 "edge" (nn.ReplicationPad*);
//                                   a dimension of size 0 cannot be padded
#include <algorithm>
#include <cstring>

#include "ops/attr.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "Pad";

enum class Mode { kConstant, kReflect, kSymmetric, kEdge };

Mode pad_mode(const ir::Attrs& attrs) {
  const auto it = attrs.find("mode");
  if (it == attrs.end()) return Mode::kConstant;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr) shape_error(kOp, "attribute 'mode' must be a string");
  if (*s == "constant") return Mode::kConstant;
  if (*s == "reflect") return Mode::kReflect;
  if (*s == "symmetric") return Mode::kSymmetric;
  if (*s == "edge") return Mode::kEdge;
  shape_error(kOp, "mode '" + *s + "' is not one of constant, reflect, symmetric, edge");
}

double fill_value(const ir::Attrs& attrs) {
  const auto it = attrs.find("value");
  if (it == attrs.end()) return 0.0;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(&it->second)) return *b ? 1.0 : 0.0;
  shape_error(kOp, "attribute 'value' must be a number");
}

struct PadPlan {
  Mode mode = Mode::kConstant;
  std::vector<int64_t> before;  // per dimension
  Shape out;
};

PadPlan pad_plan(const TensorType& x, const ir::Attrs& attrs) {
  PadPlan plan;
  plan.mode = pad_mode(attrs);
  if (plan.mode != Mode::kConstant && fill_value(attrs) != 0.0)
    shape_error(kOp,
                "attribute 'value' is the fill of constant mode; this Pad's mode is not "
                "constant");
  const std::vector<int64_t> p = attr_ints(attrs, kOp, "paddings");
  const size_t r = x.shape.rank();
  if (p.size() != 2 * r)
    shape_error(kOp, "paddings has " + std::to_string(p.size()) + " values for an input of rank " +
                         std::to_string(r) + " (want 2 per dimension: before, after)");
  std::vector<int64_t> dims;
  for (size_t d = 0; d < r; ++d) {
    const int64_t b = p[2 * d], a = p[2 * d + 1], size = x.shape[d];
    const std::string dim = "dimension " + std::to_string(d) + " (size " + std::to_string(size) +
                            ", paddings " + std::to_string(b) + ", " + std::to_string(a) + ")";
    if (b < 0 || a < 0) shape_error(kOp, "paddings of " + dim + " are negative");
    if (plan.mode == Mode::kReflect && (b > 0 || a > 0) && (b >= size || a >= size))
      shape_error(kOp, "reflect padding of " + dim + " must be smaller than the dimension");
    if (plan.mode == Mode::kSymmetric && (b > size || a > size))
      shape_error(kOp, "symmetric padding of " + dim + " must not exceed the dimension");
    if (plan.mode == Mode::kEdge && size == 0 && (b > 0 || a > 0))
      shape_error(kOp, "edge padding of " + dim + ", which is empty");
    int64_t n = 0;
    if (__builtin_add_overflow(size, b, &n) || __builtin_add_overflow(n, a, &n))
      shape_error(kOp, "padded dimension " + std::to_string(d) + " overflows");
    plan.before.push_back(b);
    dims.push_back(n);
  }
  plan.out = Shape(dims);
  if (!plan.out.checked_numel()) shape_error(kOp, "padded shape overflows");
  return plan;
}

std::vector<TensorType> pad_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  (void)fill_value(attrs);
  if (in[0].dtype == DType::String) shape_error(kOp, "str tensors cannot be padded");
  return {{in[0].dtype, pad_plan(in[0], attrs).out}};
}

// One element of `dtype` holding `v` (the fill), as bytes.
std::vector<std::byte> fill_bytes(DType dtype, double v) {
  const Tensor one = Tensor::scalar<double>(v).to(dtype);
  return {one.raw_data(), one.raw_data() + itemsize(dtype)};
}

// The input index that output index `o` of a dimension of size n (padded by `before`) copies;
// only for o outside [before, before + n) in the mirror and edge modes (the checks of pad_plan
// keep the result inside [0, n)).
int64_t source_index(Mode mode, int64_t o, int64_t before, int64_t n) {
  const int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case Mode::kReflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case Mode::kSymmetric:
      return i < 0 ? -i - 1 : 2 * n - 1 - i;
    default:  // edge
      return i < 0 ? 0 : n - 1;
  }
}

// Constant mode: fill the output, then copy each innermost row of the input to its place.
Kernel constant_kernel(const PadPlan& plan, const Shape& xs, size_t item,
                       std::vector<std::byte> fill) {
  const bool zero_fill =
      std::all_of(fill.begin(), fill.end(), [](std::byte b) { return b == std::byte{0}; });
  return [plan, xs, item, fill, zero_fill](std::span<const Tensor> x, std::span<Tensor> y) {
    std::byte* out = y[0].raw_data();
    const int64_t n_out = plan.out.numel();
    if (zero_fill) {
      std::memset(out, 0, static_cast<size_t>(n_out) * item);
    } else {
      for (int64_t i = 0; i < n_out; ++i) std::memcpy(out + i * item, fill.data(), item);
    }
    const size_t r = xs.rank();
    if (xs.numel() == 0) return;
    if (r == 0) {
      std::memcpy(out, x[0].raw_data(), item);
      return;
    }
    std::vector<int64_t> out_stride(r, 1);
    for (size_t d = r - 1; d > 0; --d) out_stride[d - 1] = out_stride[d] * plan.out[d];
    const int64_t row = xs[r - 1];
    const int64_t rows = xs.numel() / row;
    const std::byte* src = x[0].raw_data();
    std::vector<int64_t> idx(r, 0);  // index of the current row (last entry unused)
    for (int64_t k = 0; k < rows; ++k) {
      int64_t off = plan.before[r - 1];
      for (size_t d = 0; d + 1 < r; ++d) off += (idx[d] + plan.before[d]) * out_stride[d];
      std::memcpy(out + off * static_cast<int64_t>(item), src + k * row * static_cast<int64_t>(item),
                  static_cast<size_t>(row) * item);
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < xs[d]) break;
        idx[d] = 0;
      }
    }
  };
}

// Mirror and edge modes: every output row copies one input row (the middle in one piece, the
// padded ends element by element), the rows chosen through a per-dimension index map built once.
Kernel gather_kernel(const PadPlan& plan, const Shape& xs, size_t item) {
  const size_t r = xs.rank();
  std::vector<std::vector<int64_t>> map(r);
  for (size_t d = 0; d < r; ++d)
    for (int64_t o = 0; o < plan.out[d]; ++o)
      map[d].push_back(source_index(plan.mode, o, plan.before[d], xs[d]));
  std::vector<int64_t> in_stride(r, 1);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * xs[d];
  return [plan, xs, item, map, in_stride, r](std::span<const Tensor> x, std::span<Tensor> y) {
    const std::byte* src = x[0].raw_data();
    std::byte* out = y[0].raw_data();
    if (plan.out.numel() == 0) return;
    if (r == 0) {
      std::memcpy(out, src, item);
      return;
    }
    const int64_t row_out = plan.out[r - 1], row_in = xs[r - 1], b = plan.before[r - 1];
    const int64_t rows = plan.out.numel() / row_out;
    const std::vector<int64_t>& last = map[r - 1];
    std::vector<int64_t> idx(r, 0);  // output index of the current row (last entry unused)
    for (int64_t k = 0; k < rows; ++k) {
      int64_t base = 0;
      for (size_t d = 0; d + 1 < r; ++d) base += map[d][static_cast<size_t>(idx[d])] * in_stride[d];
      std::byte* dst = out + k * row_out * static_cast<int64_t>(item);
      const std::byte* s = src + base * static_cast<int64_t>(item);
      std::memcpy(dst + b * static_cast<int64_t>(item), s, static_cast<size_t>(row_in) * item);
      for (int64_t o = 0; o < row_out; ++o)
        if (o < b || o >= b + row_in)
          std::memcpy(dst + o * static_cast<int64_t>(item),
                      s + last[static_cast<size_t>(o)] * static_cast<int64_t>(item), item);
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < plan.out[d]) break;
        idx[d] = 0;
      }
    }
  };
}

Kernel pad_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const PadPlan plan = pad_plan(in[0], attrs);
  const size_t item = itemsize(in[0].dtype);
  if (plan.mode == Mode::kConstant)
    return constant_kernel(plan, in[0].shape, item, fill_bytes(in[0].dtype, fill_value(attrs)));
  return gather_kernel(plan, in[0].shape, item);
}

// ---- MindIR: MindSpore 2.10 spells Pad three ways (see mindir.h) ----

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

}  // namespace

CELLAR_REGISTER_OPS(pad_ops) {
  OpTable& t = table;
  OpDef d{.name = kOp, .infer = pad_infer, .make_kernel = pad_kernel};
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
  t.add(std::move(d));
}

}  // namespace cellar::ops
