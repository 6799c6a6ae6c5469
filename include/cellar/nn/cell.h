// Cell: the unit networks are built from, as MindSpore's nn.Cell. A Cell holds named children
// and named parameters, both in insertion order; `parameters_and_names()` yields dotted paths
// (`dense_relu_sequential.0.weight`), the keys of checkpoints and of exported graphs.
//
// Cells are held by std::shared_ptr: the factories in nn/ return them, and a parent shares its
// children. A Cell is not thread-safe to mutate; running construct concurrently on distinct
// inputs is safe when the Cell keeps no per-call state.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cellar/nn/parameter.h"
#include "cellar/value.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

class Cell : public std::enable_shared_from_this<Cell> {
 public:
  virtual ~Cell() = default;
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  // The computation. Inputs and result are Values (Tensors, tuples of them, …).
  virtual Value construct(const std::vector<Value>& inputs) = 0;

  Value operator()(const std::vector<Value>& inputs) { return construct(inputs); }
  // One tensor in, one tensor out; ValueError when construct returns something else.
  Tensor operator()(const Tensor& x);

  // MindSpore's class name ("Dense", "SequentialCell", …).
  const std::string& cls_name() const { return cls_name_; }

  // Every parameter of this Cell and its descendants, depth-first in insertion order, named by
  // dotted path under `prefix`. A Parameter shared by two cells appears once, under its first path.
  std::vector<std::pair<std::string, Parameter>> parameters_and_names(
      const std::string& prefix = "") const;
  std::vector<Parameter> get_parameters() const;
  std::vector<Parameter> trainable_params() const;
  // This Cell (named `prefix`) and every descendant, depth-first.
  std::vector<std::pair<std::string, std::shared_ptr<Cell>>> cells_and_names(
      const std::string& prefix = "");

  const std::vector<std::pair<std::string, std::shared_ptr<Cell>>>& name_cells() const {
    return children_;
  }
  const std::vector<std::pair<std::string, Parameter>>& own_parameters() const { return params_; }
  // A child or an own parameter by local name; NotFound error when absent.
  std::shared_ptr<Cell> child(const std::string& name) const;
  Parameter parameter(const std::string& name) const;

  void set_train(bool mode = true);
  bool training() const { return training_; }

 protected:
  explicit Cell(std::string cls_name) : cls_name_(std::move(cls_name)) {}

  // Names must be non-empty, contain no '.', and be unique within this Cell (ValueError).
  Parameter register_parameter(const std::string& name, Tensor data, bool requires_grad = true);
  template <class C>
  std::shared_ptr<C> register_cell(const std::string& name, std::shared_ptr<C> cell) {
    add_child(name, cell);
    return cell;
  }
  // Python's attribute semantics, for the bindings' nn.Cell: `self.fc = ...` a second time
  // replaces the child or own parameter where it stands (so parameters_and_names, and a
  // checkpoint, keep MindSpore's order), `del self.fc` removes it. ValueError (kNotFound) when
  // this Cell has no such child or parameter; a parameter's new name is checked as at
  // registration unless it is `name`.
  void replace_cell(const std::string& name, std::shared_ptr<Cell> cell);
  Parameter replace_parameter(const std::string& name, const std::string& new_name, Tensor data,
                              bool requires_grad = true);
  void remove(const std::string& name);

 private:
  void add_child(const std::string& name, std::shared_ptr<Cell> cell);
  void check_new_name(const std::string& name) const;

  std::string cls_name_;
  std::vector<std::pair<std::string, std::shared_ptr<Cell>>> children_;
  std::vector<std::pair<std::string, Parameter>> params_;
  bool training_ = false;
};

using CellPtr = std::shared_ptr<Cell>;

}  // namespace cellar::nn

CELLAR_API_END
