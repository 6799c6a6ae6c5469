#include "bindings.h"

PYBIND11_MODULE(_cellar, m) {
  m.doc() = "cellar's C++ library (include/cellar/) for Python; import `cellar`, not this module.";
  m.attr("__version__") = cellar::kVersion;
  cellar::python::bind_errors(m);
  cellar::python::bind_tensor(m);
  cellar::python::bind_nn(m);
  cellar::python::bind_ops(m);
  cellar::python::bind_io(m);
}
