// TensorScatterUpdate / Add / Sub / Mul / Div / Max / Min (data, indices, updates): a copy of
// `data` where the slices that `indices` name are replaced by (or combined with) `updates`, as
// MindSpore's TensorScatter* primitives and ONNX's ScatterND define it. `indices` (int32/int64)
// has shape (..., k) with 1 ≤ k ≤ rank(data); each row of k indices names the slice
// data[i0, …, ik-1, :, …]; `updates` has shape indices.shape[:-1] + data.shape[k:]. Indices are
// data, so each is checked when the kernel runs: in [-n, n) (negative counts from the end, as
// ONNX allows), else a ValueError naming it. Repeated indices apply in order (Update: last wins).
// ONNX: ScatterND with reduction none / add / mul (opset 16) and max / min (opset 18; cellar
// writes opset 17, so those two are read but not written); Sub and Div have no ONNX form.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

enum class Reduce { kUpdate, kAdd, kSub, kMul, kDiv, kMax, kMin };

struct ScatterGeometry {
  int64_t rows = 0;                    // index rows
  int64_t k = 0;                       // indices per row
  int64_t slice = 1;                   // elements per slice
  std::vector<int64_t> dims, strides;  // data's first k dims and their element strides
};

ScatterGeometry scatter_geometry(const std::string& op, std::span<const TensorType> in) {
  const Shape& data = in[0].shape;
  const Shape& idx = in[1].shape;
  const Shape& upd = in[2].shape;
  require_dtype_in(op, in[1].dtype, {DType::Int32, DType::Int64});
  if (in[2].dtype != in[0].dtype)
    throw ValueError(ErrorCode::kDTypeMismatch,
                     op + ": updates are " + std::string(mindspore_name(in[2].dtype)) +
                         " but data is " + std::string(mindspore_name(in[0].dtype)));
  if (data.rank() == 0) shape_error(op, "data must have rank >= 1");
  if (idx.rank() == 0) shape_error(op, "indices must have rank >= 1");
  ScatterGeometry g;
  g.k = idx[idx.rank() - 1];
  if (g.k < 1 || g.k > static_cast<int64_t>(data.rank()))
    shape_error(op, "the last dimension of indices (" + std::to_string(g.k) +
                        ") must be in [1, rank of data = " + std::to_string(data.rank()) + "]");
  std::vector<int64_t> want(idx.begin(), idx.end() - 1);
  for (size_t d = static_cast<size_t>(g.k); d < data.rank(); ++d) want.push_back(data[d]);
  if (Shape(want) != upd)
    shape_error(op, "updates have shape " + upd.str() + " but indices " + idx.str() + " and data " +
                        data.str() + " need " + Shape(want).str());
  g.rows = idx.numel() / std::max<int64_t>(g.k, 1);
  for (size_t d = static_cast<size_t>(g.k); d < data.rank(); ++d) g.slice *= data[d];
  int64_t stride = g.slice;
  g.dims.assign(data.begin(), data.begin() + g.k);
  g.strides.resize(static_cast<size_t>(g.k));
  for (int64_t d = g.k; d-- > 0;) {
    g.strides[static_cast<size_t>(d)] = stride;
    stride *= data[static_cast<size_t>(d)];
  }
  return g;
}

template <class T>
T combine(Reduce r, T a, T b) {
  switch (r) {
    case Reduce::kAdd:
      return static_cast<T>(a + b);
    case Reduce::kSub:
      return static_cast<T>(a - b);
    case Reduce::kMul:
      return static_cast<T>(a * b);
    case Reduce::kDiv:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;
      }
      return static_cast<T>(a / b);
    case Reduce::kMax:
      return std::max(a, b);
    case Reduce::kMin:
      return std::min(a, b);
    default:
      return b;
  }
}

template <class T, class I>
void scatter_run(const std::string& op, Reduce r, const ScatterGeometry& g, const Tensor& data,
                 const Tensor& indices, const Tensor& updates, Tensor& out) {
  const int64_t total = data.numel();
  if (out.raw_data() != data.raw_data())
    std::memcpy(out.raw_data(), data.raw_data(), static_cast<size_t>(total) * sizeof(T));
  const I* idx = indices.data<I>();
  const T* upd = reinterpret_cast<const T*>(updates.raw_data());
  T* y = reinterpret_cast<T*>(out.raw_data());
  for (int64_t row = 0; row < g.rows; ++row) {
    int64_t off = 0;
    for (int64_t j = 0; j < g.k; ++j) {
      int64_t i = static_cast<int64_t>(idx[row * g.k + j]);
      const int64_t n = g.dims[static_cast<size_t>(j)];
      if (i < -n || i >= n)
        throw ValueError(ErrorCode::kInvalidArgument,
                         op + ": index " + std::to_string(i) + " (row " + std::to_string(row) +
                             ", position " + std::to_string(j) + ") is out of range for size " +
                             std::to_string(n));
      if (i < 0) i += n;
      off += i * g.strides[static_cast<size_t>(j)];
    }
    const T* u = upd + row * g.slice;
    T* dst = y + off;
    if (r == Reduce::kUpdate)
      std::copy(u, u + g.slice, dst);
    else
      for (int64_t e = 0; e < g.slice; ++e) dst[e] = combine(r, dst[e], u[e]);
  }
}

template <class T>
Kernel scatter_kernel_t(const std::string& op, Reduce r, const ScatterGeometry& g, DType idx) {
  if (idx == DType::Int32)
    return [op, r, g](std::span<const Tensor> x, std::span<Tensor> y) {
      scatter_run<T, int32_t>(op, r, g, x[0], x[1], x[2], y[0]);
    };
  return [op, r, g](std::span<const Tensor> x, std::span<Tensor> y) {
    scatter_run<T, int64_t>(op, r, g, x[0], x[1], x[2], y[0]);
  };
}

OpDef scatter_row(const std::string& name, Reduce r) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 3;
  const bool update = r == Reduce::kUpdate;
  d.infer = [name, update](std::span<const TensorType> in, const ir::Attrs&) {
    if (update)
      tensor::require_numeric(name, in[0].dtype);
    else
      require_dtype_in(name, in[0].dtype,
                       {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
    scatter_geometry(name, in);
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [name, r](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const ScatterGeometry g = scatter_geometry(name, in);
    switch (in[0].dtype) {
      case DType::Float64:
        return scatter_kernel_t<double>(name, r, g, in[1].dtype);
      case DType::Int32:
        return scatter_kernel_t<int32_t>(name, r, g, in[1].dtype);
      case DType::Int64:
        return scatter_kernel_t<int64_t>(name, r, g, in[1].dtype);
      case DType::Float32:
        return scatter_kernel_t<float>(name, r, g, in[1].dtype);
      default:  // Update moves bytes of any other dtype
        return tensor::by_itemsize(in[0].dtype, [&](auto t) -> Kernel {
          return scatter_kernel_t<decltype(t)>(name, r, g, in[1].dtype);
        });
    }
  };
  d.mindir.primitive = name;
  return d;
}

const char* onnx_reduction(Reduce r) {
  switch (r) {
    case Reduce::kUpdate:
      return "none";
    case Reduce::kAdd:
      return "add";
    case Reduce::kMul:
      return "mul";
    case Reduce::kMax:
      return "max";
    case Reduce::kMin:
      return "min";
    default:
      return nullptr;
  }
}

void import_scatter_nd(OnnxImporter& m) {
  m.require_inputs(3, 3);
  const std::string red = m.attr_string("reduction", "none");
  const char* row = red == "none"  ? "TensorScatterUpdate"
                    : red == "add" ? "TensorScatterAdd"
                    : red == "mul" ? "TensorScatterMul"
                    : red == "max" ? "TensorScatterMax"
                    : red == "min" ? "TensorScatterMin"
                                   : nullptr;
  if (!row) m.fail("unknown reduction '" + red + "'");
  m.set_output(0, m.emit1(row, {m.input(0), m.input(1), m.input(2)}));
}

}  // namespace

CELLAR_REGISTER_OPS(tensor_scatter) {
  const std::pair<const char*, Reduce> rows[] = {
      {"TensorScatterUpdate", Reduce::kUpdate}, {"TensorScatterAdd", Reduce::kAdd},
      {"TensorScatterSub", Reduce::kSub},       {"TensorScatterMul", Reduce::kMul},
      {"TensorScatterDiv", Reduce::kDiv},       {"TensorScatterMax", Reduce::kMax},
      {"TensorScatterMin", Reduce::kMin}};
  for (const auto& [name, r] : rows) {
    OpDef d = scatter_row(name, r);
    if (const char* red = onnx_reduction(r)) {
      const std::string reduction = red;
      d.onnx = [reduction](OnnxBuilder& b, const ir::Node& n) {
        if (b.opset() < 18 && (reduction == "max" || reduction == "min"))
          b.fail(n, "ScatterND's reduction '" + reduction + "' needs opset 18; cellar writes " +
                        std::to_string(b.opset()));
        OnnxAttrs attrs;
        if (reduction != "none") attrs.emplace_back("reduction", reduction);
        b.add("ScatterND", b.input_names(n), {b.name(n.outputs.at(0))}, attrs);
      };
    }
    if (r == Reduce::kUpdate) d.onnx_import = {{"ScatterND", import_scatter_nd}};
    table.add(std::move(d));
  }
}

}  // namespace cellar::ops
