// StridedSlice(x; begin, end, strides, begin_mask, end_mask, ellipsis_mask, new_axis_mask,
// shrink_axis_mask): NumPy's basic indexing as TensorFlow's StridedSlice spells it, which is what
// MindSpore's `x[...]` compiles to. Entry i of begin/end/strides indexes one dimension unless bit
// i of a mask says otherwise: begin_mask/end_mask ignore begin[i]/end[i] (the whole range in the
// stride's direction), ellipsis_mask (one bit at most) stands for every dimension the other
// entries leave, new_axis_mask inserts a dimension of 1 (and wins over the other bits),
// shrink_axis_mask takes the single index begin[i] and drops the dimension. Entries fewer than
// the rank leave the trailing dimensions whole. Negative indices count from the end, out-of-range
// ones are clamped (as NumPy, except a shrunk index, which must be in range); strides may be
// negative, never 0.
//
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "StridedSlice" with all eight arguments as constant
// inputs (ops_def strided_slice_op.yaml); 1.x wrote the masks as primitive attributes and begin,
// end and strides as constant inputs. MindSpore 2.10's own kernel returns `x[:, 1:3, ::-1]`
// unreversed (tests/fixtures/mindspore/2.10/mindir/make_ops_a_fixtures.py shows it); cellar
// follows NumPy. ONNX: written as Slice of the dimensions it indexes, then Reshape when
// dimensions are shrunk or added; ONNX's Slice (constant starts, ends, axes, steps) is read as
// this op. ONNX's Slice whose starts or ends are computed at run time is read as the three-input
// form StridedSlice(x, starts, ends) with `slice_axes` and `slice_steps`: value inputs written in
// as begin/end/strides per plan (MindIR writes only the one-input form).
#include <algorithm>
#include <limits>
#include <set>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "StridedSlice";

// The slice resolved against x's shape: per dimension of x its first index, step and count, and
// the output shape (with new axes, without shrunk ones).
struct SlicePlan {
  std::vector<int64_t> start, step, count;
  Shape out;
};

// The ONNX form with starts and ends computed at run time: StridedSlice(x, starts, ends) with
// `slice_axes` and `slice_steps` (constants at load), the values written in per plan.
void check_slice_input(const TensorType& t, const char* what, size_t n) {
  if (t.dtype != DType::Int64 && t.dtype != DType::Int32)
    dtype_error(kOp, std::string("the ") + what + " input must be Int64 or Int32, got " +
                         std::string(mindspore_name(t.dtype)));
  if (t.shape != Shape{static_cast<int64_t>(n)})
    shape_error(kOp, std::string("the ") + what + " input must be 1-D of " + std::to_string(n) +
                         " entries (one per axis), got shape " + t.shape.str());
}

SlicePlan plan_slice(const Shape& x, const ir::Attrs& a) {
  const auto begin = attr_ints(a, kOp, "begin"), end = attr_ints(a, kOp, "end");
  const auto strides = attr_ints(a, kOp, "strides");
  if (begin.size() != end.size() || begin.size() != strides.size())
    shape_error(kOp, "begin, end and strides have different lengths (" +
                         std::to_string(begin.size()) + ", " + std::to_string(end.size()) + ", " +
                         std::to_string(strides.size()) + ")");
  if (begin.size() > 62) shape_error(kOp, "more than 62 index entries");
  auto mask = [&](const char* key) {
    const int64_t m = attr_int(a, kOp, key, 0);
    if (m < 0) shape_error(kOp, std::string(key) + " is negative");
    return static_cast<uint64_t>(m);
  };
  const uint64_t begin_mask = mask("begin_mask"), end_mask = mask("end_mask");
  const uint64_t ellipsis_mask = mask("ellipsis_mask"), new_axis_mask = mask("new_axis_mask");
  const uint64_t shrink_mask = mask("shrink_axis_mask");
  const size_t n = begin.size();
  auto bit = [](uint64_t m, size_t i) { return i < 64 && ((m >> i) & 1) != 0; };
  size_t ellipses = 0;
  for (size_t i = 0; i < n; ++i) ellipses += bit(ellipsis_mask, i);
  if (ellipses > 1) shape_error(kOp, "ellipsis_mask has more than one bit set");
  // Dimensions of x the entries index (every entry but new axes and the ellipsis).
  size_t indexed = 0;
  for (size_t i = 0; i < n; ++i)
    if (!bit(new_axis_mask, i) && !bit(ellipsis_mask, i)) ++indexed;
  const size_t rank = x.rank();
  if (indexed > rank)
    shape_error(kOp, std::to_string(indexed) + " indexed dimensions for input " + x.str());

  SlicePlan p;
  std::vector<int64_t> out;
  size_t d = 0;  // the next dimension of x
  auto whole = [&](size_t dim) {
    p.start.push_back(0);
    p.step.push_back(1);
    p.count.push_back(x[dim]);
    out.push_back(x[dim]);
  };
  for (size_t i = 0; i < n; ++i) {
    if (bit(ellipsis_mask, i)) {
      for (size_t left = rank - indexed; left > 0; --left) whole(d++);
      continue;
    }
    if (bit(new_axis_mask, i)) {
      out.push_back(1);
      continue;
    }
    const int64_t dim = x[d];
    const int64_t s = strides[i];
    if (bit(shrink_mask, i)) {
      int64_t k = begin[i];
      if (k < -dim || k >= dim)
        shape_error(kOp, "index " + std::to_string(k) + " is out of range for dimension " +
                             std::to_string(d) + " of size " + std::to_string(dim));
      if (k < 0) k += dim;
      p.start.push_back(k);
      p.step.push_back(1);
      p.count.push_back(1);
      ++d;
      continue;
    }
    if (s == 0) shape_error(kOp, "strides[" + std::to_string(i) + "] is 0");
    // NumPy's clamping: into [0, dim] going forward, [−1, dim − 1] going backward.
    const int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? dim : dim - 1;
    auto resolve = [&](int64_t v, bool masked, bool is_begin) {
      if (masked) return (s > 0) == is_begin ? lo : hi;
      if (v < 0) v = v < -dim ? lo : v + dim;  // no overflow for the type's minimum
      return std::clamp(v, lo, hi);
    };
    const int64_t b = resolve(begin[i], bit(begin_mask, i), true);
    const int64_t e = resolve(end[i], bit(end_mask, i), false);
    // ⌈(e − b) / s⌉ written so that no step (up to the type's extremes) overflows.
    int64_t count = 0;
    if (s > 0 && e > b) count = (e - b - 1) / s + 1;
    if (s < 0 && b > e)  // −s overflows for the minimum, which takes one element anyway
      count = s == std::numeric_limits<int64_t>::min() ? 1 : (b - e - 1) / (-s) + 1;
    p.start.push_back(b);
    p.step.push_back(s);
    p.count.push_back(count);
    out.push_back(count);
    ++d;
  }
  while (d < rank) whole(d++);
  if (out.size() > tensor::kMaxRank) shape_error(kOp, "output rank above 16");
  p.out = Shape(out);
  return p;
}

std::vector<TensorType> strided_slice_infer(std::span<const TensorType> in,
                                            const ir::Attrs& attrs) {
  tensor::require_numeric(kOp, in[0].dtype);
  if (in[0].shape.rank() > tensor::kMaxRank) shape_error(kOp, "input rank above 16");
  if (in.size() == 3 && !attrs.count("begin")) {
    // Starts and ends unknown: the whole input (the representative type).
    const size_t n = attr_ints(attrs, kOp, "slice_axes").size();
    check_slice_input(in[1], "starts", n);
    check_slice_input(in[2], "ends", n);
    return {{in[0].dtype, in[0].shape}};
  }
  return {{in[0].dtype, plan_slice(in[0].shape, attrs).out}};
}

// Walks the output in C order over x's dimensions (counts), moving the source offset by each
// dimension's step times its stride.
Kernel strided_slice_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Shape& xs = in[0].shape;
  const SlicePlan p = plan_slice(xs, attrs);
  const size_t r = xs.rank();
  std::vector<int64_t> stride(r, 1), delta(r);
  for (size_t d = r; d-- > 1;) stride[d - 1] = stride[d] * xs[d];
  int64_t base = 0, total = 1;
  for (size_t d = 0; d < r; ++d) {
    base += p.start[d] * stride[d];
    // A dimension taken once never steps (its step may be anything up to the type's extremes).
    delta[d] = p.count[d] > 1 ? p.step[d] * stride[d] : 0;
    total *= p.count[d];
  }
  // The innermost dimensions taken whole with step 1, and the one outside them taken with step 1,
  // make contiguous runs of the input: copied run by run (a channel split's x[0] of a
  // (2, c/2, h, w) view is one run; element by element it was 18% of shufflenet_v2_x1_0).
  size_t inner = r;
  int64_t run = 1;
  while (inner > 0) {
    const size_t d = inner - 1;
    if (p.count[d] > 1 && p.step[d] != 1) break;
    run *= p.count[d];
    inner = d;
    if (p.count[d] != xs[d]) break;
  }
  if (inner == r || total == 0) run = 1, inner = r;  // nothing contiguous: element by element
  return tensor::by_itemsize(in[0].dtype, [&](auto zero) -> Kernel {
    using T = decltype(zero);
    return [count = p.count, delta, base, total, inner, run](std::span<const Tensor> x,
                                                             std::span<Tensor> y) {
      const T* src = tensor::raw<T>(x[0]);
      T* dst = tensor::raw<T>(y[0]);
      int64_t idx[tensor::kMaxRank] = {0};
      int64_t off = base;
      // Dimensions [0, inner) stepped by the odometer, each step one run of `run` elements.
      for (int64_t i = 0; i < total; i += run) {
        if (run == 1)
          dst[i] = src[off];
        else
          std::copy_n(src + off, run, dst + i);
        for (size_t d = inner; d-- > 0;) {
          off += delta[d];
          if (++idx[d] < count[d]) break;
          off -= delta[d] * count[d];
          idx[d] = 0;
        }
      }
    };
  });
}

void export_strided_slice(OnnxBuilder& b, const ir::Node& n) {
  if (n.inputs.size() == 3) {  // ONNX's own form, starts and ends computed at run time
    const auto axes = onnx_checked(b, n, [&] { return attr_ints(n.attrs, kOp, "slice_axes"); });
    const auto steps = onnx_checked(b, n, [&] { return attr_ints(n.attrs, kOp, "slice_steps"); });
    const std::string y = b.name(n.outputs.at(0));
    std::vector<std::string> in{b.name(n.inputs[0])};
    for (size_t k = 1; k <= 2; ++k) {
      std::string v = b.name(n.inputs[k]);
      if (b.info(n.inputs[k]).dtype != DType::Int64) {
        const std::string cast = b.fresh(v + "/int64");
        b.add("Cast", {v}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
        v = cast;
      }
      in.push_back(v);
    }
    in.push_back(b.ints(y + "/axes", axes));
    in.push_back(b.ints(y + "/steps", steps));
    b.add("Slice", in, {y});
    return;
  }
  const int x = n.inputs.at(0);
  const Shape& xs = b.shape(x);
  const SlicePlan p = onnx_checked(b, n, [&] { return plan_slice(xs, n.attrs); });
  std::vector<int64_t> starts, ends, axes, steps;
  for (size_t d = 0; d < xs.rank(); ++d) {
    if (p.start[d] == 0 && p.step[d] == 1 && p.count[d] == xs[d]) continue;
    starts.push_back(p.start[d]);
    // The index one step past the last taken; below 0 is "before the start", which ONNX spells
    // as a large negative end.
    const int64_t last = p.start[d] + (p.count[d] - 1) * p.step[d];
    const int64_t stop = p.count[d] == 0 ? p.start[d] : last + (p.step[d] > 0 ? 1 : -1);
    ends.push_back(stop < 0 ? std::numeric_limits<int64_t>::min() : stop);
    axes.push_back(static_cast<int64_t>(d));
    steps.push_back(p.step[d]);
  }
  const std::string y = b.name(n.outputs.at(0));
  std::string cur = b.name(x);
  if (!axes.empty()) {
    const bool reshape = p.out.dims() != p.count;
    const std::string sliced = reshape ? b.fresh(y + "/sliced") : y;
    b.add("Slice",
          {cur, b.ints(y + "/starts", starts), b.ints(y + "/ends", ends), b.ints(y + "/axes", axes),
           b.ints(y + "/steps", steps)},
          {sliced});
    if (!reshape) return;
    cur = sliced;
  }
  b.add("Reshape", {cur, b.ints(y + "/shape", p.out.dims())}, {y});
}

// ONNX's Slice along `axes` (in range, distinct) with `steps` (non-zero) as this op's attributes
// for an input of shape x: ONNX clamps as NumPy does, so each entry maps to the same
// begin/end/stride; an end ONNX clamps to −1 ("before index 0" going backward) is an end_mask bit
// here, where −1 would mean the last index.
ir::Attrs onnx_slice_attrs(const Shape& x, const std::vector<int64_t>& starts,
                           const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                           const std::vector<int64_t>& steps) {
  const int64_t r = static_cast<int64_t>(x.rank());
  std::vector<int64_t> begin(static_cast<size_t>(r), 0), end(static_cast<size_t>(r), 0),
      stride(static_cast<size_t>(r), 1);
  int64_t begin_mask = 0, end_mask = 0;
  for (int64_t d = 0; d < r; ++d) begin_mask |= int64_t{1} << d, end_mask |= int64_t{1} << d;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = axes[i];
    const int64_t dim = x[static_cast<size_t>(axis)], step = steps[i];
    const auto a = static_cast<size_t>(axis);
    begin_mask &= ~(int64_t{1} << axis);
    begin[a] = starts[i];
    stride[a] = step;
    if (step < 0 && ends[i] < -dim) continue;  // clamps to −1: to the start (end_mask stays)
    end_mask &= ~(int64_t{1} << axis);
    end[a] = ends[i];
  }
  return {{"begin", begin},
          {"end", end},
          {"strides", stride},
          {"begin_mask", begin_mask},
          {"end_mask", end_mask}};
}

ir::Attrs slice_attrs(std::span<const TensorType> in, std::span<const Tensor> v,
                      const ir::Attrs& attrs) {
  if (!attrs.count("slice_axes"))
    shape_error(kOp,
                "start and end given as tensors need the attributes slice_axes and "
                "slice_steps (ONNX's Slice); MindSpore's begin, end and strides must be "
                "constants");
  const auto axes = attr_ints(attrs, kOp, "slice_axes");
  const auto steps = attr_ints(attrs, kOp, "slice_steps");
  const int64_t r = static_cast<int64_t>(in[0].shape.rank());
  if (steps.size() != axes.size() || axes.size() > 62)
    shape_error(kOp, "slice_axes and slice_steps must have one length, at most 62");
  std::set<int64_t> seen;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= r || !seen.insert(axes[i]).second)
      shape_error(kOp, "slice_axes must be distinct axes of the input " + in[0].shape.str());
    if (steps[i] == 0) shape_error(kOp, "slice_steps must not be 0");
  }
  auto ints = [&](size_t k, const char* what) {
    check_slice_input(in[k], what, axes.size());
    std::vector<int64_t> out(axes.size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = v[k].dtype() == DType::Int64 ? v[k].data<int64_t>()[i] : v[k].data<int32_t>()[i];
    return out;
  };
  return onnx_slice_attrs(in[0].shape, ints(1, "starts"), ints(2, "ends"), axes, steps);
}

// ONNX's Slice: constant starts/ends/axes/steps are this op's attributes; starts or ends computed
// at run time (x[:, :n] with n read from a shape) make the three-input form above.
void import_slice(OnnxImporter& m) {
  m.require_inputs(3, 5);
  const int x = m.input(0);
  const int64_t r = m.rank(x);
  const bool dynamic = !m.constant_input(1) || !m.constant_input(2);
  // Starts or ends computed at run time: their lengths from their (fixed) shapes.
  auto length = [&](size_t k) -> size_t {
    const Shape s = m.info(m.input(k)).shape;
    if (s.rank() != 1) m.fail("input " + std::to_string(k) + " must be 1-D, got " + s.str());
    return static_cast<size_t>(s[0]);
  };
  std::vector<int64_t> starts, ends;
  if (!dynamic) starts = m.const_ints(1), ends = m.const_ints(2);
  const size_t n = dynamic ? length(1) : starts.size();
  std::vector<int64_t> axes, steps(n, 1);
  if (m.num_inputs() > 3 && m.has_input(3))
    axes = m.const_ints(3);
  else
    for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
  if (m.num_inputs() > 4 && m.has_input(4)) steps = m.const_ints(4);
  if ((dynamic ? length(2) : ends.size()) != n || axes.size() != n || steps.size() != n)
    m.fail("starts, ends, axes and steps must have the same length");
  if (r > 62) m.unsupported("rank above 62");
  std::set<int64_t> seen;
  for (size_t i = 0; i < axes.size(); ++i) {
    axes[i] = m.axis(axes[i], r);
    if (!seen.insert(axes[i]).second) m.fail("axes repeat axis " + std::to_string(axes[i]));
    if (steps[i] == 0) m.fail("steps must not be 0");
  }
  if (!dynamic) {
    m.set_output(0,
                 m.emit1(kOp, {x}, onnx_slice_attrs(m.info(x).shape, starts, ends, axes, steps)));
    return;
  }
  for (size_t k = 1; k <= 2; ++k) {
    const ir::ValueInfo info = m.info(m.input(k));
    if (info.shape != Shape{static_cast<int64_t>(axes.size())} || !m.shape_known(m.input(k)))
      m.unsupported(
          "starts and ends (computed in the graph) must be 1-D of one entry per axis, "
          "fixed at load time, got " +
          info.shape_str());
  }
  m.set_output(
      0, m.emit1(kOp, {x, m.input(1), m.input(2)}, {{"slice_axes", axes}, {"slice_steps", steps}}));
}

}  // namespace

CELLAR_REGISTER_OPS(strided_slice) {
  OpDef d{.name = kOp,
          .max_inputs = 3,
          .infer = strided_slice_infer,
          .value_inputs = {1, 2},
          .attrs_from_values = slice_attrs,
          .make_kernel = strided_slice_kernel,
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"begin", "end", "strides", "begin_mask", "end_mask",
                                     "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"},
                     .defaults = {{"begin_mask", int64_t{0}},
                                  {"end_mask", int64_t{0}},
                                  {"ellipsis_mask", int64_t{0}},
                                  {"new_axis_mask", int64_t{0}},
                                  {"shrink_axis_mask", int64_t{0}}}}};
  d.onnx = export_strided_slice;
  d.onnx_import = {{"Slice", import_slice}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
