#include "formats/onnx_sequence.h"

#include <algorithm>
#include <set>

#include "formats/onnx_builder.h"

namespace cellar::formats {

namespace {

const std::set<std::string>& sequence_ops() {
  static const std::set<std::string> ops = {
      "SequenceEmpty", "SequenceConstruct", "SequenceInsert",  "SequenceAt",
      "SequenceErase", "SequenceLength",    "SplitToSequence", "ConcatFromSequence"};
  return ops;
}

// Sequences longer than this are refused: each element is a value of the graph.
constexpr int64_t kMaxSequence = 1 << 16;

class SequenceImport {
 public:
  SequenceImport(ops::OnnxImporter& m, const std::vector<std::string>& in,
                 const std::vector<std::string>& out, OnnxSequences& seqs)
      : m_(m), in_(in), out_(out), seqs_(seqs) {}

  void run() {
    const std::string& op = m_.op_type();
    if (op == "SequenceEmpty") return empty();
    if (op == "SequenceConstruct") return construct();
    if (op == "SequenceInsert") return insert();
    if (op == "SequenceAt") return at();
    if (op == "SequenceErase") return erase();
    if (op == "SequenceLength") return length();
    if (op == "SplitToSequence") return split();
    if (op == "ConcatFromSequence") return concat();
    m_.fail("is not a sequence op");
  }

 private:
  // Input i, which must be a sequence made earlier in this graph.
  // (Its elements must be known unless `opaque_ok`: see OnnxSequence.)
  const OnnxSequence& seq(size_t i, bool opaque_ok = false) const {
    if (i >= in_.size() || in_[i].empty()) m_.fail("input " + std::to_string(i) + " is missing");
    auto it = seqs_.find(in_[i]);
    if (it == seqs_.end())
      m_.unsupported("input '" + in_[i] +
                     "' must be a sequence made by a sequence op of this graph (sequences that are "
                     "graph inputs are not supported)");
    if (it->second.opaque_length && !opaque_ok)
      m_.unsupported("the tensors of sequence '" + in_[i] +
                     "' have shapes known only at run time (split sizes that are not constant); "
                     "only its length is known at load time");
    return it->second;
  }
  void bind(OnnxSequence s) {
    if (out_.empty() || out_[0].empty()) return;
    if (static_cast<int64_t>(s.values.size()) > kMaxSequence)
      m_.unsupported("a sequence of over " + std::to_string(kMaxSequence) + " tensors");
    if (!seqs_.emplace(out_[0], std::move(s)).second)
      m_.fail("output '" + out_[0] + "' is bound twice");
  }
  // Adds value v's dtype to s (all elements share one).
  void check_dtype(OnnxSequence& s, int v) const {
    const DType dt = m_.info(v).dtype;
    if (s.dtype && *s.dtype != dt)
      m_.fail("a sequence of " + std::string(mindspore_name(*s.dtype)) + " cannot hold a " +
              std::string(mindspore_name(dt)) + " tensor");
    s.dtype = dt;
  }
  // The constant integer scalar (or one-element tensor) of input i, a position.
  int64_t position(size_t i) {
    const auto t = m_.constant_input(i);
    if (!t)
      m_.unsupported("the position (input " + std::to_string(i) +
                     ") must be a constant: sequences are resolved at load time");
    if (t->numel() != 1 || !(t->dtype() == DType::Int32 || t->dtype() == DType::Int64))
      m_.fail("the position must be an int32 or int64 scalar, got " +
              std::string(mindspore_name(t->dtype())) + t->shape().str());
    return static_cast<int64_t>(t->to(DType::Int64).data<int64_t>()[0]);
  }
  // p in [-n, n + extra) → [0, n + extra); FormatError otherwise (ONNX: an invalid position).
  int64_t normalize(int64_t p, size_t n, int64_t extra) const {
    const int64_t len = static_cast<int64_t>(n);
    if (p < -len || p >= len + extra)
      m_.fail("position " + std::to_string(p) + " is out of range for a sequence of " +
              std::to_string(len) + " tensors");
    return p < 0 ? p + len : p;
  }

  void empty() {
    m_.require_inputs(0, 0);
    OnnxSequence s;
    const int64_t code = m_.attr_int("dtype", 1);  // ONNX's default: float
    s.dtype = m_.dtype_of_code(code);
    if (!s.dtype) m_.unsupported("dtype " + std::to_string(code) + " is not supported");
    bind(std::move(s));
  }

  void construct() {
    if (m_.num_inputs() < 1) m_.fail("needs at least one input");
    OnnxSequence s;
    for (size_t i = 0; i < m_.num_inputs(); ++i) {
      const int v = m_.input(i);
      check_dtype(s, v);
      s.values.push_back(v);
    }
    bind(std::move(s));
  }

  void insert() {
    m_.require_inputs(2, 3);
    OnnxSequence s = seq(0);
    const int v = m_.input(1);
    check_dtype(s, v);
    int64_t at = static_cast<int64_t>(s.values.size());
    if (m_.has_input(2)) at = normalize(position(2), s.values.size(), 1);
    s.values.insert(s.values.begin() + at, v);
    bind(std::move(s));
  }

  void at() {
    m_.require_inputs(2, 2);
    const OnnxSequence& s = seq(0);
    const int64_t p = normalize(position(1), s.values.size(), 0);
    // A copy, so that the output is a value of its own under its ONNX name (the element may be
    // a graph input or another node's output).
    m_.set_output(0, m_.emit1("Identity", {s.values[static_cast<size_t>(p)]}));
  }

  void erase() {
    m_.require_inputs(1, 2);
    OnnxSequence s = seq(0);
    if (s.values.empty()) m_.fail("erases from an empty sequence");
    int64_t p = static_cast<int64_t>(s.values.size()) - 1;
    if (m_.has_input(1)) p = normalize(position(1), s.values.size(), 0);
    s.values.erase(s.values.begin() + p);
    bind(std::move(s));
  }

  void length() {
    m_.require_inputs(1, 1);
    const OnnxSequence& s = seq(0, true);
    const int64_t n = s.opaque_length.value_or(static_cast<int64_t>(s.values.size()));
    m_.set_output(0, m_.constant(Tensor::scalar(n)));
  }

  // split absent: one element per index along axis (squeezed unless keepdims); a scalar: parts
  // of that size (the last one smaller); a 1-D tensor: the part sizes, which must sum to the
  // axis.
  void split() {
    m_.require_inputs(1, 2);
    const int x = m_.input(0);
    const Shape xs = m_.info(x).shape;
    const int64_t r = static_cast<int64_t>(xs.rank());
    if (r == 0) m_.fail("the input must have rank >= 1");
    const int64_t axis = m_.axis(m_.attr_int("axis", 0), r);
    const int64_t len = xs[static_cast<size_t>(axis)];
    std::vector<int64_t> sizes;
    bool squeeze = false;
    if (m_.has_input(1)) {
      const auto t = m_.constant_input(1);
      if (!t) {
        // Sizes given at run time: as many tensors as a 1-D split has entries, of shapes unknown.
        const ir::ValueInfo split = m_.info(m_.input(1));
        if (split.shape.rank() != 1 || split.open(0))
          m_.unsupported(
              "split (input 1) must be a constant or a 1-D tensor of fixed length: "
              "sequences are resolved at load time");
        if (!(split.dtype == DType::Int32 || split.dtype == DType::Int64))
          m_.fail("split must be an int32 or int64 tensor");
        if (split.shape[0] > kMaxSequence) m_.unsupported("the split makes too many tensors");
        OnnxSequence s;
        s.dtype = m_.info(x).dtype;
        s.opaque_length = split.shape[0];
        return bind(std::move(s));
      }
      if (!(t->dtype() == DType::Int32 || t->dtype() == DType::Int64) || t->rank() > 1)
        m_.fail("split must be an int32 or int64 scalar or 1-D tensor");
      const Tensor s64 = t->to(DType::Int64);
      const int64_t* v = s64.data<int64_t>();
      if (t->rank() == 0) {
        if (v[0] < 1) m_.fail("split must be positive, got " + std::to_string(v[0]));
        if (len / v[0] >= kMaxSequence) m_.unsupported("the split makes too many tensors");
        for (int64_t at = 0; at < len; at += v[0]) sizes.push_back(std::min(v[0], len - at));
      } else {
        int64_t total = 0;
        for (int64_t i = 0; i < t->numel(); ++i) {
          if (v[i] < 0) m_.fail("split sizes must be non-negative");
          if (v[i] > len - total) m_.fail("split sizes exceed the axis' " + std::to_string(len));
          total += v[i];
          sizes.push_back(v[i]);
        }
        if (total != len)
          m_.fail("split sizes sum to " + std::to_string(total) + ", the axis has " +
                  std::to_string(len));
      }
    } else {
      if (len > kMaxSequence) m_.unsupported("the split makes too many tensors");
      sizes.assign(static_cast<size_t>(len), 1);
      squeeze = m_.attr_int("keepdims", 1) == 0;
    }
    OnnxSequence s;
    s.dtype = m_.info(x).dtype;
    int64_t at = 0;
    for (int64_t n : sizes) {
      int v = m_.take(x, axis, ops::index_range(at, at + n));
      if (squeeze) v = m_.emit1("Squeeze", {v}, {{"axis", std::vector<int64_t>{axis}}});
      s.values.push_back(v);
      at += n;
    }
    bind(std::move(s));
  }

  void concat() {
    m_.require_inputs(1, 1);
    const OnnxSequence& s = seq(0);
    if (s.values.empty()) m_.fail("concatenates an empty sequence");
    const bool new_axis = m_.attr_int("new_axis", 0) != 0;
    if (!m_.has_attr("axis")) m_.fail("attribute 'axis' is required");
    const int64_t r = m_.rank(s.values[0]);
    const int64_t axis = m_.axis(m_.attr_int("axis", 0), new_axis ? r + 1 : r);
    m_.set_output(0, m_.emit1(new_axis ? "Stack" : "Concat", s.values, {{"axis", axis}}));
  }

  ops::OnnxImporter& m_;
  const std::vector<std::string>& in_;
  const std::vector<std::string>& out_;
  OnnxSequences& seqs_;
};

}  // namespace

bool is_onnx_sequence_op(const std::string& op_type) { return sequence_ops().count(op_type) > 0; }

void import_onnx_sequence_op(ops::OnnxImporter& m, const std::vector<std::string>& inputs,
                             const std::vector<std::string>& outputs, OnnxSequences& seqs) {
  SequenceImport(m, inputs, outputs, seqs).run();
}

}  // namespace cellar::formats
