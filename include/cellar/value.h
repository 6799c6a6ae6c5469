// Value: what a Cell's construct takes and returns. Mostly Tensors and tuples of them; other
// kinds exist so that a construct returning, say, a DType can be written, run eagerly, and refused
// by export with a clear error.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "cellar/dtype.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

class Value {
 public:
  using Tuple = std::vector<Value>;

  Value() = default;  // None
  Value(Tensor t) : v_(std::move(t)) {}
  Value(Tuple t) : v_(std::move(t)) {}
  Value(DType t) : v_(t) {}
  Value(int64_t i) : v_(i) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(bool b) : v_(b) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}

  bool is_none() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_tensor() const { return std::holds_alternative<Tensor>(v_); }
  bool is_tuple() const { return std::holds_alternative<Tuple>(v_); }

  // Throw ValueError naming the kind held when it is not the one asked for.
  const Tensor& tensor() const;
  const Tuple& tuple() const;

  // "Tensor", "tuple", "DType", "int", "float", "bool", "str", "None".
  std::string kind_name() const;

  const auto& variant() const { return v_; }

 private:
  std::variant<std::monostate, Tensor, Tuple, DType, int64_t, double, bool, std::string> v_;
};

}  // namespace cellar

CELLAR_API_END
