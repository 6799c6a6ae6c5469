#include "cellar/tensor.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <sstream>

namespace cellar {

// ---- Shape ----

std::optional<int64_t> Shape::checked_numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d < 0) return std::nullopt;
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

int64_t Shape::numel() const {
  auto n = checked_numel();
  assert(n.has_value());
  return n.value_or(0);
}

std::string Shape::str() const {
  std::string s = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  if (dims_.size() == 1) s += ",";
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// ---- Tensor ----

namespace detail {
void throw_type_mismatch(DType have, const char* want) {
  throw ValueError(
      ErrorCode::kDTypeMismatch,
      "tensor of dtype " + std::string(mindspore_name(have)) + " accessed as C++ type " + want);
}
}  // namespace detail

namespace {
size_t bytes_for(DType dtype, const Shape& shape) {
  auto n = shape.checked_numel();
  if (!n) throw ValueError(ErrorCode::kInvalidArgument, "invalid shape " + shape.str());
  size_t bytes;
  if (__builtin_mul_overflow(static_cast<size_t>(*n), itemsize(dtype), &bytes))
    throw ValueError(ErrorCode::kInvalidArgument, "shape " + shape.str() + " is too large");
  return bytes;
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), dtype_set_(true), shape_(std::move(shape)) {
  if (dtype == DType::String)
    throw ValueError(ErrorCode::kInvalidArgument, "use Tensor::from_string for str tensors");
  storage_ = Storage::allocate(bytes_for(dtype_, shape_));
}

Tensor::Tensor(DType dtype, Shape shape, std::shared_ptr<Storage> storage, size_t offset)
    : dtype_(dtype),
      dtype_set_(true),
      shape_(std::move(shape)),
      storage_(std::move(storage)),
      offset_(offset) {
  if (storage_ == nullptr || offset > storage_->nbytes())
    throw ValueError(ErrorCode::kInvalidArgument, "tensor offset outside its storage");
  const size_t need = dtype == DType::String ? 0 : bytes_for(dtype, shape_);
  if (need > storage_->nbytes() - offset)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "tensor of shape " + shape_.str() + " does not fit its storage");
}

Tensor Tensor::from_string(const std::string& utf8) {
  auto st = Storage::allocate(utf8.size(), false);
  if (!utf8.empty()) std::memcpy(st->data(), utf8.data(), utf8.size());
  return Tensor(DType::String, Shape{}, std::move(st), 0);
}

Tensor Tensor::symbolic(DType dtype, Shape shape, std::shared_ptr<detail::TraceRef> ref) {
  Tensor t;
  t.dtype_ = dtype;
  t.dtype_set_ = true;
  t.shape_ = std::move(shape);
  t.trace_ = std::move(ref);
  return t;
}

size_t Tensor::nbytes() const {
  if (!dtype_set_) return 0;
  if (dtype_ == DType::String) return storage_ ? storage_->nbytes() - offset_ : 0;
  return static_cast<size_t>(shape_.numel()) * itemsize(dtype_);
}

void Tensor::check_readable() const {
  if (trace_ != nullptr)
    throw ExportError(
        "the value of a traced tensor was read during export tracing; data-dependent control "
        "flow cannot be exported (only ops on tensors are recorded)");
  if (!dtype_set_) throw ValueError(ErrorCode::kInvalidArgument, "undefined tensor");
}

std::byte* Tensor::raw_data() {
  check_readable();
  return storage_->data() + offset_;
}
const std::byte* Tensor::raw_data() const {
  check_readable();
  return storage_->data() + offset_;
}

std::string Tensor::string_value() const {
  if (dtype_ != DType::String)
    throw ValueError(ErrorCode::kDTypeMismatch, "string_value() of a non-str tensor");
  return std::string(reinterpret_cast<const char*>(raw_data()), nbytes());
}

namespace {
// Reads element i of a numeric buffer as double / writes it back.
double load_as_double(DType t, const std::byte* p, size_t i) {
  switch (t) {
    case DType::Bool:
      return reinterpret_cast<const uint8_t*>(p)[i] != 0 ? 1.0 : 0.0;
    case DType::Int8:
      return reinterpret_cast<const int8_t*>(p)[i];
    case DType::Int16:
      return reinterpret_cast<const int16_t*>(p)[i];
    case DType::Int32:
      return reinterpret_cast<const int32_t*>(p)[i];
    case DType::Int64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
    case DType::UInt8:
      return reinterpret_cast<const uint8_t*>(p)[i];
    case DType::UInt16:
      return reinterpret_cast<const uint16_t*>(p)[i];
    case DType::UInt32:
      return reinterpret_cast<const uint32_t*>(p)[i];
    case DType::UInt64:
      return static_cast<double>(reinterpret_cast<const uint64_t*>(p)[i]);
    case DType::Float16:
      return half_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
    case DType::BFloat16:
      return bfloat16_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
    case DType::Float32:
      return reinterpret_cast<const float*>(p)[i];
    case DType::Float64:
      return reinterpret_cast<const double*>(p)[i];
    case DType::String:
      break;
  }
  return 0;
}

template <class To>
To saturate(double v) {
  if (std::isnan(v)) return To(0);
  if (v <= static_cast<double>(std::numeric_limits<To>::lowest()))
    return std::numeric_limits<To>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<To>::max()))
    return std::numeric_limits<To>::max();
  return static_cast<To>(v);
}

void store_from_double(DType t, std::byte* p, size_t i, double v) {
  switch (t) {
    case DType::Bool:
      reinterpret_cast<uint8_t*>(p)[i] = v != 0;
      break;
    case DType::Int8:
      reinterpret_cast<int8_t*>(p)[i] = saturate<int8_t>(v);
      break;
    case DType::Int16:
      reinterpret_cast<int16_t*>(p)[i] = saturate<int16_t>(v);
      break;
    case DType::Int32:
      reinterpret_cast<int32_t*>(p)[i] = saturate<int32_t>(v);
      break;
    case DType::Int64:
      reinterpret_cast<int64_t*>(p)[i] = saturate<int64_t>(v);
      break;
    case DType::UInt8:
      reinterpret_cast<uint8_t*>(p)[i] = saturate<uint8_t>(v);
      break;
    case DType::UInt16:
      reinterpret_cast<uint16_t*>(p)[i] = saturate<uint16_t>(v);
      break;
    case DType::UInt32:
      reinterpret_cast<uint32_t*>(p)[i] = saturate<uint32_t>(v);
      break;
    case DType::UInt64:
      reinterpret_cast<uint64_t*>(p)[i] = saturate<uint64_t>(v);
      break;
    case DType::Float16:
      reinterpret_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v));
      break;
    case DType::BFloat16:
      reinterpret_cast<uint16_t*>(p)[i] = float_to_bfloat16(static_cast<float>(v));
      break;
    case DType::Float32:
      reinterpret_cast<float*>(p)[i] = static_cast<float>(v);
      break;
    case DType::Float64:
      reinterpret_cast<double*>(p)[i] = v;
      break;
    case DType::String:
      break;
  }
}

template <class From, class To>
void convert_loop(const From* src, To* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src[i]);
}
}  // namespace

double Tensor::item() const {
  if (numel() != 1)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "item() of a tensor with " + std::to_string(numel()) + " elements");
  if (dtype_ == DType::String)
    throw ValueError(ErrorCode::kDTypeMismatch, "item() of a str tensor");
  return load_as_double(dtype_, raw_data(), 0);
}

Tensor Tensor::clone() const {
  check_readable();
  auto st = Storage::allocate(nbytes(), false);
  if (nbytes()) std::memcpy(st->data(), raw_data(), nbytes());
  return Tensor(dtype_, shape_, std::move(st), 0);
}

Tensor Tensor::to(DType t) const {
  check_readable();
  if (t == dtype_) return clone();
  if (t == DType::String || dtype_ == DType::String)
    throw ValueError(ErrorCode::kDTypeMismatch,
                     "cannot convert between str and " +
                         std::string(mindspore_name(t == DType::String ? dtype_ : t)));
  Tensor out(t, shape_);
  const size_t n = static_cast<size_t>(numel());
  const std::byte* src = raw_data();
  std::byte* dst = out.raw_data();
  // Fast paths for the common float conversions; everything else goes through double, which
  // is exact for every value of every type but 64-bit integers beyond 2^53.
  if (dtype_ == DType::Float32 && t == DType::Float64) {
    convert_loop(reinterpret_cast<const float*>(src), reinterpret_cast<double*>(dst), n);
  } else if (dtype_ == DType::Float64 && t == DType::Float32) {
    convert_loop(reinterpret_cast<const double*>(src), reinterpret_cast<float*>(dst), n);
  } else if (is_integral(dtype_) && is_integral(t) && dtype_ == DType::Int64 && t == DType::Int32) {
    convert_loop(reinterpret_cast<const int64_t*>(src), reinterpret_cast<int32_t*>(dst), n);
  } else if (dtype_ == DType::Int32 && t == DType::Int64) {
    convert_loop(reinterpret_cast<const int32_t*>(src), reinterpret_cast<int64_t*>(dst), n);
  } else {
    for (size_t i = 0; i < n; ++i) store_from_double(t, dst, i, load_as_double(dtype_, src, i));
  }
  return out;
}

Tensor Tensor::reshape(Shape s) const {
  auto n = s.checked_numel();
  if (!n || *n != numel())
    throw ValueError(ErrorCode::kShapeMismatch,
                     "cannot reshape " + shape_.str() + " to " + s.str());
  Tensor t = *this;
  t.shape_ = std::move(s);
  return t;
}

bool Tensor::equal(const Tensor& o) const {
  if (dtype_ != o.dtype_ || shape_ != o.shape_ || nbytes() != o.nbytes()) return false;
  return nbytes() == 0 || std::memcmp(raw_data(), o.raw_data(), nbytes()) == 0;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << t.shape() << ", dtype=" << t.dtype();
  if (t.is_symbolic()) return os << ", symbolic)";
  if (t.dtype() == DType::String) return os << ", value='" << t.string_value() << "')";
  os << ", value=[";
  const int64_t n = std::min<int64_t>(t.numel(), 6);
  for (int64_t i = 0; i < n; ++i)
    os << (i ? ", " : "") << load_as_double(t.dtype(), t.raw_data(), static_cast<size_t>(i));
  if (t.numel() > n) os << ", …";
  return os << "])";
}

Tensor zeros(Shape shape, DType dtype) { return Tensor(dtype, std::move(shape)); }
Tensor ones(Shape shape, DType dtype) { return full(std::move(shape), 1.0, dtype); }
Tensor full(Shape shape, double value, DType dtype) {
  Tensor t(dtype, std::move(shape));
  const size_t n = static_cast<size_t>(t.numel());
  if (dtype == DType::Float32) {
    float* p = t.data<float>();
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(value);
  } else {
    for (size_t i = 0; i < n; ++i) store_from_double(dtype, t.raw_data(), i, value);
  }
  return t;
}

}  // namespace cellar
