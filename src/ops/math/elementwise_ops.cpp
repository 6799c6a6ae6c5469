// The elementwise, comparison and selection ops that exported CNNs and transformers use beside
// the basic arithmetic (MindSpore's primitive names):
//   Erf, Sqrt, Exp, Log, Reciprocal (floats); Neg (floats and ints)
//   Pow (floats), Minimum, Maximum (floats and ints), NumPy broadcasting
//   Equal, Greater, Less: Bool results, broadcasting, any numeric dtype (Equal also Bool)
//   Select(cond, x, y): x where cond else y, the three broadcast together (ONNX's Where)
//   ReduceMax(x; axis (tuple, empty: all), keep_dims)
//   Cast(x; dst_type: MindSpore's dtype name, e.g. "Float32"): value conversion as static_cast,
//     float → int saturating (NaN → 0), Bool results are 0/1
#include <cmath>
#include <functional>
#include <limits>

#include "ops/registry.h"
#include "ops/broadcast.h"

namespace cellar::ops {

namespace {

// ---- unary ----

struct Erf {
  template <class T>
  T operator()(T v) const {
    return std::erf(v);
  }
};
struct Sqrt {
  template <class T>
  T operator()(T v) const {
    return std::sqrt(v);
  }
};
struct Exp {
  template <class T>
  T operator()(T v) const {
    return std::exp(v);
  }
};
struct Log {
  template <class T>
  T operator()(T v) const {
    return std::log(v);
  }
};
struct Reciprocal {
  template <class T>
  T operator()(T v) const {
    return T(1) / v;
  }
};
struct Neg {
  template <class T>
  T operator()(T v) const {
    return static_cast<T>(-v);
  }
};

template <class T, class F>
Kernel unary_kernel(int64_t n) {
  return [n](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* p = x[0].data<T>();
    T* q = y[0].data<T>();
    const F f;
    for (int64_t i = 0; i < n; ++i) q[i] = f(p[i]);
  };
}

template <class F>
OpDef unary(const std::string& name, bool ints) {
  OpDef d;
  d.name = name;
  d.infer = [name, ints](std::span<const TensorType> in, const ir::Attrs&) {
    if (ints)
      require_dtype_in(name, in[0].dtype,
                       {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
    else
      require_dtype_in(name, in[0].dtype, {DType::Float32, DType::Float64});
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const int64_t n = in[0].shape.numel();
    switch (in[0].dtype) {
      case DType::Float64:
        return unary_kernel<double, F>(n);
      case DType::Int32:
        return unary_kernel<int32_t, F>(n);
      case DType::Int64:
        return unary_kernel<int64_t, F>(n);
      default:
        return unary_kernel<float, F>(n);
    }
  };
  d.mindir.primitive = name;
  return d;
}

// ---- binary (through broadcast.h) ----

template <class T>
struct PowF {
  T operator()(T a, T b) const { return static_cast<T>(std::pow(a, b)); }
};
template <class T>
struct MinF {
  T operator()(T a, T b) const { return b < a ? b : a; }
};
template <class T>
struct MaxF {
  T operator()(T a, T b) const { return a < b ? b : a; }
};

// ---- n-ary broadcasting walk (comparisons, Select) ----

// Per input, its element strides aligned to the output (0 along broadcast dimensions); calls
// f(i, offsets) for every output element i in order.
struct Walk {
  std::vector<std::vector<int64_t>> strides;
  std::vector<int64_t> dims;
  int64_t n = 0;

  Walk(std::span<const Shape> in, const Shape& out) : dims(out.dims()), n(out.numel()) {
    for (const Shape& s : in) strides.push_back(broadcast_strides(s, out));
  }
  template <size_t K, class F>
  void run(F f) const {
    int64_t idx[kMaxBroadcastRank] = {0};
    int64_t off[K] = {0};
    const size_t r = dims.size();
    for (int64_t i = 0; i < n; ++i) {
      f(i, off);
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        for (size_t k = 0; k < K; ++k) off[k] += strides[k][d];
        if (idx[d] < dims[d]) break;
        for (size_t k = 0; k < K; ++k) off[k] -= strides[k][d] * dims[d];
        idx[d] = 0;
      }
    }
  }
};

Shape broadcast_all(const std::string& op, std::span<const TensorType> in) {
  Shape s = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) s = broadcast_shape(op, s, in[i].shape);
  if (s.rank() > kMaxBroadcastRank) shape_error(op, "rank above 16 is not supported");
  return s;
}

template <class T, class Cmp>
Kernel compare_kernel(Walk w) {
  return [w](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* a = x[0].data<T>();
    const T* b = x[1].data<T>();
    uint8_t* o = reinterpret_cast<uint8_t*>(y[0].raw_data());
    const Cmp cmp;
    w.run<2>([&](int64_t i, const int64_t* off) { o[i] = cmp(a[off[0]], b[off[1]]) ? 1 : 0; });
  };
}

template <class Cmp>
OpDef compare(const std::string& name, bool bools) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = [name, bools](std::span<const TensorType> in, const ir::Attrs&) {
    require_same_dtype(name, in);
    if (bools)
      require_dtype_in(name, in[0].dtype,
                       {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool});
    else
      require_dtype_in(name, in[0].dtype,
                       {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
    return std::vector<TensorType>{{DType::Bool, broadcast_all(name, in)}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const Shape shapes[2] = {in[0].shape, in[1].shape};
    Walk w(shapes, broadcast_all(name, in));
    switch (in[0].dtype) {
      case DType::Float64:
        return compare_kernel<double, Cmp>(std::move(w));
      case DType::Int32:
        return compare_kernel<int32_t, Cmp>(std::move(w));
      case DType::Int64:
        return compare_kernel<int64_t, Cmp>(std::move(w));
      case DType::Bool:
        return compare_kernel<uint8_t, Cmp>(std::move(w));
      default:
        return compare_kernel<float, Cmp>(std::move(w));
    }
  };
  d.mindir.primitive = name;
  return d;
}

template <class T>
Kernel select_kernel(Walk w) {
  return [w](std::span<const Tensor> x, std::span<Tensor> y) {
    const auto* c = reinterpret_cast<const uint8_t*>(x[0].raw_data());
    const T* a = x[1].data<T>();
    const T* b = x[2].data<T>();
    T* o = y[0].data<T>();
    w.run<3>([&](int64_t i, const int64_t* off) { o[i] = c[off[0]] ? a[off[1]] : b[off[2]]; });
  };
}

OpDef select_op() {
  const std::string name = "Select";
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 3;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs&) {
    if (in[0].dtype != DType::Bool) dtype_error(name, "the condition must be Bool");
    require_same_dtype(name, in.subspan(1));
    require_dtype_in(name, in[1].dtype,
                     {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool});
    return std::vector<TensorType>{{in[1].dtype, broadcast_all(name, in)}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const Shape shapes[3] = {in[0].shape, in[1].shape, in[2].shape};
    Walk w(shapes, broadcast_all(name, in));
    switch (in[1].dtype) {
      case DType::Float64:
        return select_kernel<double>(std::move(w));
      case DType::Int32:
        return select_kernel<int32_t>(std::move(w));
      case DType::Int64:
        return select_kernel<int64_t>(std::move(w));
      case DType::Bool:
        return select_kernel<uint8_t>(std::move(w));
      default:
        return select_kernel<float>(std::move(w));
    }
  };
  d.mindir.primitive = name;
  return d;
}

// ---- ReduceMax ----

struct MaxPlan {
  Shape out;
  std::vector<int64_t> dims, strides;  // input dims; per input dim, its output stride (0: reduced)
};

MaxPlan max_plan(const TensorType& x, const ir::Attrs& attrs) {
  const std::string op = "ReduceMax";
  require_dtype_in(op, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  const auto axes = attr_ints(attrs, op, "axis");
  const bool keep = attr_bool(attrs, op, "keep_dims", false);
  const auto r = static_cast<int64_t>(x.shape.rank());
  std::vector<bool> reduced(static_cast<size_t>(r), axes.empty());
  for (int64_t a : axes) {
    if (a < -r || a >= r)
      shape_error(op, "axis " + std::to_string(a) + " out of range for rank " + std::to_string(r));
    reduced[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  }
  MaxPlan p;
  std::vector<int64_t> out_dims, kept;
  for (int64_t i = 0; i < r; ++i) {
    const int64_t d = x.shape[static_cast<size_t>(i)];
    if (reduced[static_cast<size_t>(i)]) {
      if (d == 0) shape_error(op, "cannot reduce an empty axis");
      if (keep) out_dims.push_back(1);
    } else {
      out_dims.push_back(d);
    }
  }
  p.out = Shape(out_dims);
  p.dims = x.shape.dims();
  p.strides.assign(static_cast<size_t>(r), 0);
  int64_t acc = 1;
  for (int64_t i = r; i-- > 0;) {
    if (reduced[static_cast<size_t>(i)]) continue;
    p.strides[static_cast<size_t>(i)] = acc;
    acc *= x.shape[static_cast<size_t>(i)];
  }
  return p;
}

template <class T>
Kernel max_kernel(MaxPlan p, int64_t n) {
  return [p, n](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* in = x[0].data<T>();
    T* o = y[0].data<T>();
    std::fill_n(o, p.out.numel(), std::numeric_limits<T>::lowest());
    std::vector<int64_t> idx(p.dims.size(), 0);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T v = in[i];
      if (v > o[off] || v != v) o[off] = v;  // NaN propagates, as in torch and ONNX Runtime
      for (size_t d = p.dims.size(); d-- > 0;) {
        ++idx[d];
        off += p.strides[d];
        if (idx[d] < p.dims[d]) break;
        off -= p.strides[d] * p.dims[d];
        idx[d] = 0;
      }
    }
  };
}

OpDef reduce_max_op() {
  OpDef d;
  d.name = "ReduceMax";
  d.infer = [](std::span<const TensorType> in, const ir::Attrs& attrs) {
    return std::vector<TensorType>{{in[0].dtype, max_plan(in[0], attrs).out}};
  };
  d.make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    MaxPlan p = max_plan(in[0], attrs);
    const int64_t n = in[0].shape.numel();
    switch (in[0].dtype) {
      case DType::Float64:
        return max_kernel<double>(std::move(p), n);
      case DType::Int32:
        return max_kernel<int32_t>(std::move(p), n);
      case DType::Int64:
        return max_kernel<int64_t>(std::move(p), n);
      default:
        return max_kernel<float>(std::move(p), n);
    }
  };
  d.mindir = {.primitive = "ReduceMax",
              .attr_inputs = {"axis", "keep_dims"},
              .defaults = {{"keep_dims", false}}};
  return d;
}

// ---- Cast ----

DType cast_target(const ir::Attrs& attrs) {
  auto it = attrs.find("dst_type");
  if (it == attrs.end() || !std::holds_alternative<std::string>(it->second))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "Cast: attribute 'dst_type' (a dtype name) is "
                     "required");
  const auto& s = std::get<std::string>(it->second);
  const auto t = dtype_from_mindspore_name(s);
  if (!t || *t == DType::String || *t == DType::Float16 || *t == DType::BFloat16)
    throw ValueError(ErrorCode::kUnsupported, "Cast: to '" + s + "' is not supported");
  return *t;
}

struct ToBool {};  // a Bool result: one byte, 0 or 1

template <class From, class To>
void cast_loop(const Tensor& x, Tensor& y, int64_t n) {
  const auto* p = reinterpret_cast<const From*>(x.raw_data());
  if constexpr (std::is_same_v<To, ToBool>) {
    auto* q = reinterpret_cast<uint8_t*>(y.raw_data());
    for (int64_t i = 0; i < n; ++i) q[i] = p[i] != From(0) ? 1 : 0;
  } else {
    auto* q = reinterpret_cast<To*>(y.raw_data());
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
        // Out-of-range and NaN are undefined for static_cast: saturate, NaN → 0.
        const From v = p[i];
        if (!(v == v))
          q[i] = 0;
        else if (v <= static_cast<From>(std::numeric_limits<To>::lowest()))
          q[i] = std::numeric_limits<To>::lowest();
        else if (v >= static_cast<From>(std::numeric_limits<To>::max()))
          q[i] = std::numeric_limits<To>::max();
        else
          q[i] = static_cast<To>(v);
      } else {
        q[i] = static_cast<To>(p[i]);
      }
    }
  }
}

template <class From>
Kernel cast_from(DType to, int64_t n) {
  return [to, n](std::span<const Tensor> x, std::span<Tensor> y) {
    switch (to) {
      case DType::Bool:
        return cast_loop<From, ToBool>(x[0], y[0], n);
      case DType::Int8:
        return cast_loop<From, int8_t>(x[0], y[0], n);
      case DType::Int16:
        return cast_loop<From, int16_t>(x[0], y[0], n);
      case DType::Int32:
        return cast_loop<From, int32_t>(x[0], y[0], n);
      case DType::Int64:
        return cast_loop<From, int64_t>(x[0], y[0], n);
      case DType::UInt8:
        return cast_loop<From, uint8_t>(x[0], y[0], n);
      case DType::UInt16:
        return cast_loop<From, uint16_t>(x[0], y[0], n);
      case DType::UInt32:
        return cast_loop<From, uint32_t>(x[0], y[0], n);
      case DType::UInt64:
        return cast_loop<From, uint64_t>(x[0], y[0], n);
      case DType::Float64:
        return cast_loop<From, double>(x[0], y[0], n);
      default:
        return cast_loop<From, float>(x[0], y[0], n);
    }
  };
}

OpDef cast_op() {
  OpDef d;
  d.name = "Cast";
  d.infer = [](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const DType to = cast_target(attrs);
    if (in[0].dtype == DType::String || in[0].dtype == DType::Float16 ||
        in[0].dtype == DType::BFloat16)
      throw ValueError(
          ErrorCode::kUnsupported,
          "Cast: from " + std::string(mindspore_name(in[0].dtype)) + " is not supported");
    return std::vector<TensorType>{{to, in[0].shape}};
  };
  d.make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const DType to = cast_target(attrs);
    const int64_t n = in[0].shape.numel();
    switch (in[0].dtype) {
      case DType::Bool:
        return cast_from<uint8_t>(to, n);
      case DType::Int8:
        return cast_from<int8_t>(to, n);
      case DType::Int16:
        return cast_from<int16_t>(to, n);
      case DType::Int32:
        return cast_from<int32_t>(to, n);
      case DType::Int64:
        return cast_from<int64_t>(to, n);
      case DType::UInt8:
        return cast_from<uint8_t>(to, n);
      case DType::UInt16:
        return cast_from<uint16_t>(to, n);
      case DType::UInt32:
        return cast_from<uint32_t>(to, n);
      case DType::UInt64:
        return cast_from<uint64_t>(to, n);
      case DType::Float64:
        return cast_from<double>(to, n);
      default:
        return cast_from<float>(to, n);
    }
  };
  d.mindir.primitive = "Cast";
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(elementwise_ops) {
  OpTable& t = table;
  t.add(unary<Erf>("Erf", false));
  t.add(unary<Sqrt>("Sqrt", false));
  t.add(unary<Exp>("Exp", false));
  t.add(unary<Log>("Log", false));
  t.add(unary<Reciprocal>("Reciprocal", false));
  t.add(unary<Neg>("Neg", true));
  t.add(binary_op<PowF>("Pow", {DType::Float32, DType::Float64}));
  t.add(binary_op<MinF>("Minimum"));
  t.add(binary_op<MaxF>("Maximum"));
  t.add(compare<std::equal_to<>>("Equal", true));
  t.add(compare<std::greater<>>("Greater", false));
  t.add(compare<std::less<>>("Less", false));
  t.add(select_op());
  t.add(reduce_max_op());
  t.add(cast_op());
}

}  // namespace cellar::ops
