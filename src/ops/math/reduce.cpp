// The reduction plan (reduce.h): the input's axes split into kept and reduced ones, each with its
// dimensions and input strides; the kernel walks the kept axes with one odometer and, per output
// element, the reduced axes with another, both on the stack.
#include "ops/math/reduce.h"

#include <limits>
#include <tuple>
#include <type_traits>

#include "ops/vec_math.h"

namespace cellar::ops {

namespace {

constexpr size_t kMaxRank = 16;

struct ReducePlan {
  Shape out;                                     // with or without the kept 1s
  std::vector<int64_t> kept_dims, kept_strides;  // input strides of the kept axes
  std::vector<int64_t> red_dims, red_strides;    // and of the reduced ones
  int64_t out_count = 1;
  int64_t red_count = 1;
  // Every reduced axis comes after every kept one: output i reduces the contiguous run
  // [i·red_count, (i + 1)·red_count) (a global pool's mean over H and W).
  bool trailing = true;
};

ReducePlan reduce_plan(const ReduceSpec& s, const TensorType& in, const ir::Attrs& attrs) {
  const std::string& op = s.op;
  bool ok = false;
  for (DType t : s.dtypes) ok |= t == in.dtype;
  if (!ok) {
    std::string list;
    for (DType t : s.dtypes) list += (list.empty() ? "" : ", ") + std::string(mindspore_name(t));
    throw ValueError(ErrorCode::kUnsupported, op + ": dtype " +
                                                  std::string(mindspore_name(in.dtype)) +
                                                  " is not supported (supported: " + list + ")");
  }
  const Shape& x = in.shape;
  if (x.rank() > kMaxRank) shape_error(op, "rank above 16 is not supported");
  const auto rank = static_cast<int64_t>(x.rank());
  const bool keep = attr_bool(attrs, op, "keep_dims", false);
  const bool skip = s.skip_mode && attr_bool(attrs, op, "skip_mode", false);
  const auto axes =
      s.axis_required ? attr_ints(attrs, op, "axis") : attr_ints(attrs, op, "axis", {});
  std::vector<bool> reduce(x.rank(), axes.empty() && !skip);
  for (int64_t a : axes) {
    const auto k = static_cast<size_t>(normalize_axis(op, a, rank));
    if (reduce[k]) shape_error(op, "axis " + std::to_string(a) + " is given twice");
    reduce[k] = true;
  }
  ReducePlan p;
  std::vector<int64_t> strides(x.rank(), 1);
  for (size_t i = x.rank(); i-- > 1;) strides[i - 1] = strides[i] * x[i];
  std::vector<int64_t> out;
  for (size_t i = 0; i < x.rank(); ++i) {
    if (!reduce[i] && !p.red_dims.empty()) p.trailing = false;
    if (reduce[i]) {
      p.red_dims.push_back(x[i]);
      p.red_strides.push_back(strides[i]);
      p.red_count *= x[i];
      if (keep) out.push_back(1);
    } else {
      p.kept_dims.push_back(x[i]);
      p.kept_strides.push_back(strides[i]);
      p.out_count *= x[i];
      out.push_back(x[i]);
    }
  }
  if ((s.kind == ReduceKind::kMax || s.kind == ReduceKind::kMin) && p.red_count == 0)
    shape_error(op, "cannot reduce an empty axis");
  p.out = Shape(out);
  return p;
}

// Calls f(i, offset) for the n offsets of an odometer over `dims` with `strides`.
template <class F>
inline void walk(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides, int64_t n,
                 F f) {
  int64_t idx[kMaxRank] = {0};
  int64_t off = 0;
  const size_t r = dims.size();
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (size_t d = r; d-- > 0;) {
      ++idx[d];
      off += strides[d];
      if (idx[d] < dims[d]) break;
      off -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
}

// Calls f(i, base, off) for every output i and every offset `off` of its reduced elements, in
// the order of the two odometers. When the reduced axes trail the kept ones, output i's elements
// are the contiguous run [i·n, (i + 1)·n) and the walk is two plain loops: the odometers cost
// several times the arithmetic over short runs (the 2 × 2 and 4 × 4 squeeze-excitation means of a
// MobileNetV3 at 64 × 64 took 18% of its run through them). The order, and so every value, is the
// same on both paths.
template <class Begin, class Step, class End>
inline void for_each_output(const ReducePlan& p, Begin begin, Step step, End end) {
  if (p.trailing) {
    const int64_t n = p.red_count;
    for (int64_t i = 0; i < p.out_count; ++i) {
      auto acc = begin();
      for (int64_t off = i * n, stop = off + n; off < stop; ++off) step(acc, off);
      end(i, acc);
    }
    return;
  }
  walk(p.kept_dims, p.kept_strides, p.out_count, [&](int64_t i, int64_t base) {
    auto acc = begin();
    walk(p.red_dims, p.red_strides, p.red_count,
         [&](int64_t, int64_t off) { step(acc, base + off); });
    end(i, acc);
  });
}

template <class T, ReduceKind K>
Kernel reduce_kernel(ReducePlan p) {
  return [p = std::move(p)](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    if constexpr (K == ReduceKind::kMax || K == ReduceKind::kMin) {
      for_each_output(
          p,
          [] {
            return K == ReduceKind::kMax ? std::numeric_limits<T>::lowest()
                                         : std::numeric_limits<T>::max();
          },
          [&](T& m, int64_t at) {
            const T v = x[at];
            // NaN propagates, as in torch and ONNX Runtime (once m is NaN nothing replaces it)
            if ((K == ReduceKind::kMax ? v > m : v < m) || v != v) m = v;
          },
          [&](int64_t i, T m) { y[i] = m; });
    } else if constexpr (K == ReduceKind::kProd) {
      // unsigned for integers: a wrapping product is defined behaviour
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
      for_each_output(
          p, [] { return Acc{1}; }, [&](Acc& s, int64_t at) { s *= static_cast<Acc>(x[at]); },
          [&](int64_t i, Acc s) { y[i] = static_cast<T>(s); });
    } else if (std::is_same_v<T, float> && p.trailing && p.red_count >= 8) {
      // Contiguous runs (a squeeze-excitation's mean over H and W): summed in double in SIMD lanes
      // (vec_math.h float_sum_simd: 32 running sums added pairwise, the same order on every
      // instruction set and every run; four scalar chains were 3.4% of efficientnet_b0).
      if constexpr (std::is_same_v<T, float>) {
        const SumFn sum_of = float_sum_simd();  // chosen at each run (ops/isa.h may be forced)
        const int64_t n = p.red_count;
        for (int64_t i = 0; i < p.out_count; ++i) {
          double sum = sum_of(x + i * n, n);
          if constexpr (K == ReduceKind::kMean) sum /= static_cast<double>(n);
          y[i] = static_cast<T>(sum);
        }
      }
    } else {
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
      for_each_output(
          p, [] { return Acc{0}; }, [&](Acc& s, int64_t at) { s += static_cast<Acc>(x[at]); },
          [&](int64_t i, Acc s) {
            if constexpr (K == ReduceKind::kMean) {
              if constexpr (std::is_floating_point_v<T>)
                s = p.red_count ? s / static_cast<double>(p.red_count)
                                : std::numeric_limits<double>::quiet_NaN();
              else  // integer mean truncates, as ONNX Runtime's does; over nothing it is 0
                s = p.red_count ? s / p.red_count : 0;
            }
            y[i] = static_cast<T>(s);
          });
    }
  };
}

template <ReduceKind K>
Kernel reduce_kernel_for(DType dt, ReducePlan p) {
  switch (dt) {
    case DType::Float64:
      return reduce_kernel<double, K>(std::move(p));
    case DType::Int32:
      return reduce_kernel<int32_t, K>(std::move(p));
    case DType::Int64:
      return reduce_kernel<int64_t, K>(std::move(p));
    default:
      return reduce_kernel<float, K>(std::move(p));
  }
}

}  // namespace

OpDef reduce_row(const ReduceSpec& spec) {
  OpDef d;
  d.name = spec.op;
  d.infer = [spec](std::span<const TensorType> in, const ir::Attrs& attrs) {
    return std::vector<TensorType>{{in[0].dtype, reduce_plan(spec, in[0], attrs).out}};
  };
  d.make_kernel = [spec](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    ReducePlan p = reduce_plan(spec, in[0], attrs);
    switch (spec.kind) {
      case ReduceKind::kSum:
        return reduce_kernel_for<ReduceKind::kSum>(in[0].dtype, std::move(p));
      case ReduceKind::kMean:
        return reduce_kernel_for<ReduceKind::kMean>(in[0].dtype, std::move(p));
      case ReduceKind::kMin:
        return reduce_kernel_for<ReduceKind::kMin>(in[0].dtype, std::move(p));
      case ReduceKind::kProd:
        return reduce_kernel_for<ReduceKind::kProd>(in[0].dtype, std::move(p));
      case ReduceKind::kMax:
        break;
    }
    return reduce_kernel_for<ReduceKind::kMax>(in[0].dtype, std::move(p));
  };
  d.mindir.primitive = spec.op;
  return d;
}

OnnxExportFn onnx_reduce_export(bool axes_as_input, bool skip_mode) {
  return [axes_as_input, skip_mode](OnnxBuilder& b, const ir::Node& n) {
    const auto [axes, keep, skip] = onnx_checked(b, n, [&] {
      return std::tuple{attr_ints(n.attrs, n.op, "axis", {}),
                        attr_bool(n.attrs, n.op, "keep_dims", false),
                        skip_mode && attr_bool(n.attrs, n.op, "skip_mode", false)};
    });
    const std::string x = b.name(n.inputs.at(0)), out = b.name(n.outputs.at(0));
    if (axes.empty() && skip) {
      b.add("Identity", {x}, {out});
      return;
    }
    OnnxAttrs attrs = {{"keepdims", int64_t{keep}}};
    std::vector<std::string> in = {x};
    if (!axes.empty()) {
      if (axes_as_input)
        in.push_back(b.ints(out + "_axes", axes));
      else
        attrs.push_back({"axes", axes});
    }
    b.add(n.op, in, {out}, attrs);
  };
}

OnnxImportFn onnx_reduce_import(const std::string& op, int64_t axes_moved_in) {
  return [op, axes_moved_in](OnnxImporter& m) {
    m.require_inputs(1, 2);
    const int x = m.input(0);
    const auto axes = m.ints_attr_or_input("axes", 1, axes_moved_in);
    const bool keep = m.attr_int("keepdims", 1) != 0;
    if ((!axes || axes->empty()) && m.attr_int("noop_with_empty_axes", 0) != 0) {
      m.set_output(0, x);
      return;
    }
    std::vector<int64_t> norm;
    for (int64_t a : axes.value_or(std::vector<int64_t>{})) norm.push_back(m.axis(a, m.rank(x)));
    m.set_output(0, m.emit1(op, {x}, {{"axis", norm}, {"keep_dims", keep}}));
  };
}

MindIRVariant ext_reduce_variant(const std::string& primitive, bool skip_mode) {
  return {.spelling = {.primitive = primitive,
                       .attr_inputs = {"dim", "keepdim", "dtype"},
                       .none_when_absent = {"dim", "dtype"}},
          .read =
              [primitive, skip_mode](ir::Attrs& a, std::span<const TensorType> in) {
                const DType t = in.empty() ? DType::Float32 : in[0].dtype;
                if (t != DType::Float32 && t != DType::Float64 && t != DType::Int64)
                  throw ValueError(ErrorCode::kUnsupported,
                                   primitive + " of " + std::string(mindspore_name(t)) +
                                       " (MindSpore widens it to Int64) is not supported");
                if (has_attr(a, "dtype")) {
                  // MindSpore's type ids (mindspore/core/include/ir/dtype/type_id.h).
                  const int64_t id = attr_int(a, primitive, "dtype");
                  const bool same = (id == 35 && t == DType::Int64) ||
                                    (id == 43 && t == DType::Float32) ||
                                    (id == 44 && t == DType::Float64);
                  if (!same)
                    throw ValueError(ErrorCode::kUnsupported,
                                     primitive + " to a dtype other than its input's (type id " +
                                         std::to_string(id) + ") is not supported");
                }
                ir::Attrs r;
                r["axis"] =
                    has_attr(a, "dim") ? attr_ints(a, primitive, "dim") : std::vector<int64_t>{};
                r["keep_dims"] = attr_bool(a, primitive, "keepdim", false);
                if (skip_mode) r["skip_mode"] = false;
                a = std::move(r);
              },
          .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }};
}

}  // namespace cellar::ops
