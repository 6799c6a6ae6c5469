// The reduction plan (reduce.h): the input's axes split into kept and reduced ones, each with its
// dimensions and input strides; the kernel walks the kept axes with one odometer and, per output
// element, the reduced axes with another, both on the stack.
#include "ops/math/reduce.h"

#include <limits>
#include <tuple>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/isa.h"

// gcc 12 warns (-Wmaybe-uninitialized) inside its own AVX-512 intrinsics (_mm512_cvtps_pd passes
// an `__Y = __Y` undefined vector as the unused masked-off operand) once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

#if defined(__x86_64__)
// The sum of a contiguous run of floats, accumulated in double: four chains of eight double
// lanes, then one fixed order of adds. A squeeze-excitation block's global mean (ReduceMean over
// H and W) summed element by element was 3.4% of MobileNetV3-small's run on a Zen 5 (perf).
__attribute__((target("avx512f"))) double sum_run_avx512(const float* r, int64_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(r + k)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_loadu_ps(r + k + 8)));
    s2 = _mm512_add_pd(s2, _mm512_cvtps_pd(_mm256_loadu_ps(r + k + 16)));
    s3 = _mm512_add_pd(s3, _mm512_cvtps_pd(_mm256_loadu_ps(r + k + 24)));
  }
  for (; k + 8 <= n; k += 8) s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(r + k)));
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  double tail = 0;
  for (; k < n; ++k) tail += r[k];
  return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
          ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) +
         tail;
}

__attribute__((target("avx2,fma"))) double sum_run_avx2(const float* r, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(r + k)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(r + k + 4)));
    s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm_loadu_ps(r + k + 8)));
    s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm_loadu_ps(r + k + 12)));
  }
  for (; k + 4 <= n; k += 4) s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(r + k)));
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  double tail = 0;
  for (; k < n; ++k) tail += r[k];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail;
}
#endif

double sum_run(const float* r, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return sum_run_avx512(r, n);
    case Isa::kAvx2:
      return sum_run_avx2(r, n);
    case Isa::kNone:
      break;
  }
#endif
  // Four running sums (independent chains instead of one add's latency per element), added
  // pairwise at the end.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) s0 += r[k], s1 += r[k + 1], s2 += r[k + 2], s3 += r[k + 3];
  for (; k < n; ++k) s0 += r[k];
  return (s0 + s1) + (s2 + s3);
}

template <class T, ReduceKind K>
Kernel reduce_kernel(ReducePlan p) {
  return [p = std::move(p)](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    if constexpr (K == ReduceKind::kMax || K == ReduceKind::kMin) {
      walk(p.kept_dims, p.kept_strides, p.out_count, [&](int64_t i, int64_t base) {
        T m = K == ReduceKind::kMax ? std::numeric_limits<T>::lowest()
                                    : std::numeric_limits<T>::max();
        walk(p.red_dims, p.red_strides, p.red_count, [&](int64_t, int64_t off) {
          const T v = x[base + off];
          // NaN propagates, as in torch and ONNX Runtime (once m is NaN nothing replaces it)
          if ((K == ReduceKind::kMax ? v > m : v < m) || v != v) m = v;
        });
        y[i] = m;
      });
    } else if constexpr (K == ReduceKind::kProd) {
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
      walk(p.kept_dims, p.kept_strides, p.out_count, [&](int64_t i, int64_t base) {
        Acc s = 1;  // unsigned for integers: a wrapping product is defined behaviour
        walk(p.red_dims, p.red_strides, p.red_count,
             [&](int64_t, int64_t off) { s *= static_cast<Acc>(x[base + off]); });
        y[i] = static_cast<T>(s);
      });
    } else if (std::is_same_v<T, float> && p.trailing && p.red_count >= 8) {
      // Contiguous runs, each summed in double in one fixed order per instruction set: the same
      // result on every run.
      const int64_t n = p.red_count;
      for (int64_t i = 0; i < p.out_count; ++i) {
        double sum = 0;
        if constexpr (std::is_same_v<T, float>) sum = sum_run(x + i * n, n);
        if constexpr (K == ReduceKind::kMean) sum /= static_cast<double>(n);
        y[i] = static_cast<T>(sum);
      }
    } else {
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
      walk(p.kept_dims, p.kept_strides, p.out_count, [&](int64_t i, int64_t base) {
        Acc s = 0;
        walk(p.red_dims, p.red_strides, p.red_count,
             [&](int64_t, int64_t off) { s += static_cast<Acc>(x[base + off]); });
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
