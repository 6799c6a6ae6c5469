// Parameter: a named, trainable tensor owned by a Cell. A Parameter is a handle: copies share the
// same state, so a Cell, a ParamDict and a caller can all hold it.
#pragma once

#include <memory>
#include <string>

#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

namespace detail {
struct ParamState {
  std::string name;
  Tensor data;
  bool requires_grad = true;
};
}  // namespace detail

class Parameter {
 public:
  Parameter() = default;  // undefined
  explicit Parameter(Tensor data, std::string name = "", bool requires_grad = true);

  bool defined() const { return s_ != nullptr; }
  const std::string& name() const;
  void set_name(std::string name);
  bool requires_grad() const;
  void set_requires_grad(bool r);

  // The tensor the Parameter holds (its storage is shared, not copied).
  const Tensor& data() const;
  // Replaces the held tensor (any shape or dtype; load_param_into_net checks first).
  void set_data(Tensor t);
  // The held tensor tagged with this Parameter, for use inside construct: tracing records it as
  // a graph parameter, or refuses it when no Cell of the exported tree owns it.
  Tensor value() const;
  // Same object (not same value).
  bool same(const Parameter& o) const { return s_ == o.s_; }
  const std::shared_ptr<detail::ParamState>& state() const { return s_; }

 private:
  std::shared_ptr<detail::ParamState> s_;
};

}  // namespace cellar

CELLAR_API_END
