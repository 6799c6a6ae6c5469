#include "cellar/nn/parameter.h"

#include <cassert>

namespace cellar {

Parameter::Parameter(Tensor data, std::string name, bool requires_grad)
    : s_(std::make_shared<detail::ParamState>()) {
  s_->name = std::move(name);
  s_->data = std::move(data);
  s_->requires_grad = requires_grad;
}

namespace {
void require(const std::shared_ptr<detail::ParamState>& s) {
  if (!s) throw ValueError(ErrorCode::kInvalidArgument, "use of an undefined Parameter");
}
}  // namespace

const std::string& Parameter::name() const {
  require(s_);
  return s_->name;
}
void Parameter::set_name(std::string name) {
  require(s_);
  s_->name = std::move(name);
}
bool Parameter::requires_grad() const {
  require(s_);
  return s_->requires_grad;
}
void Parameter::set_requires_grad(bool r) {
  require(s_);
  s_->requires_grad = r;
}
const Tensor& Parameter::data() const {
  require(s_);
  return s_->data;
}
void Parameter::set_data(Tensor t) {
  require(s_);
  s_->data = std::move(t);
}

Tensor Parameter::value() const {
  require(s_);
  Tensor t = s_->data;
  t.set_param_state(s_);
  return t;
}

}  // namespace cellar
