// Tensor, Parameter and DType for Python, and the conversions to and from NumPy.
//
// Memory, both ways without a copy where the memory allows. A Tensor exports its bytes (buffer
// protocol, __array__, DLPack through NumPy); the exported view keeps the Tensor's Storage alive,
// whether heap memory, a mapped checkpoint or another library's memory. The other way, as
// MindSpore does: Tensor(ndarray) copies (MindSpore's Tensor() does: code written for it may go on
// writing the array), Tensor.from_numpy(ndarray) and from_dlpack(x) view the memory in place
// (Storage::external) while it is C-contiguous, writable, aligned for its dtype and in the
// machine's byte order (MindSpore's from_numpy and torch.from_numpy share it), else copy. The view
// holds the exporter's buffer (so NumPy refuses to resize the array meanwhile) and releases it,
// taking the GIL, when the last Tensor over it is gone.
#include <pybind11/stl.h>

#include <cstring>
#include <sstream>

#include "bindings.h"

namespace cellar::python {

namespace {

// The struct-module format character of a dtype NumPy can hold, or null.
const char* buffer_format(DType t) {
  switch (t) {
    case DType::Bool:
      return "?";
    case DType::Int8:
      return "b";
    case DType::Int16:
      return "h";
    case DType::Int32:
      return "i";
    case DType::Int64:
      return "q";
    case DType::UInt8:
      return "B";
    case DType::UInt16:
      return "H";
    case DType::UInt32:
      return "I";
    case DType::UInt64:
      return "Q";
    case DType::Float16:
      return "e";
    case DType::Float32:
      return "f";
    case DType::Float64:
      return "d";
    case DType::BFloat16:
    case DType::String:
      return nullptr;
  }
  return nullptr;
}

// From the dtype's Python attributes, not pybind11's view of NumPy's C struct (whose layout
// NumPy 2 changed).
DType dtype_from_numpy(py::handle d) {
  const std::string kinds = d.attr("kind").cast<std::string>();
  const char kind = kinds.empty() ? '?' : kinds[0];
  const auto size = d.attr("itemsize").cast<int64_t>();
  if (kind == 'b') return DType::Bool;
  if (kind == 'V' && size == 2 && py::str(d).cast<std::string>() == "bfloat16")
    return DType::BFloat16;  // ml_dtypes.bfloat16
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'i' || kind == 'u') {
    const bool s = kind == 'i';
    if (size == 1) return s ? DType::Int8 : DType::UInt8;
    if (size == 2) return s ? DType::Int16 : DType::UInt16;
    if (size == 4) return s ? DType::Int32 : DType::UInt32;
    if (size == 8) return s ? DType::Int64 : DType::UInt64;
  }
  throw py::type_error(
      "NumPy dtype " + py::str(d).cast<std::string>() +
      " has no cellar dtype (cellar holds bool, int8-64, uint8-64, float16/32/64 and "
      "ml_dtypes.bfloat16)");
}

// Why a tensor's bytes cannot be handed to NumPy, or empty when they can.
std::string numpy_refusal(const Tensor& t) {
  if (!t.defined()) return "the tensor is undefined";
  if (t.dtype() == DType::BFloat16)
    return "the buffer protocol has no bfloat16; use t.asnumpy() or np.asarray(t) (with "
           "ml_dtypes installed), or convert first: t.astype(cellar.float32)";
  if (t.dtype() == DType::String) return "a str tensor has no buffer; use t.asnumpy()";
  return {};
}

// What a Py_buffer over a Tensor owns: the Tensor (so its Storage outlives the view, whatever
// happens to the Python object) and the shape and strides arrays the view points into.
struct BufferView {
  Tensor tensor;
  std::vector<Py_ssize_t> shape;
  std::vector<Py_ssize_t> strides;
};

int fill_buffer(const Tensor& t, PyObject* exporter, Py_buffer* view, int flags) {
  try {
    std::string why = numpy_refusal(t);
    if (!why.empty()) {
      PyErr_SetString(PyExc_BufferError, why.c_str());
      return -1;
    }
    auto* bv = new BufferView{t, {}, {}};
    Py_ssize_t stride = static_cast<Py_ssize_t>(itemsize(t.dtype()));
    bv->shape.resize(t.rank());
    bv->strides.resize(t.rank());
    for (size_t i = t.rank(); i-- > 0;) {
      bv->shape[i] = static_cast<Py_ssize_t>(t.shape()[i]);
      bv->strides[i] = stride;
      stride *= bv->shape[i];
    }
    std::byte* data = bv->tensor.raw_data();  // ExportError for a symbolic tensor
    view->buf = data;
    view->obj = exporter;
    Py_INCREF(exporter);
    view->len = static_cast<Py_ssize_t>(t.nbytes());
    view->itemsize = static_cast<Py_ssize_t>(itemsize(t.dtype()));
    view->readonly = 0;
    view->ndim = static_cast<int>(t.rank());
    view->format = (flags & PyBUF_FORMAT) ? const_cast<char*>(buffer_format(t.dtype())) : nullptr;
    view->shape = (flags & PyBUF_ND) ? bv->shape.data() : nullptr;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? bv->strides.data() : nullptr;
    view->suboffsets = nullptr;
    view->internal = bv;
    return 0;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
}

void release_buffer(PyObject*, Py_buffer* view) { delete static_cast<BufferView*>(view->internal); }

int tensor_getbuffer(PyObject* obj, Py_buffer* view, int flags) {
  Tensor* t = nullptr;
  try {
    t = py::handle(obj).cast<Tensor*>();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
  return fill_buffer(*t, obj, view, flags);
}

int parameter_getbuffer(PyObject* obj, Py_buffer* view, int flags) {
  Parameter* p = nullptr;
  try {
    p = py::handle(obj).cast<Parameter*>();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
  return fill_buffer(p->data(), obj, view, flags);
}

// Our own buffer slots instead of pybind11's def_buffer: a refusal (bfloat16, a symbolic tensor
// during export) must be a Python BufferError, and pybind11's slot cannot fail.
void install_buffer_slots(py::handle cls, getbufferproc get) {
  auto* heap = reinterpret_cast<PyHeapTypeObject*>(cls.ptr());
  heap->as_buffer.bf_getbuffer = get;
  heap->as_buffer.bf_releasebuffer = release_buffer;
  reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_as_buffer = &heap->as_buffer;
}

py::object numpy() { return py::module_::import("numpy"); }

// A Storage viewing the buffer `obj` exports, in place, or null when that memory cannot back a
// tensor of `dt` and `shape` as it is (see Storage::external): not C-contiguous or read-only (the
// exporter refuses the request), misaligned for the dtype, of another size, empty, or Bool bytes
// other than 0 and 1. The Storage holds the buffer; the last Tensor over it releases it.
std::shared_ptr<Storage> share_buffer(py::handle obj, DType dt, const Shape& shape) {
  const auto numel = shape.checked_numel();
  if (!numel || *numel == 0 || dt == DType::String) return nullptr;
  const size_t item = itemsize(dt);
  const size_t nbytes = static_cast<size_t>(*numel) * item;
  auto view = std::make_unique<Py_buffer>();
  if (PyObject_GetBuffer(obj.ptr(), view.get(), PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0) {
    PyErr_Clear();  // read-only or strided: the caller copies
    return nullptr;
  }
  auto* data = static_cast<std::byte*>(view->buf);
  bool ok = data != nullptr && static_cast<size_t>(view->len) == nbytes &&
            reinterpret_cast<uintptr_t>(data) % item == 0;
  if (ok && dt == DType::Bool) {
    for (size_t i = 0; i < nbytes && ok; ++i) ok = static_cast<uint8_t>(data[i]) <= 1;
  }
  if (!ok) {
    PyBuffer_Release(view.get());
    return nullptr;
  }
  std::shared_ptr<void> owner(view.release(), [](void* p) {
    auto* v = static_cast<Py_buffer*>(p);
    // The last Tensor may go in any thread (a GraphCell's run releases the GIL); at interpreter
    // exit the buffer is left to the process's end.
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      PyBuffer_Release(v);
    }
    delete v;
  });
  return Storage::external(data, nbytes, std::move(owner));
}

// NumPy through its Python API only: pybind11 2.10's C-level view of NumPy predates NumPy 2.
bool is_ndarray(py::handle obj) { return py::isinstance(obj, numpy().attr("ndarray")); }

// ml_dtypes.bfloat16, NumPy's bfloat16 (the dtype JAX, TensorFlow and ONNX use), or a TypeError
// saying how to get the values without it.
py::object bfloat16_dtype() {
  try {
    return py::module_::import("ml_dtypes").attr("bfloat16");
  } catch (const py::error_already_set& e) {
    if (!e.matches(PyExc_ImportError)) throw;
    throw py::type_error(
        "NumPy has no bfloat16 of its own: install ml_dtypes (pip install ml_dtypes) for a "
        "bfloat16 view of this tensor, or convert first: t.astype(cellar.float32)");
  }
}

py::object as_numpy(const Tensor& t, py::handle owner) {
  if (t.dtype() == DType::String) return numpy().attr("array")(t.string_value());
  if (t.dtype() == DType::BFloat16) {
    // The same bytes as a UInt16 tensor (which keeps the Storage alive), seen by NumPy as
    // ml_dtypes.bfloat16: no copy.
    py::object dt = bfloat16_dtype();
    (void)t.raw_data();  // ExportError for a symbolic tensor
    py::object bits = py::cast(Tensor(DType::UInt16, t.shape(), t.storage(), t.storage_offset()));
    return numpy().attr("asarray")(py::memoryview(bits)).attr("view")(dt);
  }
  std::string why = numpy_refusal(t);
  if (!why.empty()) throw py::type_error(why);
  (void)t.raw_data();  // ExportError (a cellar.ExportError in Python) for a symbolic tensor
  return numpy().attr("asarray")(py::memoryview(py::reinterpret_borrow<py::object>(owner)));
}

py::tuple shape_tuple(const Shape& s) {
  py::tuple out(s.rank());
  for (size_t i = 0; i < s.rank(); ++i) out[i] = py::int_(s[i]);
  return out;
}

Shape shape_from(py::handle obj) {
  std::vector<int64_t> dims;
  if (py::isinstance<py::int_>(obj)) return Shape({obj.cast<int64_t>()});
  for (py::handle d : obj) dims.push_back(d.cast<int64_t>());
  return Shape(std::move(dims));
}

// *shape or a single sequence: reshape(2, 3) and reshape((2, 3)).
Shape shape_from_args(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0])) return shape_from(args[0]);
  std::vector<int64_t> dims;
  for (py::handle d : args) dims.push_back(d.cast<int64_t>());
  return Shape(std::move(dims));
}

bool is_scalar(py::handle obj) {
  return py::isinstance<py::bool_>(obj) || py::isinstance<py::int_>(obj) ||
         py::isinstance<py::float_>(obj);
}

bool is_operand(py::handle obj) {
  return is_tensor_like(obj) || is_scalar(obj) || is_ndarray(obj) ||
         py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj);
}

Tensor matmul_any(const Tensor& a, const Tensor& b) {
  if (a.rank() == 2 && b.rank() == 2) return ops::matmul(a, b);
  return ops::batch_matmul(a, b);
}

// The methods a Tensor and a Parameter share. `get` gives the tensor ops should see (for a
// Parameter its value(), which tracing recognises), `data` the bytes to export.
template <class C, class Get, class Data>
void def_tensor_like(py::class_<C>& cls, Get get, Data data) {
  using BinOp = Tensor (*)(const Tensor&, const Tensor&);
  auto binary = [&cls, get](const char* name, const char* rname, BinOp op) {
    cls.def(name, [get, op](const C& self, py::handle other) -> py::object {
      if (!is_operand(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      const Tensor a = get(self);
      return py::cast(op(a, to_operand(other, a)));
    });
    cls.def(rname, [get, op](const C& self, py::handle other) -> py::object {
      if (!is_operand(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      const Tensor b = get(self);
      return py::cast(op(to_operand(other, b), b));
    });
  };
  binary("__add__", "__radd__", &ops::add);
  binary("__sub__", "__rsub__", &ops::sub);
  binary("__mul__", "__rmul__", &ops::mul);
  binary("__truediv__", "__rtruediv__", &ops::div);
  binary("__matmul__", "__rmatmul__", &matmul_any);
  cls.def("__neg__", [get](const C& self) {
    const Tensor a = get(self);
    return ops::mul(a, to_operand(py::int_(-1), a));
  });
  cls.def_property_readonly(
      "shape", [data](const C& self) { return shape_tuple(data(self).shape()); },
      "The dimensions as a tuple, as MindSpore's Tensor.shape: (1, 10).");
  cls.def_property_readonly(
      "dtype", [data](const C& self) { return data(self).dtype(); }, "The element type.");
  cls.def_property_readonly("ndim", [data](const C& self) { return data(self).rank(); });
  cls.def_property_readonly("size", [data](const C& self) { return data(self).numel(); });
  cls.def_property_readonly("itemsize",
                            [data](const C& self) { return itemsize(data(self).dtype()); });
  cls.def_property_readonly("nbytes", [data](const C& self) { return data(self).nbytes(); });
  cls.def(
      "asnumpy", [data](py::object self) { return as_numpy(data(self.cast<const C&>()), self); },
      "A NumPy array viewing this tensor's bytes (no copy; a str tensor gives a 0-d str "
      "array). MindSpore: Tensor.asnumpy().");
  cls.def(
      "__array__",
      [data](py::object self, py::object dtype, py::object copy) {
        py::object a = as_numpy(data(self.cast<const C&>()), self);
        if (!dtype.is_none()) a = a.attr("astype")(dtype, py::arg("copy") = false);
        if (!copy.is_none() && copy.cast<bool>()) a = a.attr("copy")();
        return a;
      },
      py::arg("dtype") = py::none(), py::arg("copy") = py::none());
  cls.def(
      "__dlpack__",
      [data](py::object self, py::kwargs kwargs) {
        return as_numpy(data(self.cast<const C&>()), self).attr("__dlpack__")(**kwargs);
      },
      "DLPack capsule over this tensor's bytes (no copy; CPU), for torch.from_dlpack, "
      "numpy.from_dlpack and cellar.from_dlpack.");
  cls.def("__dlpack_device__", [](py::object) { return py::make_tuple(1, 0); });
  cls.def("item", [data](const C& self) -> py::object {
    const Tensor& t = data(self);
    if (t.dtype() == DType::String) return py::str(t.string_value());
    const double v = t.item();
    if (t.dtype() == DType::Bool) return py::bool_(v != 0);
    if (is_integral(t.dtype())) return py::int_(static_cast<int64_t>(v));
    return py::float_(v);
  });
  cls.def("__float__", [data](const C& self) { return data(self).item(); });
  cls.def("__int__", [data](const C& self) { return static_cast<int64_t>(data(self).item()); });
  cls.def("__bool__", [data](const C& self) {
    const Tensor& t = data(self);
    if (t.numel() != 1)
      throw py::value_error("the truth value of a tensor of " + std::to_string(t.numel()) +
                            " elements is ambiguous");
    return t.item() != 0;
  });
  cls.def("__len__", [data](const C& self) {
    const Tensor& t = data(self);
    if (t.rank() == 0) throw py::type_error("len() of a 0-d tensor");
    return t.shape()[0];
  });
  cls.def(
      "astype", [get](const C& self, DType t) { return get(self).to(t); }, py::arg("dtype"),
      "A converted copy. MindSpore: Tensor.astype(dtype).");
  cls.def(
      "reshape",
      [get](const C& self, py::args shape) {
        return ops::reshape(get(self), shape_from_args(shape));
      },
      "The same elements in a new shape (one dimension may be -1).");
  cls.def("copy", [data](const C& self) { return data(self).clone(); });
  cls.def(
      "__getitem__",
      [data](py::object self, py::object index) {
        // NumPy's indexing on the view, the selection copied into a new Tensor.
        return to_tensor(as_numpy(data(self.cast<const C&>()), self).attr("__getitem__")(index));
      },
      "t[index] with NumPy's rules (ints, slices, ..., None, arrays); a copy.");
}

// DLPack's device types (dlpack.h's DLDeviceType) whose memory the CPU reads directly.
constexpr int kDLCPU = 1, kDLCUDAHost = 3, kDLROCMHost = 11, kDLCUDAManaged = 13;

const char* dlpack_device_name(int type) {
  switch (type) {
    case 2:
      return "CUDA";
    case 4:
      return "OpenCL";
    case 7:
      return "Vulkan";
    case 8:
      return "Metal";
    case 9:
      return "VPI";
    case 10:
      return "ROCm";
    case 12:
      return "ExtDev";
    case 14:
      return "oneAPI";
    case 15:
      return "WebGPU";
    case 16:
      return "Hexagon";
    case 17:
      return "MAIA";
    default:
      return "unknown";
  }
}

// The DLPack consumer: the producer's device is checked first (a clear refusal for GPU memory,
// before any capsule is made), then NumPy's consumer (numpy.from_dlpack: capsule handling,
// versioned or not, read-only flag, strides) gives an array over the same memory, which
// to_tensor views in place or copies as for any array.
Tensor from_dlpack(py::object x) {
  if (!py::hasattr(x, "__dlpack__"))
    throw py::type_error("cellar.from_dlpack: a " +
                         py::str(py::type::of(x).attr("__name__")).cast<std::string>() +
                         " has no __dlpack__ (pass a torch/NumPy/JAX tensor, or use Tensor(x))");
  if (py::hasattr(x, "__dlpack_device__")) {
    auto dev = x.attr("__dlpack_device__")().cast<std::pair<int, int>>();
    if (dev.first != kDLCPU && dev.first != kDLCUDAHost && dev.first != kDLROCMHost &&
        dev.first != kDLCUDAManaged)
      throw py::value_error("cellar.from_dlpack: the tensor is on device " +
                            std::string(dlpack_device_name(dev.first)) + ":" +
                            std::to_string(dev.second) + " (DLPack device type " +
                            std::to_string(dev.first) +
                            "); cellar runs on the CPU: move it there first (torch: x.cpu())");
  }
  return to_tensor(numpy().attr("from_dlpack")(x), std::nullopt, true);
}

}  // namespace

bool is_tensor_like(py::handle obj) {
  return py::isinstance<Tensor>(obj) || py::isinstance<Parameter>(obj);
}

Tensor to_tensor(py::handle obj, std::optional<DType> dtype, bool share) {
  Tensor t;
  if (py::isinstance<Tensor>(obj)) {
    t = obj.cast<Tensor>();
  } else if (py::isinstance<Parameter>(obj)) {
    t = obj.cast<const Parameter&>().value();
  } else if (py::isinstance<py::str>(obj)) {
    t = Tensor::from_string(obj.cast<std::string>());
  } else {
    const bool was_array = is_ndarray(obj);
    py::object np = numpy();
    py::object arr = np.attr("asarray")(obj);
    const std::string kind = arr.attr("dtype").attr("kind").cast<std::string>();
    if (kind == "U" && arr.attr("ndim").cast<int>() == 0) {
      t = Tensor::from_string(arr.attr("item")().cast<std::string>());
    } else {
      if (kind == "O")
        throw py::type_error("cannot make a Tensor from " +
                             py::str(py::type::of(obj)).cast<std::string>() +
                             " (NumPy sees objects, not numbers; ragged nesting?)");
      // Python floats are Float32 in MindSpore's Tensor, not NumPy's float64.
      if (!was_array && kind == "f" && !dtype) arr = arr.attr("astype")(np.attr("float32"));
      // Bytes in the machine's order (a '>f4' array is converted: kernels read native floats).
      if (!arr.attr("dtype").attr("isnative").cast<bool>())
        arr = arr.attr("astype")(arr.attr("dtype").attr("newbyteorder")("="));
      // C order (asarray keeps a 0-d array 0-d, where ascontiguousarray makes it 1-d).
      arr = np.attr("asarray")(arr, py::arg("order") = "C");
      const DType dt = dtype_from_numpy(arr.attr("dtype"));
      std::vector<int64_t> dims;
      for (py::handle d : arr.attr("shape")) dims.push_back(d.cast<int64_t>());
      Shape shape(std::move(dims));
      // ml_dtypes.bfloat16's bytes as uint16 (NumPy's buffer protocol knows no bfloat16).
      py::object bytes_view = dt == DType::BFloat16 ? arr.attr("view")(np.attr("uint16"))
                              : dt == DType::Bool   ? arr.attr("view")(np.attr("uint8"))
                                                    : arr;
      if (auto st = share ? share_buffer(bytes_view, dt, shape) : nullptr) {
        t = Tensor(dt, std::move(shape), std::move(st));
      } else {
        // A copy (bool as uint8: same bytes, a format every buffer consumer knows); Bool bytes
        // other than 0 and 1 become 1.
        py::buffer_info info = py::buffer(bytes_view).request();
        t = Tensor(dt, std::move(shape));
        if (dt == DType::Bool) {
          const auto* src = static_cast<const uint8_t*>(info.ptr);
          bool* dst = t.data<bool>();
          for (int64_t i = 0; i < t.numel(); ++i) dst[i] = src[i] != 0;
        } else if (t.nbytes() > 0) {
          std::memcpy(t.raw_data(), info.ptr, t.nbytes());
        }
      }
    }
  }
  if (dtype && t.dtype() != *dtype) t = t.to(*dtype);
  return t;
}

Tensor to_operand(py::handle obj, const Tensor& like) {
  if (py::isinstance<py::bool_>(obj) || py::isinstance<py::int_>(obj))
    return full(Shape{}, obj.cast<double>(),
                like.dtype() == DType::Bool ? DType::Int64 : like.dtype());
  if (py::isinstance<py::float_>(obj))
    return full(Shape{}, obj.cast<double>(),
                is_floating(like.dtype()) ? like.dtype() : DType::Float32);
  return to_tensor(obj);
}

py::object from_value(const Value& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return py::none();
        } else if constexpr (std::is_same_v<T, Value::Tuple>) {
          py::tuple out(x.size());
          for (size_t i = 0; i < x.size(); ++i) out[i] = from_value(x[i]);
          return out;
        } else {
          return py::cast(x);
        }
      },
      v.variant());
}

Value to_value(py::handle obj) {
  if (obj.is_none()) return Value();
  if (py::isinstance<Tensor>(obj)) return Value(obj.cast<Tensor>());
  if (py::isinstance<Parameter>(obj)) return Value(obj.cast<const Parameter&>().value());
  if (py::isinstance<DType>(obj)) return Value(obj.cast<DType>());
  if (py::isinstance<py::bool_>(obj)) return Value(obj.cast<bool>());
  if (py::isinstance<py::int_>(obj)) return Value(obj.cast<int64_t>());
  if (py::isinstance<py::float_>(obj)) return Value(obj.cast<double>());
  if (py::isinstance<py::str>(obj)) return Value(obj.cast<std::string>());
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    Value::Tuple items;
    for (py::handle h : obj) items.push_back(to_value(h));
    return Value(std::move(items));
  }
  if (is_ndarray(obj)) return Value(to_tensor(obj));
  throw py::type_error("a " + py::str(py::type::of(obj).attr("__name__")).cast<std::string>() +
                       " cannot pass between Cells (Tensor, Parameter, tuple, list, dtype, int, "
                       "float, bool, str or None)");
}

Generator& default_generator() {
  static auto* gen = new Generator();
  return *gen;
}

void bind_tensor(py::module_& m) {
  py::enum_<DType> dt(m, "DType", "Element types, printed as MindSpore prints them (Float32).");
  for (DType t : {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8,
                  DType::UInt16, DType::UInt32, DType::UInt64, DType::Float16, DType::BFloat16,
                  DType::Float32, DType::Float64, DType::String}) {
    std::string name(mindspore_name(t));
    if (name == "str") name = "String";
    dt.value(name.c_str(), t);
  }
  // After py::enum_ has set its own "DType.Float32" spellings: MindSpore prints "Float32".
  for (const char* slot : {"__str__", "__repr__"})
    dt.attr(slot) =
        py::cpp_function([](DType t) { return std::string(mindspore_name(t)); }, py::is_method(dt));
  dt.def_property_readonly("itemsize", [](DType t) { return itemsize(t); });
  dt.def_property_readonly("is_floating_point", [](DType t) { return is_floating(t); });

  py::class_<Tensor> tensor(m, "Tensor", py::buffer_protocol(),
                            "An n-dimensional array: dtype, shape and shared bytes. "
                            "MindSpore: mindspore.Tensor.");
  tensor.def(py::init([](py::object input_data, std::optional<DType> dtype, py::object shape,
                         py::object init, bool /*const_arg*/) {
               if (!init.is_none())
                 throw py::type_error("Tensor(init=...) is not supported; pass input_data");
               if (input_data.is_none()) {
                 if (shape.is_none()) throw py::type_error("Tensor() needs input_data or a shape");
                 return zeros(shape_from(shape), dtype.value_or(DType::Float32));
               }
               Tensor t = to_tensor(input_data, dtype);
               if (!shape.is_none() && shape_from(shape) != t.shape())
                 throw py::value_error("Tensor(shape=" + shape_from(shape).str() +
                                       ") does not match the data's shape " + t.shape().str());
               return t;
             }),
             py::arg("input_data") = py::none(), py::arg("dtype") = py::none(),
             py::arg("shape") = py::none(), py::arg("init") = py::none(),
             py::arg("const_arg") = false);
  tensor.def_static(
      "from_numpy", [](py::object a) { return to_tensor(a, std::nullopt, true); }, py::arg("array"),
      "A Tensor over the array's memory (no copy; writes through either show in the other) "
      "when it is C-contiguous, writable, aligned and in native byte order, else over a copy; "
      "the dtype is kept. MindSpore: Tensor.from_numpy(array).");
  tensor.def("__repr__", [](const Tensor& t) {
    std::ostringstream os;
    os << t;
    return os.str();
  });
  def_tensor_like(
      tensor, [](const Tensor& t) { return t; },
      [](const Tensor& t) -> const Tensor& { return t; });
  install_buffer_slots(tensor, tensor_getbuffer);

  py::class_<Parameter> param(m, "Parameter", py::buffer_protocol(),
                              "A named, trainable tensor a Cell owns. Copies share it. "
                              "MindSpore: mindspore.Parameter.");
  param.def(py::init([](py::object default_input, std::optional<std::string> name,
                        bool requires_grad, bool, bool) {
              return Parameter(to_tensor(default_input), name.value_or("Parameter"), requires_grad);
            }),
            py::arg("default_input"), py::arg("name") = py::none(), py::arg("requires_grad") = true,
            py::arg("layerwise_parallel") = false, py::arg("parallel_optimizer") = true);
  param.def_property("name", &Parameter::name, &Parameter::set_name);
  param.def_property("requires_grad", &Parameter::requires_grad, &Parameter::set_requires_grad);
  param.def_property_readonly(
      "data", [](const Parameter& p) { return p.data(); }, "The tensor the Parameter holds.");
  param.def(
      "set_data",
      [](Parameter& p, py::handle data) -> Parameter& {
        p.set_data(to_tensor(data));
        return p;
      },
      py::arg("data"), py::return_value_policy::reference_internal,
      "Replaces the held tensor (any shape or dtype). MindSpore: Parameter.set_data.");
  param.def("value", &Parameter::value, "The held tensor, tagged as this Parameter.");
  param.def("__repr__", [](const Parameter& p) {
    const Tensor& t = p.data();
    return "Parameter (name=" + p.name() + ", shape=" + t.shape().str() +
           ", dtype=" + std::string(mindspore_name(t.dtype())) +
           ", requires_grad=" + (p.requires_grad() ? "True" : "False") + ")";
  });
  def_tensor_like(
      param, [](const Parameter& p) { return p.value(); },
      [](const Parameter& p) -> const Tensor& { return p.data(); });
  install_buffer_slots(param, parameter_getbuffer);

  m.def("from_dlpack", &from_dlpack, py::arg("x"),
        "A Tensor over the memory of any object with __dlpack__ (torch, NumPy, JAX, …): no copy "
        "when it is contiguous, writable and aligned, else a copy. CPU memory only: a tensor on "
        "another device is refused (ValueError naming the device). MindSpore: "
        "mindspore.from_dlpack is not public; torch.from_dlpack is the model.");
  m.def(
      "set_seed", [](uint64_t seed) { default_generator() = Generator(seed); }, py::arg("seed"),
      "Seeds the generator cellar's Python random functions (mint.randn, …) draw from. "
      "MindSpore: mindspore.set_seed.");
}

}  // namespace cellar::python
