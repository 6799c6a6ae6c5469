// Cast(x; dst_type): value conversion to the dtype dst_type names (MindSpore's name, e.g.
// "Float32"), from and to Bool, Int8–Int64, UInt8–UInt64, Float16, BFloat16, Float32 and Float64
// (not String). Conversion is static_cast's, except float → int, which saturates (NaN → 0)
// where static_cast is undefined; a Bool result is 0/1 (any non-zero is true). Float16 and
// BFloat16 go through float: read exactly, written rounded to nearest even (dtype.h's
// conversions; a Float64 or 64-bit integer source is rounded to float first). HRNet's fuse
// layers (mindcv) cast to Float16 and back. In MindIR the
// primitive "Cast" with dst_type its second input: MindSpore 2.x writes MindSpore's TypeId number
// (43 for Float32), 1.x a dtype constant; the reader turns both into the name. ONNX's Cast carries
// the target as `to` (a TensorProto.DataType number): written and read one to one; a Cast of a
// constant is folded at load time, and a Cast to the input's own dtype is read as no node.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

DType cast_target(const ir::Attrs& attrs) {
  auto it = attrs.find("dst_type");
  if (it == attrs.end() || !std::holds_alternative<std::string>(it->second))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "Cast: attribute 'dst_type' (a dtype name) is "
                     "required");
  const auto& s = std::get<std::string>(it->second);
  const auto t = dtype_from_mindspore_name(s);
  if (!t || *t == DType::String)
    throw ValueError(ErrorCode::kUnsupported, "Cast: to '" + s + "' is not supported");
  return *t;
}

struct ToBool {};  // a Bool result: one byte, 0 or 1
struct Half {};    // IEEE binary16, stored as its 16 bits
struct BHalf {};   // bfloat16, stored as its 16 bits

template <class T>
constexpr bool kIs16BitFloat = std::is_same_v<T, Half> || std::is_same_v<T, BHalf>;

// y[at .. at + n) = the values p[0 .. n) converted to To.
template <class To, class From>
void cast_block(const From* p, Tensor& y, int64_t at, int64_t n) {
  if constexpr (kIs16BitFloat<To>) {
    auto* q = reinterpret_cast<uint16_t*>(y.raw_data()) + at;
    for (int64_t i = 0; i < n; ++i) {
      const auto f = static_cast<float>(p[i]);
      q[i] = std::is_same_v<To, Half> ? float_to_half(f) : float_to_bfloat16(f);
    }
  } else if constexpr (std::is_same_v<To, ToBool>) {
    auto* q = reinterpret_cast<uint8_t*>(y.raw_data()) + at;
    for (int64_t i = 0; i < n; ++i) q[i] = p[i] != From(0) ? 1 : 0;
  } else {
    auto* q = reinterpret_cast<To*>(y.raw_data()) + at;
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

template <class From, class To>
void cast_loop(const Tensor& x, Tensor& y, int64_t n) {
  if constexpr (kIs16BitFloat<From>) {  // every value exact in float: widen a block, then cast
    const auto* p = reinterpret_cast<const uint16_t*>(x.raw_data());
    constexpr int64_t kBlock = 256;
    float buf[kBlock];
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
      for (int64_t i = 0; i < m; ++i)
        buf[i] =
            std::is_same_v<From, Half> ? half_to_float(p[i0 + i]) : bfloat16_to_float(p[i0 + i]);
      cast_block<To>(static_cast<const float*>(buf), y, i0, m);
    }
  } else {
    cast_block<To>(reinterpret_cast<const From*>(x.raw_data()), y, 0, n);
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
      case DType::Float16:
        return cast_loop<From, Half>(x[0], y[0], n);
      case DType::BFloat16:
        return cast_loop<From, BHalf>(x[0], y[0], n);
      case DType::Float64:
        return cast_loop<From, double>(x[0], y[0], n);
      default:
        return cast_loop<From, float>(x[0], y[0], n);
    }
  };
}

OpDef cast_row() {
  OpDef d;
  d.name = "Cast";
  d.infer = [](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const DType to = cast_target(attrs);
    if (in[0].dtype == DType::String)
      throw ValueError(ErrorCode::kUnsupported, "Cast: from String is not supported");
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
      case DType::Float16:
        return cast_from<Half>(to, n);
      case DType::BFloat16:
        return cast_from<BHalf>(to, n);
      case DType::Float64:
        return cast_from<double>(to, n);
      default:
        return cast_from<float>(to, n);
    }
  };
  // MindSpore 2.x: Cast(x, dtype) with dtype a TypeId number; 1.x: a dtype constant input.
  d.mindir.primitive = "Cast";
  d.mindir.attr_inputs = {"dst_type"};
  d.mindir.type_id_inputs = {"dst_type"};
  return d;
}

void import_cast(OnnxImporter& m) {
  m.require_inputs(1, 1);
  if (!m.has_attr("to")) m.fail("attribute 'to' is required");
  const auto dt = m.dtype_of_code(m.attr_int("to", 0));
  if (!dt) m.unsupported("cast to data type " + std::to_string(m.attr_int("to", 0)));
  if (auto c = m.constant_input(0)) {
    m.set_output(0, m.constant(c->to(*dt)));
    return;
  }
  const int x = m.input(0);
  if (m.info(x).dtype == *dt) {
    m.set_output(0, x);
    return;
  }
  m.set_output(0, m.emit1("Cast", {x}, {{"dst_type", std::string(mindspore_name(*dt))}}));
}

void export_cast(OnnxBuilder& b, const ir::Node& n) {
  const DType to = b.info(n.outputs.at(0)).dtype;
  const auto code = b.dtype_code(to);
  if (!code) b.fail(n, "cast to " + std::string(mindspore_name(to)) + " has no ONNX type");
  b.add("Cast", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"to", *code}});
}

}  // namespace

CELLAR_REGISTER_OPS(cast) {
  OpDef d = cast_row();
  d.onnx = export_cast;
  d.onnx_import = {{"Cast", import_cast}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
