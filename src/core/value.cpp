#include "cellar/value.h"

namespace cellar {

std::string Value::kind_name() const {
  switch (v_.index()) {
    case 0:
      return "None";
    case 1:
      return "Tensor";
    case 2:
      return "tuple";
    case 3:
      return "DType";
    case 4:
      return "int";
    case 5:
      return "float";
    case 6:
      return "bool";
    case 7:
      return "str";
  }
  return "?";
}

const Tensor& Value::tensor() const {
  if (!is_tensor())
    throw ValueError(ErrorCode::kInvalidArgument, "expected a Tensor, got a " + kind_name());
  return std::get<Tensor>(v_);
}

const Value::Tuple& Value::tuple() const {
  if (!is_tuple())
    throw ValueError(ErrorCode::kInvalidArgument, "expected a tuple, got a " + kind_name());
  return std::get<Tuple>(v_);
}

}  // namespace cellar
