// Tensor: dtype + shape + shared Storage (+ byte offset into it). Copying a Tensor shares its
// bytes; clone() copies them. Tensors are C-order and contiguous.
//
// A Tensor may also be *symbolic*: during export tracing it carries a dtype and shape and a
// reference into the graph being recorded, but no bytes. Reading a symbolic tensor's data throws
// ExportError (data-dependent control flow cannot be exported).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "cellar/dtype.h"
#include "cellar/error.h"
#include "cellar/storage.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

// Dimensions of a tensor. Printed as MindSpore prints a shape tuple: `(1, 10)`, `(10,)`, `()`.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  size_t rank() const { return dims_.size(); }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }
  bool operator==(const Shape&) const = default;

  // Element count; nullopt when a dimension is negative or the product overflows int64.
  std::optional<int64_t> checked_numel() const;
  // Element count of a shape known to be valid (asserts).
  int64_t numel() const;
  std::string str() const;

 private:
  std::vector<int64_t> dims_;
};
std::ostream& operator<<(std::ostream& os, const Shape& s);

namespace detail {
struct ParamState;  // see nn/parameter.h
struct TraceRef;    // see src/ir/trace.h
}  // namespace detail
namespace ir {
class Tracer;  // src/ir/trace.h: the one maker and reader of symbolic tensors
}  // namespace ir

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  // Zero-filled heap tensor.
  Tensor(DType dtype, Shape shape);
  // A tensor over existing storage; `offset + nbytes()` must lie inside it.
  Tensor(DType dtype, Shape shape, std::shared_ptr<Storage> storage, size_t offset = 0);

  static Tensor from_string(const std::string& utf8);  // DType::String scalar
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  template <class T>
  static Tensor scalar(T value);

  bool defined() const { return dtype_set_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.rank(); }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const;  // numel × itemsize; for String the text's byte length
  bool is_symbolic() const { return trace_ != nullptr; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t storage_offset() const { return offset_; }

  // Typed access; throws ValueError when T does not match the dtype (uint16_t serves Float16
  // and BFloat16), ExportError when the tensor is symbolic.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  std::byte* raw_data();
  const std::byte* raw_data() const;
  std::span<const std::byte> bytes() const { return {raw_data(), nbytes()}; }

  std::string string_value() const;  // for DType::String
  double item() const;               // the single element of a numel()==1 numeric tensor

  Tensor clone() const;           // deep copy into fresh heap storage
  Tensor to(DType t) const;       // converted copy (numeric types only); same dtype: clone
  Tensor reshape(Shape s) const;  // shares storage; numel must agree

  // Equality of dtype, shape and bytes.
  bool equal(const Tensor& other) const;

  // Internal (parameters); not part of the stable API.
  const std::shared_ptr<detail::ParamState>& param_state() const { return param_; }
  void set_param_state(std::shared_ptr<detail::ParamState> p) { param_ = std::move(p); }

 private:
  friend class ir::Tracer;
  const std::shared_ptr<detail::TraceRef>& trace_ref() const { return trace_; }
  static Tensor symbolic(DType dtype, Shape shape, std::shared_ptr<detail::TraceRef> ref);

  void check_readable() const;
  template <class T>
  void check_type() const;

  DType dtype_ = DType::Float32;
  bool dtype_set_ = false;
  Shape shape_;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  std::shared_ptr<detail::TraceRef> trace_;
  std::shared_ptr<detail::ParamState> param_;
};

std::ostream& operator<<(std::ostream& os,
                         const Tensor& t);  // Tensor(shape=(1, 10), dtype=Float32, …)

Tensor zeros(Shape shape, DType dtype = DType::Float32);
Tensor ones(Shape shape, DType dtype = DType::Float32);
Tensor full(Shape shape, double value, DType dtype = DType::Float32);

// The C++ type of each numeric dtype (uint16_t for Float16/BFloat16: raw bits).
template <class T>
constexpr std::optional<DType> dtype_of();

// ---- implementation of templates ----

template <class T>
constexpr std::optional<DType> dtype_of() {
  if constexpr (std::is_same_v<T, bool>)
    return DType::Bool;
  else if constexpr (std::is_same_v<T, int8_t>)
    return DType::Int8;
  else if constexpr (std::is_same_v<T, int16_t>)
    return DType::Int16;
  else if constexpr (std::is_same_v<T, int32_t>)
    return DType::Int32;
  else if constexpr (std::is_same_v<T, int64_t>)
    return DType::Int64;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return DType::UInt8;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return DType::UInt16;
  else if constexpr (std::is_same_v<T, uint32_t>)
    return DType::UInt32;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return DType::UInt64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::Float64;
  else
    return std::nullopt;
}

namespace detail {
[[noreturn]] void throw_type_mismatch(DType have, const char* want);
}

template <class T>
void Tensor::check_type() const {
  constexpr auto want = dtype_of<T>();
  static_assert(want.has_value() || std::is_same_v<T, std::byte>, "no dtype for this C++ type");
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (dtype_ == DType::UInt16 || dtype_ == DType::Float16 || dtype_ == DType::BFloat16) return;
  }
  if constexpr (want.has_value()) {
    if (dtype_ != *want) detail::throw_type_mismatch(dtype_, typeid(T).name());
  }
}

template <class T>
T* Tensor::data() {
  check_type<T>();
  return reinterpret_cast<T*>(raw_data());
}
template <class T>
const T* Tensor::data() const {
  check_type<T>();
  return reinterpret_cast<const T*>(raw_data());
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  constexpr auto dt = dtype_of<T>();
  static_assert(dt.has_value(), "no dtype for this C++ type");
  Tensor t(*dt, std::move(shape));
  if (static_cast<size_t>(t.numel()) != values.size())
    throw ValueError(ErrorCode::kShapeMismatch, "from_vector: " + std::to_string(values.size()) +
                                                    " values do not fill shape " + t.shape().str());
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  } else if (!values.empty()) {
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}

template <class T>
Tensor Tensor::scalar(T value) {
  return from_vector(std::vector<T>{value}, Shape{});
}

}  // namespace cellar

CELLAR_API_END
