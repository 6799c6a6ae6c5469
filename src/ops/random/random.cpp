#include "ops/random/random.h"

#include "ir/trace.h"

namespace cellar::ops::random {

void refuse_in_trace(const std::string& fn, const std::string& op) {
  if (ir::Tracer::current() != nullptr)
    throw ExportError("random-number op " + fn + " (" + op +
                          ") inside the traced graph; random ops cannot be exported — draw the "
                          "values before export and pass them as inputs or parameters",
                      {.tensor = fn});
}

Tensor fill_random(const Shape& shape, DType dtype, const std::function<double()>& draw) {
  if (!is_floating(dtype))
    throw ValueError(ErrorCode::kInvalidArgument, "random floats need a floating dtype");
  Tensor t(DType::Float64, shape);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = draw();
  return t.to(dtype);
}

Shape attr_shape(const ir::Attrs& a, const std::string& op) {
  const std::vector<int64_t> dims = attr_ints(a, op, "shape");
  for (int64_t d : dims)
    if (d < 0) shape_error(op, "shape " + Shape(dims).str() + " has a negative dimension");
  Shape s(dims);
  if (!s.checked_numel()) shape_error(op, "shape " + s.str() + " overflows");
  return s;
}

DType attr_dtype(const ir::Attrs& a, const std::string& op, DType dflt) {
  const auto it = a.find("dtype");
  if (it == a.end()) return dflt;
  const auto* s = std::get_if<std::string>(&it->second);
  const auto t = s ? dtype_from_mindspore_name(*s) : std::nullopt;
  if (!t || *t == DType::String)
    throw ValueError(ErrorCode::kInvalidArgument,
                     op + ": attribute 'dtype' must name a numeric dtype (e.g. \"Float32\")");
  return *t;
}

Generator attr_generator(const ir::Attrs& a, const std::string& op) {
  if (!has_attr(a, "seed")) return Generator();
  return Generator(static_cast<uint64_t>(attr_int(a, op, "seed")));
}

OpDef random_row(std::string name, decltype(OpDef::infer) infer, decltype(OpDef::eager) eager) {
  return {.name = std::move(name),
          .min_inputs = 0,
          .max_inputs = 0,
          .infer = std::move(infer),
          .eager = std::move(eager),
          .is_random = true};
}

}  // namespace cellar::ops::random
