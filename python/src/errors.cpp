// cellar::Error → Python exceptions. One class per ErrorCode, each a subclass of cellar.Error and
// of the built-in exception a Python caller expects for it (ValueError for bad arguments and bad
// files, TypeError for dtype mismatches, OSError for I/O, NotImplementedError for what cellar does
// not support, RuntimeError for export refusals), so `except ValueError` and `except
// cellar.FormatError` both work. The message is the C++ one, unchanged; the structured context
// is on the exception as attributes: code, reason, file, tensor, offset.
#include <map>

#include "bindings.h"

namespace cellar::python {

namespace {

struct ErrorClass {
  const char* name;
  PyObject* builtin;
};

ErrorClass class_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return {"InvalidArgumentError", PyExc_ValueError};
    case ErrorCode::kIo:
      return {"FileAccessError", PyExc_OSError};
    case ErrorCode::kFormat:
      return {"FormatError", PyExc_ValueError};
    case ErrorCode::kUnsupported:
      return {"UnsupportedError", PyExc_NotImplementedError};
    case ErrorCode::kShapeMismatch:
      return {"ShapeMismatchError", PyExc_ValueError};
    case ErrorCode::kDTypeMismatch:
      return {"DTypeMismatchError", PyExc_TypeError};
    case ErrorCode::kExport:
      return {"ExportError", PyExc_RuntimeError};
    case ErrorCode::kNotFound:
      return {"NotFoundError", PyExc_ValueError};
    case ErrorCode::kCrypto:
      return {"CryptoError", PyExc_ValueError};
  }
  return {"Error", PyExc_RuntimeError};
}

// The classes live as long as the interpreter: the module holds them, and so does this map
// (strong references, never released: exception translators may run until interpreter exit).
std::map<ErrorCode, PyObject*>& classes() {
  static auto* m = new std::map<ErrorCode, PyObject*>();
  return *m;
}

}  // namespace

void bind_errors(py::module_& m) {
  PyObject* base = PyErr_NewExceptionWithDoc(
      "cellar.Error",
      "Base of every error cellar raises for bad input: files, arguments, shapes, exports.\n"
      "Attributes: code (str), reason (str), file (str), tensor (str), offset (int or None).",
      PyExc_Exception, nullptr);
  if (base == nullptr) throw py::error_already_set();
  m.attr("Error") = py::handle(base);
  for (ErrorCode code :
       {ErrorCode::kInvalidArgument, ErrorCode::kIo, ErrorCode::kFormat, ErrorCode::kUnsupported,
        ErrorCode::kShapeMismatch, ErrorCode::kDTypeMismatch, ErrorCode::kExport,
        ErrorCode::kNotFound, ErrorCode::kCrypto}) {
    const ErrorClass c = class_for(code);
    py::tuple bases = py::make_tuple(py::handle(base), py::handle(c.builtin));
    PyObject* cls =
        PyErr_NewException(("cellar." + std::string(c.name)).c_str(), bases.ptr(), nullptr);
    if (cls == nullptr) throw py::error_already_set();
    m.attr(c.name) = py::handle(cls);
    classes()[code] = cls;
  }

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyObject* cls = classes().at(e.code());
      py::object exc = py::reinterpret_borrow<py::object>(cls)(e.what());
      exc.attr("code") = to_string(e.code());
      exc.attr("reason") = e.reason();
      exc.attr("file") = e.file();
      exc.attr("tensor") = e.tensor();
      exc.attr("offset") = e.offset() ? py::object(py::int_(*e.offset())) : py::none();
      PyErr_SetObject(cls, exc.ptr());
    }
  });
}

}  // namespace cellar::python
