// PyCell: the C++ Cell behind every Python subclass of nn.Cell. Its construct calls the Python
// object's construct method (taking the GIL), so a Python cell runs wherever a C++ Cell does:
// inside a SequentialCell, eagerly, and under export's tracer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bindings.h"

namespace cellar::python {

class PyCell : public nn::Cell {
 public:
  explicit PyCell(std::string cls_name) : nn::Cell(std::move(cls_name)) {}
  Value construct(const std::vector<Value>& inputs) override;

  // Attribute assignment in Python registers sub-cells and Parameters (nn.Cell.__setattr__).
  void add_cell(const std::string& name, std::shared_ptr<nn::Cell> cell) {
    register_cell(name, std::move(cell));
  }
  Parameter add_parameter(const std::string& name, Tensor data, bool requires_grad) {
    return register_parameter(name, std::move(data), requires_grad);
  }
  // Re-assignment and `del` (Python's attribute semantics, as MindSpore's Cell.__setattr__).
  void set_cell(const std::string& name, std::shared_ptr<nn::Cell> cell) {
    replace_cell(name, std::move(cell));
  }
  Parameter set_parameter(const std::string& name, const std::string& new_name, Tensor data,
                          bool requires_grad) {
    return replace_parameter(name, new_name, std::move(data), requires_grad);
  }
  void drop(const std::string& name) { remove(name); }

  // During export of this cell: the Python arguments export was given, Tensors standing for the
  // traced inputs in order, the others (ints, floats, …) passed to construct as constants.
  void set_export_args(std::optional<py::list> args) { export_args_ = std::move(args); }

 private:
  std::optional<py::list> export_args_;
};

}  // namespace cellar::python
