// nn.Cell for Python (subclassable: a Python construct runs inside C++ containers, eagerly and
// under the export tracer), the C++ layers, GraphCell and Graph.
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "bindings.h"
#include "py_cell.h"

namespace cellar::python {

Value PyCell::construct(const std::vector<Value>& inputs) {
  py::gil_scoped_acquire gil;
  py::function f = py::get_override(static_cast<const nn::Cell*>(this), "construct");
  if (!f)
    throw Error(ErrorCode::kInvalidArgument,
                cls_name() + " does not define construct(self, ...), so it cannot be called");
  py::list args;
  if (export_args_) {
    // Export: the root's Tensor arguments are the tracer's symbolic inputs, in order; its other
    // arguments (MindSpore's constant inputs: ints, floats, …) are passed as given.
    size_t next = 0;
    for (py::handle a : *export_args_) {
      if (is_tensor_like(a)) {
        if (next >= inputs.size())
          throw std::logic_error("export: fewer traced inputs than Tensors");
        args.append(from_value(inputs[next++]));
      } else {
        args.append(a);
      }
    }
  } else {
    for (const Value& v : inputs) args.append(from_value(v));
  }
  return to_value(f(*args));
}

namespace {

using CellClass = py::class_<nn::Cell, PyCell, std::shared_ptr<nn::Cell>>;

std::vector<Value> values_of(const py::args& args) {
  std::vector<Value> out;
  for (py::handle a : args) out.push_back(to_value(a));
  return out;
}

// cell(*args): a Python cell's construct runs directly (Python objects in, Python objects out);
// a C++ cell's runs with the GIL released (a Python child inside takes it again).
py::object call_cell(py::object self, py::args args) {
  nn::Cell& cell = self.cast<nn::Cell&>();
  if (dynamic_cast<PyCell*>(&cell) != nullptr) return self.attr("construct")(*args);
  std::vector<Value> in = values_of(args);
  Value out;
  {
    py::gil_scoped_release release;
    out = cell.construct(in);
  }
  return from_value(out);
}

// What attribute `attr` of a Python cell holds among the cell's registered children and own
// parameters: children are registered under the attribute's name; a parameter under its own
// name (MindSpore's naming), found by identity with the Parameter the attribute holds.
struct Registered {
  bool child = false;
  std::optional<std::string> param;  // its key in own_parameters()
  PyObject* object = nullptr;        // the attribute's value (borrowed), if any
};

Registered registered(py::handle self, const nn::Cell& c, const std::string& attr) {
  Registered r;
  PyObject* dict = PyObject_GenericGetDict(self.ptr(), nullptr);
  if (dict == nullptr) throw py::error_already_set();
  r.object = PyDict_GetItemString(dict, attr.c_str());
  Py_DECREF(dict);  // the instance keeps its __dict__ (and so r.object) alive
  if (r.object == nullptr) return r;
  py::handle old(r.object);
  if (py::isinstance<nn::Cell>(old)) {
    const auto* cell = &old.cast<const nn::Cell&>();
    for (const auto& [n, child] : c.name_cells())
      if (n == attr && child.get() == cell) r.child = true;
  } else if (py::isinstance<Parameter>(old)) {
    const auto& state = old.cast<const Parameter&>().state();
    for (const auto& [n, p] : c.own_parameters())
      if (p.state() == state) r.param = n;
  }
  return r;
}

std::array<int64_t, 2> pair_of(py::handle obj) {
  if (py::isinstance<py::int_>(obj)) {
    const auto v = obj.cast<int64_t>();
    return {v, v};
  }
  auto v = obj.cast<std::vector<int64_t>>();
  if (v.size() != 2) throw py::value_error("expected an int or a pair of ints");
  return {v[0], v[1]};
}

}  // namespace

void bind_nn(py::module_& m) {
  CellClass cell(m, "Cell", py::dynamic_attr(),
                 "The base of every network: named sub-cells and Parameters in insertion order, "
                 "and a construct method. Subclass it in Python as MindSpore's nn.Cell: assign "
                 "sub-cells and Parameters as attributes in __init__ (their checkpoint names are "
                 "the attribute paths, dense1.weight) and write construct(self, ...).");
  // A new-style constructor by hand: the C++ Cell takes its class name at construction, and
  // only the instance's Python type knows it.
  cell.def(
      "__init__",
      [](py::detail::value_and_holder& v_h, py::args, py::kwargs) {
        v_h.value_ptr() = new PyCell(reinterpret_cast<PyObject*>(v_h.inst)->ob_type->tp_name);
      },
      py::detail::is_new_style_constructor(),
      "Cell(auto_prefix=True, flags=None): MindSpore's arguments are accepted and ignored.");
  cell.def("__call__", &call_cell);
  cell.def(
      "__setattr__",
      [](py::object self, py::str name, py::object value) {
        nn::Cell& c = self.cast<nn::Cell&>();
        auto* own = dynamic_cast<PyCell*>(&c);
        if (own != nullptr) {
          const std::string attr = name.cast<std::string>();
          const Registered was = registered(self, *own, attr);
          if (py::isinstance<nn::Cell>(value)) {
            auto child = value.cast<std::shared_ptr<nn::Cell>>();
            if (was.child) {
              own->set_cell(attr, std::move(child));  // where the old one stood
            } else {
              if (was.param) own->drop(*was.param);
              own->add_cell(attr, std::move(child));
            }
          } else if (py::isinstance<Parameter>(value)) {
            auto& p = value.cast<Parameter&>();
            // MindSpore's naming: a Parameter keeps a name its creator gave it; one with the
            // default name ("Parameter") takes the attribute's. The registered Parameter
            // replaces the Python object's handle, so the object the caller holds is the one
            // the Cell owns (and checkpoints and export see).
            const std::string own_name = p.name();
            const bool named = !own_name.empty() && own_name != "Parameter" &&
                               own_name.find('.') == std::string::npos;
            const std::string key = named ? own_name : attr;
            if (was.param) {
              p = own->set_parameter(*was.param, key, p.data(), p.requires_grad());
            } else {
              if (was.child) own->drop(attr);
              p = own->add_parameter(key, p.data(), p.requires_grad());
            }
          } else if (was.param && is_tensor_like(value)) {
            // As MindSpore: a Tensor assigned to a Parameter attribute becomes its data.
            auto& p = py::reinterpret_borrow<py::object>(was.object).cast<Parameter&>();
            p.set_data(to_tensor(value));
            return;
          } else if (was.child || was.param) {
            if (!value.is_none())
              throw py::type_error(
                  "'" + attr + "' of " + c.cls_name() + " is a " +
                  (was.child ? "Cell" : "Parameter") +
                  "; it can be replaced by a Cell or Parameter, or removed with "
                  "None or del, not set to a " +
                  py::str(py::type::of(value).attr("__name__")).cast<std::string>());
            own->drop(was.child ? attr : *was.param);  // MindSpore: set to None, skipped
          }
        }
        if (PyObject_GenericSetAttr(self.ptr(), name.ptr(), value.ptr()) != 0)
          throw py::error_already_set();
      },
      py::arg("name"), py::arg("value"));
  cell.def(
      "__delattr__",
      [](py::object self, py::str name) {
        nn::Cell& c = self.cast<nn::Cell&>();
        if (auto* own = dynamic_cast<PyCell*>(&c)) {
          const std::string attr = name.cast<std::string>();
          const Registered was = registered(self, *own, attr);
          if (was.child) own->drop(attr);
          if (was.param) own->drop(*was.param);
        }
        if (PyObject_GenericSetAttr(self.ptr(), name.ptr(), nullptr) != 0)
          throw py::error_already_set();
      },
      py::arg("name"));
  cell.def("__getattr__", [](nn::Cell& c, const std::string& name) -> py::object {
    for (const auto& [n, child] : c.name_cells())
      if (n == name) return py::cast(child);
    for (const auto& [n, p] : c.own_parameters())
      if (n == name) return py::cast(p);
    throw py::attribute_error("'" + c.cls_name() + "' has no attribute '" + name + "'");
  });
  cell.def_property_readonly("cls_name", &nn::Cell::cls_name);
  cell.def(
      "parameters_and_names",
      [](const nn::Cell& c, const std::string& prefix, bool) {
        return c.parameters_and_names(prefix);
      },
      py::arg("name_prefix") = "", py::arg("expand") = true,
      "(dotted name, Parameter) for every parameter, depth-first in insertion order.");
  cell.def("get_parameters", &nn::Cell::get_parameters);
  cell.def("trainable_params", &nn::Cell::trainable_params);
  cell.def(
      "parameters_dict",
      [](const nn::Cell& c) {
        py::dict d;
        for (const auto& [n, p] : c.parameters_and_names()) d[py::str(n)] = p;
        return d;
      },
      "name → Parameter, in order.");
  cell.def(
      "cells_and_names",
      [](nn::Cell& c, py::object, const std::string& prefix) { return c.cells_and_names(prefix); },
      py::arg("cells") = py::none(), py::arg("name_prefix") = "");
  cell.def("name_cells", [](const nn::Cell& c) {
    py::dict d;
    for (const auto& [n, child] : c.name_cells()) d[py::str(n)] = child;
    return d;
  });
  cell.def("cells", [](const nn::Cell& c) {
    py::list l;
    for (const auto& [n, child] : c.name_cells()) l.append(py::cast(child));
    return l;
  });
  cell.def(
      "set_train",
      [](py::object self, bool mode) {
        self.cast<nn::Cell&>().set_train(mode);
        return self;
      },
      py::arg("mode") = true);
  cell.def_property_readonly("training", &nn::Cell::training);
  cell.def("__repr__", [](const nn::Cell& c) {
    std::string s = c.cls_name() + "<";
    bool first = true;
    for (const auto& [n, child] : c.name_cells()) {
      s += (first ? "" : ", ") + n + "=" + child->cls_name();
      first = false;
    }
    return s + ">";
  });

  py::class_<nn::SequentialCellImpl, nn::Cell, std::shared_ptr<nn::SequentialCellImpl>> seq(
      m, "SequentialCell",
      "Runs its cells in order: SequentialCell(a, b), SequentialCell([a, b]) (named 0, 1, …) or "
      "SequentialCell(OrderedDict([(\"conv\", a), …])) (named by key). MindSpore: "
      "nn.SequentialCell.");
  seq.def(py::init([](py::args args) {
            std::vector<nn::CellPtr> cells;
            py::object items = args;
            if (args.size() == 1 && !py::isinstance<nn::Cell>(args[0])) {
              if (py::isinstance<py::dict>(args[0])) {
                // MindSpore's SequentialCell(OrderedDict([("conv", ...), ...])): named by key.
                std::vector<std::pair<std::string, nn::CellPtr>> named;
                for (auto [k, v] : args[0].cast<py::dict>()) {
                  if (!py::isinstance<py::str>(k) || !py::isinstance<nn::Cell>(v))
                    throw py::type_error(
                        "SequentialCell(OrderedDict) maps str names to Cells, "
                        "got " +
                        py::repr(k).cast<std::string>() + ": a " +
                        py::str(py::type::of(v).attr("__name__")).cast<std::string>());
                  named.emplace_back(k.cast<std::string>(), v.cast<nn::CellPtr>());
                }
                return std::make_shared<nn::SequentialCellImpl>(std::move(named));
              }
              items = args[0];
            }
            for (py::handle h : items) {
              if (!py::isinstance<nn::Cell>(h))
                throw py::type_error("SequentialCell takes Cells, got a " +
                                     py::str(py::type::of(h).attr("__name__")).cast<std::string>());
              cells.push_back(h.cast<nn::CellPtr>());
            }
            return std::make_shared<nn::SequentialCellImpl>(std::move(cells));
          }),
          py::keep_alive<1, 2>());  // Python-defined cells inside stay alive with the container
  seq.def(
      "append", [](nn::SequentialCellImpl& s, nn::CellPtr c) { s.append(std::move(c)); },
      py::keep_alive<1, 2>());
  seq.def("__len__", &nn::SequentialCellImpl::size);
  seq.def("__getitem__", [](const nn::SequentialCellImpl& s, int64_t i) {
    const auto n = static_cast<int64_t>(s.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw py::index_error("SequentialCell index out of range");
    return s[static_cast<size_t>(i)];
  });

  py::class_<nn::FlattenImpl, nn::Cell, std::shared_ptr<nn::FlattenImpl>>(
      m, "Flatten", "(N, d1, d2, …) → (N, d1·d2·…). MindSpore: nn.Flatten.")
      .def(py::init([](int64_t start_dim, int64_t end_dim) {
             if (start_dim != 1 || end_dim != -1)
               throw py::value_error("Flatten supports start_dim=1, end_dim=-1 only");
             return nn::Flatten();
           }),
           py::arg("start_dim") = 1, py::arg("end_dim") = -1);
  py::class_<nn::ReLUImpl, nn::Cell, std::shared_ptr<nn::ReLUImpl>>(m, "ReLU",
                                                                    "MindSpore: nn.ReLU.")
      .def(py::init(&nn::ReLU));
  py::class_<nn::SigmoidImpl, nn::Cell, std::shared_ptr<nn::SigmoidImpl>>(m, "Sigmoid")
      .def(py::init(&nn::Sigmoid));
  py::class_<nn::TanhImpl, nn::Cell, std::shared_ptr<nn::TanhImpl>>(m, "Tanh").def(
      py::init(&nn::Tanh));
  py::class_<nn::SoftmaxImpl, nn::Cell, std::shared_ptr<nn::SoftmaxImpl>>(m, "Softmax")
      .def(py::init(&nn::Softmax), py::arg("axis") = -1);
  py::class_<nn::LogSoftmaxImpl, nn::Cell, std::shared_ptr<nn::LogSoftmaxImpl>>(m, "LogSoftmax")
      .def(py::init(&nn::LogSoftmax), py::arg("axis") = -1);
  py::class_<nn::GELUImpl, nn::Cell, std::shared_ptr<nn::GELUImpl>>(m, "GELU").def(
      py::init(&nn::GELU), py::arg("approximate") = true);

  py::class_<nn::DenseImpl, nn::Cell, std::shared_ptr<nn::DenseImpl>>(
      m, "Dense",
      "y = x · weightᵀ + bias, weight [out, in] (HeUniform), bias [out]. MindSpore: nn.Dense.")
      .def(py::init([](int64_t in_channels, int64_t out_channels, py::object weight_init,
                       py::object bias_init, bool has_bias, py::object activation, DType dtype) {
             if (!weight_init.is_none() || !bias_init.is_none() || !activation.is_none())
               throw py::type_error(
                   "Dense(weight_init=, bias_init=, activation=) are not supported; set the "
                   "weights with set_data and add an activation cell");
             return nn::Dense(
                 {.in = in_channels, .out = out_channels, .has_bias = has_bias, .dtype = dtype});
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("weight_init") = py::none(),
           py::arg("bias_init") = py::none(), py::arg("has_bias") = true,
           py::arg("activation") = py::none(), py::arg("dtype") = DType::Float32)
      .def_readonly("weight", &nn::DenseImpl::weight)
      .def_property_readonly("bias", [](const nn::DenseImpl& d) -> py::object {
        if (!d.bias.defined()) return py::none();
        return py::cast(d.bias);
      });

  py::class_<nn::Conv2dImpl, nn::Cell, std::shared_ptr<nn::Conv2dImpl>>(m, "Conv2d",
                                                                        "MindSpore: nn.Conv2d.")
      .def(py::init([](int64_t in_channels, int64_t out_channels, py::object kernel_size,
                       py::object stride, const std::string& pad_mode, py::object padding,
                       py::object dilation, int64_t group, bool has_bias) {
             nn::Conv2dOptions o;
             o.in_channels = in_channels;
             o.out_channels = out_channels;
             o.kernel_size = pair_of(kernel_size);
             o.stride = pair_of(stride);
             o.pad_mode = pad_mode;
             if (py::isinstance<py::int_>(padding)) {
               const auto p = padding.cast<int64_t>();
               o.padding = {p, p, p, p};
             } else {
               auto v = padding.cast<std::vector<int64_t>>();
               if (v.size() != 4) throw py::value_error("padding is an int or 4 ints");
               o.padding = {v[0], v[1], v[2], v[3]};
             }
             o.dilation = pair_of(dilation);
             o.group = group;
             o.has_bias = has_bias;
             return nn::Conv2d(o);
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"),
           py::arg("stride") = 1, py::arg("pad_mode") = "same", py::arg("padding") = 0,
           py::arg("dilation") = 1, py::arg("group") = 1, py::arg("has_bias") = false);
  auto pool = [](py::object kernel_size, py::object stride, const std::string& pad_mode) {
    return nn::Pool2dOptions{
        .kernel_size = pair_of(kernel_size), .stride = pair_of(stride), .pad_mode = pad_mode};
  };
  py::class_<nn::MaxPool2dImpl, nn::Cell, std::shared_ptr<nn::MaxPool2dImpl>>(m, "MaxPool2d")
      .def(py::init([pool](py::object k, py::object s, const std::string& mode) {
             return nn::MaxPool2d(pool(k, s, mode));
           }),
           py::arg("kernel_size") = 1, py::arg("stride") = 1, py::arg("pad_mode") = "valid");
  py::class_<nn::AvgPool2dImpl, nn::Cell, std::shared_ptr<nn::AvgPool2dImpl>>(m, "AvgPool2d")
      .def(py::init([pool](py::object k, py::object s, const std::string& mode) {
             return nn::AvgPool2d(pool(k, s, mode));
           }),
           py::arg("kernel_size") = 1, py::arg("stride") = 1, py::arg("pad_mode") = "valid");
  py::class_<nn::BatchNorm2dImpl, nn::Cell, std::shared_ptr<nn::BatchNorm2dImpl>>(m, "BatchNorm2d")
      .def(py::init([](int64_t num_features, double eps, double momentum, bool affine) {
             return nn::BatchNorm2d(nn::BatchNorm2dOptions{
                 .num_features = num_features, .eps = eps, .momentum = momentum, .affine = affine});
           }),
           py::arg("num_features"), py::arg("eps") = 1e-5, py::arg("momentum") = 0.9,
           py::arg("affine") = true);
  py::class_<nn::DropoutImpl, nn::Cell, std::shared_ptr<nn::DropoutImpl>>(m, "Dropout")
      .def(py::init([](double p) { return nn::Dropout(p); }), py::arg("p") = 0.5);

  py::class_<ir::Graph, std::shared_ptr<ir::Graph>>(
      m, "Graph", "A loaded MindIR or ONNX graph; run it with nn.GraphCell(graph).")
      .def_readonly("name", &ir::Graph::name)
      .def_property_readonly(
          "inputs",
          [](const ir::Graph& g) {
            py::list l;
            for (int v : g.inputs)
              l.append(py::make_tuple(g.value(v).name, g.value(v).dtype, g.value(v).shape.dims()));
            return l;
          })
      .def_property_readonly(
          "outputs",
          [](const ir::Graph& g) {
            py::list l;
            for (int v : g.outputs)
              l.append(py::make_tuple(g.value(v).name, g.value(v).dtype, g.value(v).shape.dims()));
            return l;
          })
      .def("__repr__", [](const ir::Graph& g) {
        return "Graph(name=" + g.name + ", inputs=" + std::to_string(g.inputs.size()) +
               ", outputs=" + std::to_string(g.outputs.size()) +
               ", nodes=" + std::to_string(g.nodes.size()) + ")";
      });

  py::class_<nn::GraphCell, nn::Cell, std::shared_ptr<nn::GraphCell>>(
      m, "GraphCell",
      "Runs a loaded graph (mindspore.load). The executor is planned once; calls release the "
      "GIL, and several Python threads may call one GraphCell at once (the weights are shared, "
      "each concurrent call gets memory of its own). `graph` is the graph it runs (the given one "
      "after load-time optimisation: its replaced weights are not kept). MindSpore: "
      "nn.GraphCell(graph, params_init=None).")
      .def(py::init([](const ir::Graph& graph, py::object params_init, py::object) {
             ParamDict params;
             if (!params_init.is_none())
               for (auto [k, v] : params_init.cast<py::dict>())
                 params.set(k.cast<std::string>(), Parameter(to_tensor(v), k.cast<std::string>()));
             py::gil_scoped_release release;
             return std::make_shared<nn::GraphCell>(graph, params,
                                                    runtime::ExecutorOptions{.keep_graph = false});
           }),
           py::arg("graph"), py::arg("params_init") = py::none(),
           py::arg("obf_random_seed") = py::none())
      .def("__call__",
           [](nn::GraphCell& g, py::args args) {
             std::vector<Value> in = values_of(args);
             Value out;
             {
               py::gil_scoped_release release;
               out = g.construct(in);
             }
             return from_value(out);
           })
      .def_property_readonly("graph", &nn::GraphCell::graph)
      .def(
          "resize",
          [](nn::GraphCell& g, const std::vector<std::vector<int64_t>>& shapes) {
            std::vector<Shape> s;
            for (const auto& d : shapes) s.emplace_back(d);
            py::gil_scoped_release release;
            g.resize(s);
          },
          py::arg("input_shapes"),
          "Plans for these input shapes (one list of ints per input) and makes them current, as "
          "MindSpore Lite's Model.resize; input_shapes and output_shapes then describe them. "
          "ValueError when a fixed axis or a rank differs, or an op refuses the shapes.")
      .def_property_readonly(
          "input_shapes",
          [](const nn::GraphCell& g) {
            py::list l;
            for (const Shape& s : g.input_shapes()) l.append(py::tuple(py::cast(s.dims())));
            return l;
          },
          "The current plan's input shapes (tuples).")
      .def_property_readonly(
          "output_shapes",
          [](const nn::GraphCell& g) {
            const auto types = g.output_types();
            const auto known = g.output_shapes_known();
            py::list l;
            for (size_t k = 0; k < types.size(); ++k) {
              py::list dims;
              for (int64_t d : types[k].shape.dims())
                dims.append(known[k] ? py::object(py::int_(d)) : py::object(py::none()));
              l.append(py::tuple(dims));
            }
            return l;
          },
          "The current plan's output shapes (tuples). An output whose shape depends on the values "
          "of an input (not only on the input shapes resize() is given) is known only at run "
          "time: each of its dimensions is None.")
      .def(
          "_time_calls",
          [](nn::GraphCell& g, const Tensor& x, int n) {
            // For bench/python_boundary.py: the median of `n` C++ calls in this process, so that
            // the Python calls are compared with C++ ones under the same conditions.
            const std::vector<Value> in{Value(x)};
            std::vector<double> ns(static_cast<size_t>(std::max(1, n)));
            py::gil_scoped_release release;
            for (auto& t : ns) {
              const auto t0 = std::chrono::steady_clock::now();
              const Value out = g.construct(in);
              t = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                      .count();
            }
            std::sort(ns.begin(), ns.end());
            return ns[ns.size() / 2];
          },
          py::arg("x"), py::arg("n"));
}

}  // namespace cellar::python
