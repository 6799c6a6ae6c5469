// TopK(x; k, sorted) → (values, indices) and TopkExt(x; k, dim, largest, sorted) → (values,
// indices): the k largest (largest = false: smallest) elements along one axis, in order from the
// most extreme, with their positions; ties go to the lower position (ONNX's rule; MindSpore 2.10's
// CPU kernel orders equal values as its heap leaves them: [1, 1, 1, 1] top 2 gives positions 2, 3),
// and a NaN counts as larger than any number (as torch.topk). The outputs are x's shape with the
// axis cut to k. MindSpore 2.x writes ops.topk / Tensor.topk as the Python PRIMITIVE "TopK"
// (attribute sorted, k a constant input; always the last axis and the largest: for another dim or
// largest=False ops.topk wraps it in Transpose and Neg), with Int32 indices; mint.topk as the
// PRIMITIVE_FUNCTION "TopkExt" (k, dim, largest, sorted constant inputs; ops_def topk_ext_op.yaml)
// with Int64 indices. `sorted` = false lets MindSpore return the k in any order; cellar returns
// them sorted, which is one such order. ONNX's TopK (opset 11 on: k an input, axis, largest,
// sorted; Int64 indices) is written for both (TopK's indices then Cast to Int32) and read as
// TopkExt. A k computed in the graph (torch's x.topk(x.size(1) // 2) on a dynamic axis) makes
// TopkExt's two-input form TopkExt(x, k): k a value input (OpDef::value_inputs), a (1,) Int64 or
// Int32 tensor written in as the attribute per plan; MindIR carries k only as a constant.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

struct TopkPlan {
  int64_t k = 0, outer = 1, len = 1, inner = 1;
  size_t axis = 0;
  bool largest = true;
  Shape out;
};

TopkPlan topk_plan(const std::string& op, const TensorType& x, const ir::Attrs& a, bool ext) {
  require_dtype_in(op, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  if (x.shape.rank() == 0) shape_error(op, "input must have rank >= 1");
  TopkPlan p;
  const auto rank = static_cast<int64_t>(x.shape.rank());
  p.axis = static_cast<size_t>(ext ? normalize_axis(op, attr_int(a, op, "dim", -1), rank)
                                   : static_cast<size_t>(rank - 1));
  p.largest = ext ? attr_bool(a, op, "largest", true) : true;
  (void)attr_bool(a, op, "sorted", true);
  p.k = attr_int(a, op, "k");
  std::vector<int64_t> out;
  for (size_t d = 0; d < x.shape.rank(); ++d) {
    (d < p.axis ? p.outer : d == p.axis ? p.len : p.inner) *= x.shape[d];
    out.push_back(d == p.axis ? p.k : x.shape[d]);
  }
  if (p.k < 0 || p.k > p.len)
    throw ValueError(ErrorCode::kInvalidArgument,
                     op + ": k = " + std::to_string(p.k) + " is outside [0, " +
                         std::to_string(p.len) + "], the length of axis " + std::to_string(p.axis) +
                         " of " + x.shape.str());
  p.out = Shape(out);
  return p;
}

// The two-input form's k: one Int64 or Int32 number in a (1,) tensor, as ONNX's TopK takes it.
void check_k_input(const std::string& op, const TensorType& k) {
  if (k.dtype != DType::Int64 && k.dtype != DType::Int32)
    dtype_error(op,
                "the k input must be Int64 or Int32, got " + std::string(mindspore_name(k.dtype)));
  if (k.shape != Shape{1})
    shape_error(op, "the k input must have shape (1,), got " + k.shape.str());
}

// The node's attributes with k: the two-input form's value written in, or, with the value unknown
// (a representative type, at load), the whole axis.
ir::Attrs with_k(const std::string& op, std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (in.size() < 2) return attrs;
  check_k_input(op, in[1]);
  if (attrs.count("k")) return attrs;
  ir::Attrs a = attrs;
  a["k"] = int64_t{0};
  const TopkPlan p = topk_plan(op, in[0], a, true);
  a["k"] = p.len;
  return a;
}

ir::Attrs k_from_values(const std::string& op, std::span<const TensorType> in,
                        std::span<const Tensor> v, const ir::Attrs& attrs) {
  check_k_input(op, in[1]);
  ir::Attrs a = attrs;
  a["k"] = v[1].dtype() == DType::Int64 ? v[1].data<int64_t>()[0]
                                        : static_cast<int64_t>(v[1].data<int32_t>()[0]);
  return a;
}

// a before b in the result: more extreme first, then the lower position.
template <class T>
bool before(T a, int64_t ia, T b, int64_t ib, bool largest) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) {
      if (na && nb) return ia < ib;
      return largest ? na : nb;  // NaN is the largest
    }
  }
  if (a != b) return largest ? a > b : a < b;
  return ia < ib;
}

template <class T, class I>
Kernel topk_kernel(TopkPlan p) {
  return [p](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
    const T* x = in[0].data<T>();
    T* val = out[0].data<T>();
    I* idx = out[1].data<I>();
    const int64_t slices = p.outer * p.inner;
    par.for_range(slices, std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, p.len)),
                  [&](int64_t s0, int64_t s1, int w) {
                    int64_t* order = par.scratch<int64_t>(w, static_cast<size_t>(p.len));
                    for (int64_t s = s0; s < s1; ++s) {
                      const int64_t o = s / p.inner, i = s % p.inner;
                      const T* base = x + o * p.len * p.inner + i;
                      for (int64_t j = 0; j < p.len; ++j) order[j] = j;
                      std::partial_sort(
                          order, order + p.k, order + p.len, [&](int64_t a, int64_t b) {
                            return before(base[a * p.inner], a, base[b * p.inner], b, p.largest);
                          });
                      for (int64_t j = 0; j < p.k; ++j) {
                        const int64_t at = (o * p.k + j) * p.inner + i;
                        val[at] = base[order[j] * p.inner];
                        idx[at] = static_cast<I>(order[j]);
                      }
                    }
                  });
  };
}

template <class I>
Kernel make(const TopkPlan& p, DType dt) {
  switch (dt) {
    case DType::Float64:
      return topk_kernel<double, I>(p);
    case DType::Int32:
      return topk_kernel<int32_t, I>(p);
    case DType::Int64:
      return topk_kernel<int64_t, I>(p);
    default:
      return topk_kernel<float, I>(p);
  }
}

OpDef topk_row(bool ext) {
  const std::string op = ext ? "TopkExt" : "TopK";
  const DType index = ext ? DType::Int64 : DType::Int32;
  OpDef d{
      .name = op,
      .max_inputs = ext ? 2 : 1,
      .num_outputs = 2,
      .infer =
          [op, ext, index](std::span<const TensorType> in, const ir::Attrs& attrs) {
            const TopkPlan p = topk_plan(op, in[0], with_k(op, in, attrs), ext);
            return std::vector<TensorType>{{in[0].dtype, p.out}, {index, p.out}};
          },
      .make_kernel = [op, ext](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
        const TopkPlan p = topk_plan(op, in[0], with_k(op, in, attrs), ext);
        return ext ? make<int64_t>(p, in[0].dtype) : make<int32_t>(p, in[0].dtype);
      }};
  if (ext) {
    d.value_inputs = {1};
    d.attrs_from_values = [op](std::span<const TensorType> in, std::span<const Tensor> v,
                               const ir::Attrs& attrs) { return k_from_values(op, in, v, attrs); };
  }
  if (ext)
    d.mindir = {.primitive = op,
                .attr_inputs = {"k", "dim", "largest", "sorted"},
                .defaults = {{"dim", int64_t{-1}}, {"largest", true}, {"sorted", true}}};
  else
    d.mindir = {.primitive = op,
                .attr_inputs = {"k"},
                .defaults = {{"sorted", true}},
                .primitive_function = false};
  d.onnx = [op, ext](OnnxBuilder& b, const ir::Node& n) {
    const ir::ValueInfo& x = b.info(n.inputs.at(0));
    std::vector<TensorType> in{{x.dtype, x.shape}};
    if (n.inputs.size() > 1) in.push_back({b.info(n.inputs[1]).dtype, b.shape(n.inputs[1])});
    const TopkPlan p =
        onnx_checked(b, n, [&] { return topk_plan(op, in[0], with_k(op, in, n.attrs), ext); });
    const std::string vals = b.name(n.outputs.at(0)), idx = b.name(n.outputs.at(1));
    const std::string idx64 = ext ? idx : b.fresh(idx + "/int64");
    std::string k;
    if (n.inputs.size() > 1) {  // computed at run time: passed on, as ONNX reads it
      k = b.name(n.inputs[1]);
      if (in[1].dtype != DType::Int64) {
        const std::string cast = b.fresh(k + "/int64");
        b.add("Cast", {k}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
        k = cast;
      }
    } else {
      k = b.ints(vals + "/k", {p.k});
    }
    b.add("TopK", {b.name(n.inputs[0]), k}, {vals, idx64},
          {{"axis", static_cast<int64_t>(p.axis)},
           {"largest", int64_t{p.largest}},
           {"sorted", int64_t{1}}});
    if (!ext) b.add("Cast", {idx64}, {idx}, {{"to", *b.dtype_code(DType::Int32)}});
  };
  if (ext)
    d.onnx_import = {{"TopK", [](OnnxImporter& m) {
                        m.require_inputs(1, 2);
                        int64_t k = 0;
                        const int x = m.input(0);
                        const ir::Attrs attrs{{"dim", m.attr_int("axis", -1)},
                                              {"largest", m.attr_int("largest", 1) != 0},
                                              {"sorted", m.attr_int("sorted", 1) != 0}};
                        auto bind = [&](const std::vector<int>& outs) {
                          for (size_t i = 0; i < 2; ++i)
                            if (m.num_outputs() > i && m.has_output(i)) m.set_output(i, outs[i]);
                        };
                        if (m.opset() < 10) {
                          k = m.attr_int("k", -1);
                        } else if (!m.constant_input(1)) {
                          // K computed in the graph (read from a shape): the two-input form,
                          // planned with its value.
                          const int kv = m.input(1);
                          const ir::ValueInfo info = m.info(kv);
                          if ((info.dtype != DType::Int64 && info.dtype != DType::Int32) ||
                              info.shape != Shape{1} || !m.shape_known(kv) || info.open(0))
                            m.unsupported(
                                "K (computed in the graph) must be a (1,) int64 tensor fixed in "
                                "length at load time, got " +
                                info.type_str());
                          bind(m.emit("TopkExt", {x, kv}, attrs));
                          return;
                        } else {
                          const auto ks = m.const_ints(1);
                          if (ks.size() != 1) m.fail("K must hold one number");
                          k = ks[0];
                        }
                        ir::Attrs a = attrs;
                        a["k"] = k;
                        bind(m.emit("TopkExt", {x}, std::move(a)));
                      }}};
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(topk) {
  table.add(topk_row(false));
  table.add(topk_row(true));
}

}  // namespace cellar::ops
