// CumSum(x; axis, exclusive, reverse): running sums along `axis` (exclusive: each element leaves
// itself out, so the first is 0; reverse: summed from the end), for Float32, Float64, Int32 and
// Int64, accumulated in the input's dtype as MindSpore does. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "CumSum" with axis, exclusive and reverse as constant inputs (ops_def
// cum_sum_op.yaml); 1.x wrote exclusive and reverse as primitive attributes and axis as an input.
// ONNX's CumSum is the same op (axis a tensor input, exclusive and reverse attributes).
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "CumSum";

struct CumPlan {
  int64_t outer = 1, len = 1, inner = 1;
  bool exclusive = false, reverse = false;
};

CumPlan cum_plan(const TensorType& x, const ir::Attrs& a) {
  require_dtype_in(kOp, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  if (x.shape.rank() == 0) shape_error(kOp, "input must have rank >= 1");
  const auto axis = static_cast<size_t>(
      normalize_axis(kOp, attr_int(a, kOp, "axis", 0), static_cast<int64_t>(x.shape.rank())));
  CumPlan p;
  for (size_t d = 0; d < x.shape.rank(); ++d)
    (d < axis ? p.outer : d == axis ? p.len : p.inner) *= x.shape[d];
  p.exclusive = attr_bool(a, kOp, "exclusive", false);
  p.reverse = attr_bool(a, kOp, "reverse", false);
  return p;
}

template <class T>
Kernel cum_kernel(CumPlan p) {
  return [p](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* src = x[0].data<T>();
    T* dst = y[0].data<T>();
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t i = 0; i < p.inner; ++i) {
        T acc = 0;
        for (int64_t k = 0; k < p.len; ++k) {
          const int64_t j = p.reverse ? p.len - 1 - k : k;
          const int64_t at = (o * p.len + j) * p.inner + i;
          if (p.exclusive) {
            dst[at] = acc;
            acc += src[at];
          } else {
            acc += src[at];
            dst[at] = acc;
          }
        }
      }
  };
}

void import_cumsum(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const auto axis = m.const_ints(1);
  if (axis.size() != 1) m.fail("axis must hold one integer");
  m.set_output(0, m.emit1(kOp, {m.input(0)},
                          {{"axis", axis[0]},
                           {"exclusive", m.attr_int("exclusive", 0) != 0},
                           {"reverse", m.attr_int("reverse", 0) != 0}}));
}

}  // namespace

CELLAR_REGISTER_OPS(cumsum) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                cum_plan(in[0], attrs);
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            const CumPlan p = cum_plan(in[0], attrs);
            switch (in[0].dtype) {
              case DType::Float64:
                return cum_kernel<double>(p);
              case DType::Int32:
                return cum_kernel<int32_t>(p);
              case DType::Int64:
                return cum_kernel<int64_t>(p);
              default:
                return cum_kernel<float>(p);
            }
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"axis", "exclusive", "reverse"},
                     .defaults = {{"exclusive", false}, {"reverse", false}}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const auto [axis, excl, rev] = onnx_checked(b, n, [&] {
      return std::tuple{attr_int(n.attrs, kOp, "axis", 0),
                        attr_bool(n.attrs, kOp, "exclusive", false),
                        attr_bool(n.attrs, kOp, "reverse", false)};
    });
    const std::string y = b.name(n.outputs.at(0));
    b.add(kOp,
          {b.name(n.inputs.at(0)), b.scalar(y + "/axis", static_cast<double>(axis), DType::Int64)},
          {y}, {{"exclusive", int64_t{excl}}, {"reverse", int64_t{rev}}});
  };
  d.onnx_import = {{kOp, import_cumsum}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
