// cellar._cellar: the Python module over the public C++ API (include/cellar/). One file per part
// (tensor, nn, io, ops, errors), each adding its classes and functions to the module; the
// conversions between Python objects and cellar's types live here, once.
//
// GIL: released while a graph runs (GraphCell), a checkpoint saves or loads, and a network is
// exported; Python code called back from C++ (a Cell's construct, a choice_func) takes it again.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>

#include "cellar/cellar.h"

namespace py = pybind11;

namespace cellar::python {

void bind_errors(py::module_& m);
void bind_tensor(py::module_& m);
void bind_nn(py::module_& m);
void bind_io(py::module_& m);
void bind_ops(py::module_& m);

// A Tensor from a Python object: a Tensor (shared), a Parameter (its value(), so that tracing
// sees the Parameter), or anything NumPy turns into an array (copied, or with `share` viewed in
// place where the memory allows: Tensor.from_numpy, from_dlpack): arrays, lists, scalars.
// Python floats without an explicit dtype become Float32 (as MindSpore's Tensor does), NumPy
// arrays keep theirs. `dtype` converts the result.
Tensor to_tensor(py::handle obj, std::optional<DType> dtype = std::nullopt, bool share = false);
// For the other operand of arithmetic: a Python scalar takes `like`'s dtype (a float with an
// integer tensor becomes Float32), anything else as to_tensor.
Tensor to_operand(py::handle obj, const Tensor& like);
bool is_tensor_like(py::handle obj);  // Tensor or Parameter

// Values: what a Cell's construct takes and returns.
py::object from_value(const Value& v);
Value to_value(py::handle obj);

// The module's random generator for mint/ops random functions (cellar.set_seed reseeds it);
// the C++ library itself keeps no global generator.
Generator& default_generator();

}  // namespace cellar::python
