#include "cellar/nn/cell.h"

#include <algorithm>
#include <set>

namespace cellar::nn {

Tensor Cell::operator()(const Tensor& x) {
  Value v = construct({Value(x)});
  if (!v.is_tensor())
    throw ValueError(ErrorCode::kInvalidArgument,
                     cls_name_ + ".construct returned a " + v.kind_name() + ", not a Tensor");
  return v.tensor();
}

void Cell::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(ErrorCode::kInvalidArgument, "invalid name '" + name + "' in " + cls_name_ +
                                                      ": names are non-empty and contain no '.'");
  for (const auto& [n, _] : children_)
    if (n == name)
      throw ValueError(ErrorCode::kInvalidArgument,
                       cls_name_ + " already has a child named '" + name + "'");
  for (const auto& [n, _] : params_)
    if (n == name)
      throw ValueError(ErrorCode::kInvalidArgument,
                       cls_name_ + " already has a parameter named '" + name + "'");
}

Parameter Cell::register_parameter(const std::string& name, Tensor data, bool requires_grad) {
  check_new_name(name);
  Parameter p(std::move(data), name, requires_grad);
  params_.emplace_back(name, p);
  return p;
}

void Cell::add_child(const std::string& name, std::shared_ptr<Cell> cell) {
  if (!cell)
    throw ValueError(ErrorCode::kInvalidArgument, "null child '" + name + "' in " + cls_name_);
  check_new_name(name);
  // As MindSpore's auto-prefix: a child's parameters are renamed to their path in the parent.
  for (auto& [path, p] : cell->parameters_and_names(name)) p.set_name(path);
  children_.emplace_back(name, std::move(cell));
}

void Cell::replace_cell(const std::string& name, std::shared_ptr<Cell> cell) {
  if (!cell)
    throw ValueError(ErrorCode::kInvalidArgument, "null child '" + name + "' in " + cls_name_);
  for (auto& [n, c] : children_) {
    if (n != name) continue;
    for (auto& [path, p] : cell->parameters_and_names(name)) p.set_name(path);
    c = std::move(cell);
    return;
  }
  throw ValueError(ErrorCode::kNotFound, cls_name_ + " has no child '" + name + "' to replace");
}

Parameter Cell::replace_parameter(const std::string& name, const std::string& new_name, Tensor data,
                                  bool requires_grad) {
  auto it = std::find_if(params_.begin(), params_.end(),
                         [&](const auto& np) { return np.first == name; });
  if (it == params_.end())
    throw ValueError(ErrorCode::kNotFound,
                     cls_name_ + " has no parameter '" + name + "' to replace");
  if (new_name != name) check_new_name(new_name);
  Parameter p(std::move(data), new_name, requires_grad);
  *it = {new_name, p};
  return p;
}

void Cell::remove(const std::string& name) {
  if (std::erase_if(children_, [&](const auto& nc) { return nc.first == name; }) > 0) return;
  if (std::erase_if(params_, [&](const auto& np) { return np.first == name; }) > 0) return;
  throw ValueError(ErrorCode::kNotFound,
                   cls_name_ + " has no child or parameter '" + name + "' to remove");
}

std::vector<std::pair<std::string, Parameter>> Cell::parameters_and_names(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, Parameter>> out;
  std::set<const detail::ParamState*> seen;
  std::vector<std::pair<std::string, const Cell*>> stack{{prefix, this}};
  // Depth-first, own parameters before children, each in insertion order (as MindSpore).
  auto visit = [&](auto&& self, const std::string& pre, const Cell* c) -> void {
    for (const auto& [n, p] : c->params_) {
      if (!seen.insert(p.state().get()).second) continue;
      out.emplace_back(pre.empty() ? n : pre + "." + n, p);
    }
    for (const auto& [n, child] : c->children_)
      self(self, pre.empty() ? n : pre + "." + n, child.get());
  };
  visit(visit, prefix, this);
  return out;
}

std::vector<Parameter> Cell::get_parameters() const {
  std::vector<Parameter> out;
  for (auto& [_, p] : parameters_and_names()) out.push_back(p);
  return out;
}

std::vector<Parameter> Cell::trainable_params() const {
  std::vector<Parameter> out;
  for (auto& [_, p] : parameters_and_names())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Cell>>> Cell::cells_and_names(
    const std::string& prefix) {
  std::vector<std::pair<std::string, std::shared_ptr<Cell>>> out;
  out.emplace_back(prefix, shared_from_this());
  for (const auto& [n, child] : children_)
    for (auto& e : child->cells_and_names(prefix.empty() ? n : prefix + "." + n)) out.push_back(e);
  return out;
}

std::shared_ptr<Cell> Cell::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c;
  throw ValueError(ErrorCode::kNotFound, cls_name_ + " has no child '" + name + "'");
}

Parameter Cell::parameter(const std::string& name) const {
  for (const auto& [n, p] : params_)
    if (n == name) return p;
  throw ValueError(ErrorCode::kNotFound, cls_name_ + " has no parameter '" + name + "'");
}

void Cell::set_train(bool mode) {
  training_ = mode;
  for (auto& [_, c] : children_) c->set_train(mode);
}

}  // namespace cellar::nn
