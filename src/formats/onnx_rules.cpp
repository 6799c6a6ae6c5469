// The ONNX op types the ONNX format reads with no op table row of their own: decompositions into
// rows (Gemm, Clip, Shrink, GlobalAveragePool, Einsum, GRU), load-time constants (Constant, Shape,
// ConstantOfShape, Range: shapes are static) and identities (Identity, Dropout). An ONNX op type is
// either a row's (its `onnx_import`) or here, never both.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "formats/graph_reader.h"
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

// A shape fixed at load is a constant (shape arithmetic then folds away); one known only at run
// time (OnnxImporter::shape_known) is read by a TensorShape node (start..end taken from it),
// whose value feeds value inputs such as Expand's target, when one of the dimensions read is
// open: an open input dimension, or one of an intermediate value that follows them (the reader
// marks those, see OnnxFormat::read); the others stay constants.
void import_shape(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  const ir::ValueInfo info = m.info(x);
  const Shape& s = info.shape;
  const int64_t r = static_cast<int64_t>(s.rank());
  auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  const int64_t start = clamp(m.attr_int("start", 0)), end = clamp(m.attr_int("end", r));
  bool run_time = false;
  for (int64_t i = start; i < end; ++i)
    run_time = run_time || (!m.shape_known(x) && info.open(static_cast<size_t>(i)));
  if (run_time) {
    const int shape = m.emit1("TensorShape", {x});
    m.set_output(0, m.take(shape, 0, ops::index_range(start, std::max(start, end))));
    return;
  }
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(s[static_cast<size_t>(i)]);
  m.set_output(0, m.constant(Tensor::from_vector(dims, Shape{static_cast<int64_t>(dims.size())})));
}

// ConstantOfShape(shape; value): a constant when the shape input folds to one; a shape computed
// at run time makes the FillV2 row (src/ops/tensor/fill_v2.cpp). The fill is `value`'s one
// element (default float32 0).
void import_constant_of_shape(OnnxImporter& m) {
  m.require_inputs(1, 1);
  Tensor fill = Tensor::scalar(0.0f);
  if (auto v = m.attr_tensor("value")) {
    if (v->numel() != 1) m.fail("value must hold exactly one element");
    fill = *v;
  }
  const auto shape = m.constant_input(0);
  if (!shape) {
    // A shape computed at run time (torch's x.new_zeros(x.shape) on a dynamic batch): FillV2,
    // planned with the shape's values.
    const int s = m.input(0);
    const ir::ValueInfo info = m.info(s);
    if (info.dtype != DType::Int64 || info.shape.rank() != 1 || !m.shape_known(s) || info.open(0))
      m.unsupported(
          "the shape input (computed in the graph) must be a 1-D int64 tensor of a "
          "length fixed at load time, got " +
          info.type_str());
    m.set_output(0, m.emit1("FillV2", {s}, {{"value", fill.reshape(Shape{})}}));
    return;
  }
  if (shape->dtype() != DType::Int64 || shape->shape().rank() != 1)
    m.fail("the shape input must be a 1-D int64 tensor");
  std::vector<int64_t> dims(static_cast<size_t>(shape->numel()));
  for (size_t i = 0; i < dims.size(); ++i) {
    dims[i] = shape->data<int64_t>()[i];
    if (dims[i] < 0) m.fail("negative dimension " + std::to_string(dims[i]));
  }
  const Shape out(dims);
  // The load-time budget (GraphLoadOptions::max_load_constant_bytes) decides how large: some
  // models (ONNX's light VGG-19) make their weights so.
  const auto nbytes = tensor_nbytes(fill.dtype(), out);
  if (!nbytes) m.unsupported("shape " + out.str() + " is too large to make at load time");
  m.charge_generated(*nbytes);
  const auto numel = out.checked_numel();
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

// Shrink(x; lambd, bias): x + bias where x < −lambd, x − bias where x > lambd, else 0 — two
// Selects over Less and Greater against constants of x's dtype.
void import_shrink(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  const DType dt = m.info(x).dtype;
  const double lambd = m.attr_float("lambd", 0.5), bias = m.attr_float("bias", 0.0);
  if (!std::isfinite(lambd) || !std::isfinite(bias)) m.fail("lambd and bias must be finite");
  auto c = [&](double v) { return m.constant(scalar_like(v, dt)); };
  const int below = m.emit1("Less", {x, c(-lambd)});
  const int above = m.emit1("Greater", {x, c(lambd)});
  const int y = m.emit1("Select", {above, m.emit1("Sub", {x, c(bias)}), c(0.0)});
  m.set_output(0, m.emit1("Select", {below, m.emit1("Add", {x, c(bias)}), y}));
}

// Range(start, limit, delta): scalars computed at run time make the Range row
// (src/ops/tensor/range.cpp); constants (shape arithmetic folded) make the sequence at load time:
// max(⌈(limit − start) / delta⌉, 0) elements start + i·delta in the inputs' dtype (integers
// computed exactly in int64).
void import_range(OnnxImporter& m) {
  m.require_inputs(3, 3);
  if (!m.constant_input(0) || !m.constant_input(1) || !m.constant_input(2)) {
    // Computed at run time (torch's arange(x.size(1)) on a dynamic axis): the Range row, whose
    // length a plan computes from the values.
    m.set_output(0, m.emit1("Range", {m.input(0), m.input(1), m.input(2)}));
    return;
  }
  std::optional<Tensor> v[3];
  for (size_t i = 0; i < 3; ++i) {
    v[i] = m.constant_input(i);
    if (!v[i])
      m.unsupported("input " + std::to_string(i) +
                    " must be a constant: cellar makes the sequence at load time");
    if (v[i]->numel() != 1) m.fail("input " + std::to_string(i) + " must be a scalar");
    if (v[i]->dtype() != v[0]->dtype()) m.fail("start, limit and delta must have one dtype");
  }
  const DType dt = v[0]->dtype();
  if (dt != DType::Float32 && dt != DType::Float64 && dt != DType::Int16 && dt != DType::Int32 &&
      dt != DType::Int64)
    m.fail("dtype " + std::string(mindspore_name(dt)) + " is not one of Range's");
  const double start = v[0]->to(DType::Float64).item(), limit = v[1]->to(DType::Float64).item(),
               delta = v[2]->to(DType::Float64).item();
  if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
    m.fail("delta must be non-zero and start, limit and delta finite");
  double count = std::max(0.0, std::ceil((limit - start) / delta));
  if (!is_floating(dt)) {  // exactly, where doubles would round large int64 values
    const auto as_int = [&](size_t i) { return v[i]->to(DType::Int64).data<int64_t>()[0]; };
    const __int128 diff = static_cast<__int128>(as_int(1)) - as_int(0), d = as_int(2);
    __int128 q = diff / d;
    if (diff % d != 0 && (diff > 0) == (d > 0)) ++q;
    count = q <= 0 ? 0.0 : static_cast<double>(q);
  }
  if (count > static_cast<double>(kOnnxMaxConstElements))
    m.unsupported("a sequence of " + std::to_string(count) + " elements is too large to make");
  const auto n = static_cast<int64_t>(count);
  m.charge_generated(static_cast<uint64_t>(n) * 8);
  if (!is_floating(dt)) {
    const int64_t s = v[0]->to(DType::Int64).data<int64_t>()[0];
    const int64_t d = v[2]->to(DType::Int64).data<int64_t>()[0];
    Tensor t(DType::Int64, Shape{n});
    for (int64_t i = 0; i < n; ++i) {
      int64_t step = 0, value = 0;
      if (__builtin_mul_overflow(i, d, &step) || __builtin_add_overflow(s, step, &value))
        m.fail("the sequence leaves the int64 range");
      t.data<int64_t>()[i] = value;
    }
    m.set_output(0, m.constant(t.to(dt)));
    return;
  }
  Tensor t(DType::Float64, Shape{n});
  for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = start + static_cast<double>(i) * delta;
  m.set_output(0, m.constant(t.to(dt)));
}

// Einsum(equation; x0[, x1]): one or two operands, as attention and bilinear layers use it
// (torchvision's maxvit and swin: "bhid,bhjd->bhij"). Each operand's indices (letters; "..."
// for the leading dimensions, aligned from the right) are sorted into batch (in both operands
// and the output), contracted (in both, not the output), free (one operand and the output) and
// summed (one operand, not the output). Summed indices are reduced first (ReduceSum); two
// operands then become Transpose → Reshape to (batch…, free, contracted) and (batch…,
// contracted, free) → BatchMatMul (batch dimensions broadcast as NumPy's) → Reshape →
// Transpose to the output's order. An index repeated within one operand (a diagonal) and more
// than two operands are refused as unsupported.
namespace einsum {

using Labels = std::vector<int>;  // a letter's code, or 256 + k for the k-th "..." dimension

// Parses one term ("bhid", "...ij") for an operand of rank `rank` (or, rank < 0, the output:
// `ellipsis` dimensions for its "...").
Labels parse_term(OnnxImporter& m, const std::string& term, int64_t rank, int64_t* ellipsis) {
  Labels letters;
  int64_t at_ellipsis = -1;
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == '.') {
      if (at_ellipsis >= 0 || term.compare(i, 3, "...") != 0) m.fail("malformed '...' in " + term);
      at_ellipsis = static_cast<int64_t>(letters.size());
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      letters.push_back(static_cast<unsigned char>(c));
    } else if (c != ' ') {
      m.fail(std::string("unexpected character '") + c + "' in the equation");
    }
  }
  int64_t n_ell = 0;
  if (rank >= 0) {
    n_ell = rank - static_cast<int64_t>(letters.size());
    if (n_ell < 0 || (n_ell > 0 && at_ellipsis < 0))
      m.fail("term '" + term + "' does not match an operand of rank " + std::to_string(rank));
    if (at_ellipsis >= 0) *ellipsis = std::max(*ellipsis, n_ell);
  } else if (at_ellipsis >= 0) {
    n_ell = *ellipsis;
  }
  if (at_ellipsis < 0) return letters;
  Labels out(letters.begin(), letters.begin() + at_ellipsis);
  // Right-aligned: an operand with fewer "..." dimensions takes the last ones.
  const int64_t total = rank >= 0 ? *ellipsis : n_ell;
  for (int64_t k = total - n_ell; k < total; ++k) out.push_back(256 + static_cast<int>(k));
  out.insert(out.end(), letters.begin() + at_ellipsis, letters.end());
  return out;
}

bool has(const Labels& l, int v) { return std::find(l.begin(), l.end(), v) != l.end(); }

// x's axes reordered to `order` (labels of x's), when that is not already x's order.
int permute(OnnxImporter& m, int x, const Labels& labels, const Labels& order) {
  std::vector<int64_t> perm;
  for (int v : order) perm.push_back(std::find(labels.begin(), labels.end(), v) - labels.begin());
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i)
    identity = identity && perm[i] == static_cast<int64_t>(i);
  return identity ? x : m.emit1("Transpose", {x}, {{"perm", perm}});
}

int reshape(OnnxImporter& m, int x, const std::vector<int64_t>& dims) {
  if (m.info(x).shape == Shape(dims)) return x;
  return m.emit1("Reshape", {x}, {{"shape", dims}});
}

// Sums x over its labels that `keep` lacks; updates `labels`.
int sum_out(OnnxImporter& m, int x, Labels& labels, const std::function<bool(int)>& keep) {
  std::vector<int64_t> axes;
  Labels kept;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (keep(labels[i]))
      kept.push_back(labels[i]);
    else
      axes.push_back(static_cast<int64_t>(i));
  }
  labels = kept;
  if (axes.empty()) return x;
  return m.emit1("ReduceSum", {x}, {{"axis", axes}, {"keep_dims", false}});
}

}  // namespace einsum

void import_einsum(OnnxImporter& m) {
  using namespace einsum;
  m.require_inputs(1, 2);
  const std::string eq = m.attr_string("equation", "");
  if (eq.empty()) m.fail("attribute 'equation' is required");
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  const size_t comma = lhs.find(',');
  const size_t n = m.num_inputs();
  if ((comma == std::string::npos) != (n == 1) ||
      (comma != std::string::npos && lhs.find(',', comma + 1) != std::string::npos))
    m.fail("the equation's terms do not match the " + std::to_string(n) + " inputs");
  std::vector<int> x;
  std::vector<std::string> terms;
  int64_t ellipsis = 0;
  for (size_t i = 0; i < n; ++i) {
    x.push_back(m.input(i));
    terms.push_back(i == 0 ? lhs.substr(0, comma) : lhs.substr(comma + 1));
    (void)parse_term(m, terms.back(), m.rank(x.back()), &ellipsis);  // the widest "..." first
  }
  std::vector<Labels> in;
  for (size_t i = 0; i < n; ++i) {
    in.push_back(parse_term(m, terms[i], m.rank(x[i]), &ellipsis));
    for (size_t a = 0; a < in.back().size(); ++a)
      for (size_t b = a + 1; b < in.back().size(); ++b)
        if (in.back()[a] == in.back()[b])
          m.unsupported("an index repeated within one operand (a diagonal) is not supported");
  }
  Labels out;
  if (arrow != std::string::npos) {
    out = parse_term(m, eq.substr(arrow + 2), -1, &ellipsis);
  } else {  // implicit: the "..." dimensions, then the letters used once, sorted
    std::map<int, int> uses;
    for (const auto& l : in)
      for (int v : l) ++uses[v];
    for (int64_t k = 0; k < ellipsis; ++k) out.push_back(256 + static_cast<int>(k));
    for (const auto& [v, count] : uses)
      if (v < 256 && count == 1) out.push_back(v);
  }
  for (size_t a = 0; a < out.size(); ++a) {
    if (!has(in[0], out[a]) && (n == 1 || !has(in[1], out[a])))
      m.fail("an output index appears in no input");
    if (std::find(out.begin() + static_cast<std::ptrdiff_t>(a) + 1, out.end(), out[a]) != out.end())
      m.fail("an output index appears twice");
  }
  // Size of each label (the larger of two: a 1 broadcasts).
  std::map<int, int64_t> size;
  for (size_t i = 0; i < n; ++i)
    for (size_t a = 0; a < in[i].size(); ++a) {
      const int64_t d = m.info(x[i]).shape[a];
      auto [it, fresh] = size.emplace(in[i][a], d);
      if (!fresh && it->second != d && it->second != 1 && d != 1)
        m.fail("index sizes " + std::to_string(it->second) + " and " + std::to_string(d) +
               " do not agree");
      it->second = std::max(it->second, d);
    }
  if (n == 1) {
    int y = sum_out(m, x[0], in[0], [&](int v) { return has(out, v); });
    m.set_output(0, permute(m, y, in[0], out));
    return;
  }
  for (size_t i = 0; i < 2; ++i)
    x[i] = sum_out(m, x[i], in[i], [&](int v) { return has(out, v) || has(in[1 - i], v); });
  Labels batch, contract, left, right;
  for (int v : in[0]) {
    if (has(in[1], v))
      (has(out, v) ? batch : contract).push_back(v);
    else
      left.push_back(v);
  }
  for (int v : in[1])
    if (!has(in[0], v)) right.push_back(v);
  auto dims_of = [&](int xi, const Labels& labels, const Labels& which) {
    std::vector<int64_t> d;
    for (int v : which)
      d.push_back(m.info(xi).shape[static_cast<size_t>(std::find(labels.begin(), labels.end(), v) -
                                                       labels.begin())]);
    return d;
  };
  auto prod = [&](const Labels& which) {
    int64_t p = 1;  // overflows where an operand has no elements (a zero among its dimensions)
    for (int v : which)
      if (__builtin_mul_overflow(p, size[v], &p))
        m.unsupported("the merged sizes of the operands' indices overflow int64");
    return p;
  };
  for (int v : contract)
    if (dims_of(x[0], in[0], {v}) != dims_of(x[1], in[1], {v}))
      m.unsupported("a contracted index that broadcasts is not supported");
  Labels a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), left.begin(), left.end());
  a_order.insert(a_order.end(), contract.begin(), contract.end());
  b_order.insert(b_order.end(), contract.begin(), contract.end());
  b_order.insert(b_order.end(), right.begin(), right.end());
  std::vector<int64_t> a_dims = dims_of(x[0], in[0], batch), b_dims = dims_of(x[1], in[1], batch);
  int a = permute(m, x[0], in[0], a_order), b = permute(m, x[1], in[1], b_order);
  a_dims.push_back(prod(left));
  a_dims.push_back(prod(contract));
  b_dims.push_back(prod(contract));
  b_dims.push_back(prod(right));
  a = reshape(m, a, a_dims);
  b = reshape(m, b, b_dims);
  int y = m.emit1("BatchMatMul", {a, b}, {{"transpose_a", false}, {"transpose_b", false}});
  Labels y_labels = batch;
  std::vector<int64_t> y_dims;
  for (int v : batch) y_dims.push_back(size[v]);
  for (const Labels* part : {&left, &right})
    for (int v : *part) {
      y_labels.push_back(v);
      y_dims.push_back(size[v]);
    }
  y = reshape(m, y, y_dims);
  m.set_output(0, permute(m, y, y_labels, out));
}

// The longest sequence import_gru unrolls (some 15 nodes a step).
constexpr int64_t kMaxGruSteps = 1 << 14;

// GRU(X, W, R, B, sequence_lens, initial_h) → (Y, Y_h), unrolled over the sequence (its length is
// static): MindSpore has no GRU primitive it writes on CPU (nn.GRU is exported unrolled, step by
// step), so neither has cellar; this reads ONNX's GRU as the same steps. Per direction (forward,
// reverse, bidirectional), gates z, r, h in W, R and B (Wb then Rb):
//   z = σ(x·Wzᵀ + h·Rzᵀ + Wbz + Rbz), r = σ(x·Wrᵀ + h·Rrᵀ + Wbr + Rbr),
//   n = tanh(x·Whᵀ + Wbh + r ⊙ (h·Rhᵀ + Rbh))    (linear_before_reset = 1)
//   n = tanh(x·Whᵀ + Wbh + (r ⊙ h)·Rhᵀ + Rbh)    (linear_before_reset = 0)
//   h' = n + z ⊙ (h − n)
// layout 0 and 1. Refused: sequence_lens shorter than the sequence, clip, non-default activations.
void import_gru(OnnxImporter& m) {
  m.require_inputs(3, 6);
  const std::string direction = m.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    m.fail("direction must be forward, reverse or bidirectional, got \"" + direction + "\"");
  for (const char* a : {"activations", "activation_alpha", "activation_beta", "clip"})
    if (m.has_attr(a)) m.unsupported(std::string("attribute '") + a + "' is not supported");
  const int64_t layout = m.attr_int("layout", 0);
  if (layout != 0 && layout != 1) m.fail("layout must be 0 or 1");
  const bool lbr = m.attr_int("linear_before_reset", 0) != 0;
  const int64_t D = direction == "bidirectional" ? 2 : 1;
  int x = m.input(0);
  if (m.rank(x) != 3) m.fail("X must have rank 3");
  const std::vector<int64_t> swap01 = {1, 0, 2};
  if (layout == 1) x = m.emit1("Transpose", {x}, {{"perm", swap01}});
  const Shape xs = m.info(x).shape;
  const int64_t S = xs[0], B = xs[1], I = xs[2];
  const int w = m.input(1), r = m.input(2);
  const Shape ws = m.info(w).shape;
  if (ws.rank() != 3 || ws[0] != D || ws[1] % 3 != 0 || ws[1] == 0 || ws[2] != I)
    m.fail("W must be (" + std::to_string(D) + ", 3·hidden, " + std::to_string(I) + "), got " +
           ws.str());
  const int64_t H = ws[1] / 3;
  // Declared sizes (X, W and R may be graph inputs of any size) bound the nodes this unrolls to
  // and the constants it makes: 6·H and B·H below stay in int64, the steps under a few hundred
  // thousand nodes.
  if (H > kOnnxMaxConstElements) m.unsupported("a hidden size above 2^22");
  if (S > kMaxGruSteps)
    m.unsupported("a sequence of " + std::to_string(S) + " steps (cellar unrolls GRU; at most " +
                  std::to_string(kMaxGruSteps) + ")");
  if (B > kOnnxMaxConstElements) m.unsupported("a batch above 2^22");
  if (m.has_attr("hidden_size") && m.attr_int("hidden_size", 0) != H)
    m.fail("hidden_size disagrees with W's " + ws.str());
  if (m.info(r).shape != Shape{D, 3 * H, H})
    m.fail("R must be " + Shape{D, 3 * H, H}.str() + ", got " + m.info(r).shape.str());
  if (m.has_input(3) && m.info(m.input(3)).shape != Shape{D, 6 * H})
    m.fail("B must be " + Shape{D, 6 * H}.str() + ", got " + m.info(m.input(3)).shape.str());
  m.require_full_sequence_lens(4, B, S, "GRU");
  if (S == 0) m.unsupported("an empty sequence");
  const DType dt = m.info(x).dtype;
  int h0 = -1;
  if (m.has_input(5)) {
    h0 = m.input(5);
    if (layout == 1) h0 = m.emit1("Transpose", {h0}, {{"perm", swap01}});
    if (m.info(h0).shape != Shape{D, B, H})
      m.fail("initial_h must be " + Shape{D, B, H}.str() + ", got " + m.info(h0).shape.str());
  }
  auto reshape = [&](int v, std::vector<int64_t> shape) {
    return m.emit1("Reshape", {v}, {{"shape", std::move(shape)}});
  };
  auto cols = [&](int v, int64_t gate) {  // gate block `gate` (z, r, h) of the last axis
    return m.take(v, 1, ops::index_range(gate * H, (gate + 1) * H));
  };
  auto matmul_t = [&](int a, int b) {  // a · bᵀ
    return m.emit1("MatMul", {a, b}, {{"transpose_a", false}, {"transpose_b", true}});
  };
  const int x2 = reshape(x, {S * B, I});
  std::vector<int> ys, hs;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const int wd = reshape(m.take(w, 0, {d}), {3 * H, I});
    const int rd = reshape(m.take(r, 0, {d}), {3 * H, H});
    const int rh = m.take(rd, 0, ops::index_range(2 * H, 3 * H));
    int xw = matmul_t(x2, wd);  // every step's input share: (S·B, 3H)
    int rb = -1;
    if (m.has_input(3)) {
      const int bd = reshape(m.take(m.input(3), 0, {d}), {6 * H});
      xw = m.emit1("Add", {xw, m.take(bd, 0, ops::index_range(0, 3 * H))});
      rb = m.take(bd, 0, ops::index_range(3 * H, 6 * H));
    }
    const int xw3 = reshape(xw, {S, B, 3 * H});
    int h = h0 >= 0 ? reshape(m.take(h0, 0, {d}), {B, H}) : -1;
    if (h < 0) {
      m.charge_generated(static_cast<uint64_t>(B * H) * itemsize(dt));
      h = m.constant(zeros(Shape{B, H}, dt));
    }
    std::vector<int> steps(static_cast<size_t>(S));
    for (int64_t k = 0; k < S; ++k) {
      const int64_t t = reverse ? S - 1 - k : k;
      const int xg = reshape(m.take(xw3, 0, {t}), {B, 3 * H});
      int hr = matmul_t(h, rd);  // (B, 3H)
      if (rb >= 0) hr = m.emit1("Add", {hr, rb});
      const int z = m.emit1("Sigmoid", {m.emit1("Add", {cols(xg, 0), cols(hr, 0)})});
      const int rg = m.emit1("Sigmoid", {m.emit1("Add", {cols(xg, 1), cols(hr, 1)})});
      int hh;
      if (lbr) {
        hh = m.emit1("Mul", {rg, cols(hr, 2)});
      } else {
        hh = matmul_t(m.emit1("Mul", {rg, h}), rh);
        if (rb >= 0) hh = m.emit1("Add", {hh, m.take(rb, 0, ops::index_range(2 * H, 3 * H))});
      }
      const int n = m.emit1("Tanh", {m.emit1("Add", {cols(xg, 2), hh})});
      h = m.emit1("Add", {n, m.emit1("Mul", {z, m.emit1("Sub", {h, n})})});
      steps[static_cast<size_t>(t)] = h;
    }
    ys.push_back(m.emit1("Stack", steps, {{"axis", int64_t{0}}}));  // (S, B, H)
    hs.push_back(h);
  }
  if (m.has_output(0)) {
    int y = m.emit1("Stack", ys, {{"axis", int64_t{1}}});  // (S, D, B, H)
    if (layout == 1) y = m.emit1("Transpose", {y}, {{"perm", std::vector<int64_t>{2, 0, 1, 3}}});
    m.set_output(0, y);
  }
  if (m.num_outputs() > 1 && m.has_output(1)) {
    int yh = m.emit1("Stack", hs, {{"axis", int64_t{0}}});  // (D, B, H)
    if (layout == 1) yh = m.emit1("Transpose", {yh}, {{"perm", swap01}});
    m.set_output(1, yh);
  }
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
        {"Shrink", import_shrink},
        {"Range", import_range},
        {"Einsum", import_einsum},
        {"GRU", import_gru},
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
