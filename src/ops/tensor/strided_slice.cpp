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
// this op.
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
  return tensor::by_itemsize(in[0].dtype, [&](auto zero) -> Kernel {
    using T = decltype(zero);
    return
        [count = p.count, delta, base, total, r](std::span<const Tensor> x, std::span<Tensor> y) {
          const T* src = tensor::raw<T>(x[0]);
          T* dst = tensor::raw<T>(y[0]);
          int64_t idx[tensor::kMaxRank] = {0};
          int64_t off = base;
          for (int64_t i = 0; i < total; ++i) {
            dst[i] = src[off];
            for (size_t d = r; d-- > 0;) {
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

// ONNX's Slice with constant starts/ends/axes/steps: ONNX clamps as NumPy does, so each entry
// maps to the same begin/end/stride; an end ONNX clamps to −1 ("before index 0" going backward)
// is an end_mask bit here, where −1 would mean the last index.
void import_slice(OnnxImporter& m) {
  m.require_inputs(3, 5);
  const int x = m.input(0);
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
  if (r > 62) m.unsupported("rank above 62");
  std::vector<int64_t> begin(static_cast<size_t>(r), 0), end(static_cast<size_t>(r), 0),
      stride(static_cast<size_t>(r), 1);
  int64_t begin_mask = 0, end_mask = 0;
  for (int64_t d = 0; d < r; ++d) begin_mask |= int64_t{1} << d, end_mask |= int64_t{1} << d;
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = m.axis(axes[i], r);
    if (!seen.insert(axis).second) m.fail("axes repeat axis " + std::to_string(axis));
    const int64_t dim = m.info(x).shape[static_cast<size_t>(axis)], step = steps[i];
    if (step == 0) m.fail("steps must not be 0");
    const auto a = static_cast<size_t>(axis);
    begin_mask &= ~(int64_t{1} << axis);
    begin[a] = starts[i];
    stride[a] = step;
    if (step < 0 && ends[i] < -dim) continue;  // clamps to −1: to the start (end_mask stays)
    end_mask &= ~(int64_t{1} << axis);
    end[a] = ends[i];
  }
  m.set_output(0, m.emit1(kOp, {x},
                          {{"begin", begin},
                           {"end", end},
                           {"strides", stride},
                           {"begin_mask", begin_mask},
                           {"end_mask", end_mask}}));
}

}  // namespace

CELLAR_REGISTER_OPS(strided_slice) {
  OpDef d{.name = kOp,
          .infer = strided_slice_infer,
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
