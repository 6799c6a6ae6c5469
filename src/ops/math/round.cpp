// Round(x; decimals): x rounded to `decimals` decimal places (default 0), halves to even (0.5 → 0,
// 1.5 → 2, 2.5 → 2: MindSpore 2.10's CPU kernel, NumPy and ONNX alike), for Float32 and Float64;
// integers are returned unchanged (Int32, Int64). With decimals ≠ 0, x · 10^d is rounded and
// divided back, as torch.round(decimals=) does. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Round"
// with decimals as a constant input (ops_def round_op.yaml); 1.x's Round had no decimals (x only).
// ONNX's Round (no decimals) is written for decimals 0 and read as this op.
#include <cmath>
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Round";

template <class T>
Kernel round_kernel(int64_t n, int64_t decimals) {
  const T scale = static_cast<T>(std::pow(10.0, static_cast<double>(decimals)));
  return [n, decimals, scale](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    const T* p = x[0].data<T>();
    T* q = y[0].data<T>();
    par.for_range(n, kElementGrain, [&](int64_t i0, int64_t i1, int) {
      // nearbyint rounds by the current mode: to nearest, ties to even, unless a caller changed
      // it; the default is what every peer uses.
      if (decimals == 0)
        for (int64_t i = i0; i < i1; ++i) q[i] = std::nearbyint(p[i]);
      else
        for (int64_t i = i0; i < i1; ++i) q[i] = std::nearbyint(p[i] * scale) / scale;
    });
  };
}

}  // namespace

CELLAR_REGISTER_OPS(round) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                require_dtype_in(kOp, in[0].dtype,
                                 {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
                const int64_t dec = attr_int(attrs, kOp, "decimals", 0);
                if (dec < -30 || dec > 30)
                  throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": decimals " +
                                                                    std::to_string(dec) +
                                                                    " is outside [-30, 30]");
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            const int64_t n = in[0].shape.numel();
            const int64_t dec = attr_int(attrs, kOp, "decimals", 0);
            switch (in[0].dtype) {
              case DType::Float64:
                return round_kernel<double>(n, dec);
              case DType::Float32:
                return round_kernel<float>(n, dec);
              default:  // integers: already whole
                return [](std::span<const Tensor> x, std::span<Tensor> y) {
                  std::memcpy(y[0].raw_data(), x[0].raw_data(), x[0].nbytes());
                };
            }
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"decimals"},
                     .defaults = {{"decimals", int64_t{0}}}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const int64_t dec = onnx_checked(b, n, [&] { return attr_int(n.attrs, kOp, "decimals", 0); });
    if (dec != 0)
      b.fail(n, "ONNX's Round has no decimals (this node rounds to " + std::to_string(dec) +
                    " places)");
    b.add("Round", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))});
  };
  d.onnx_import = {{"Round", onnx_unary(kOp)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
