// Checkpoints, export and load with MindSpore's keyword names and defaults. Each function turns
// its Python arguments into the C++ options struct and calls the C++ function with the GIL
// released; nothing about the formats is decided here.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <future>
#include <string_view>

#include "bindings.h"
#include "py_cell.h"

namespace cellar::python {

namespace {

std::string bytes_or_empty(py::handle key, const char* what) {
  if (key.is_none()) return {};
  if (py::isinstance<py::bytes>(key) || py::isinstance<py::bytearray>(key))
    return py::bytes(py::reinterpret_borrow<py::object>(key)).cast<std::string>();
  throw py::type_error(std::string(what) + " must be bytes, not " +
                       py::str(py::type::of(key).attr("__name__")).cast<std::string>());
}

std::vector<std::string> prefixes(py::handle p, const char* what) {
  if (p.is_none()) return {};
  if (py::isinstance<py::str>(p)) return {p.cast<std::string>()};
  if (py::isinstance<py::list>(p) || py::isinstance<py::tuple>(p)) {
    std::vector<std::string> out;
    for (py::handle h : p) {
      if (!py::isinstance<py::str>(h))
        throw py::type_error(std::string(what) + " must be a str or a list/tuple of str");
      out.push_back(h.cast<std::string>());
    }
    return out;
  }
  throw py::type_error(std::string(what) + " must be a str or a list/tuple of str");
}

std::function<bool(const std::string&)> predicate(py::handle f) {
  if (f.is_none()) return {};
  if (!PyCallable_Check(f.ptr())) throw py::type_error("choice_func must be callable");
  // pybind11's std::function caster: takes the GIL for each call and for its release.
  return f.cast<std::function<bool(const std::string&)>>();
}

CheckpointFormat format_of(const std::string& format) {
  if (format == "ckpt") return CheckpointFormat::kCkpt;
  if (format == "safetensors") return CheckpointFormat::kSafetensors;
  throw py::value_error("format must be 'ckpt' or 'safetensors', not '" + format + "'");
}

void check_bool(py::handle v, const char* name) {
  if (!py::isinstance<py::bool_>(v)) throw py::type_error(std::string(name) + " must be a bool");
}

// MindSpore's save_obj: a Cell, a dict name → Tensor/Parameter, or a list of
// {"name": str, "data": Tensor/Parameter}.
ParamDict param_dict_of(py::handle obj) {
  ParamDict d;
  if (py::isinstance<py::dict>(obj)) {
    for (auto [k, v] : obj.cast<py::dict>()) {
      const auto name = k.cast<std::string>();
      if (py::isinstance<Parameter>(v))
        d.set(name, v.cast<Parameter>());
      else
        d.set(name, to_tensor(v));
    }
    return d;
  }
  if (py::isinstance<py::list>(obj)) {
    for (py::handle item : obj) {
      if (!py::isinstance<py::dict>(item) || !item.contains("name") || !item.contains("data"))
        throw py::type_error("save_obj list items must be {'name': str, 'data': Tensor}");
      d.set(item["name"].cast<std::string>(), to_tensor(item["data"]));
    }
    return d;
  }
  throw py::type_error("save_obj must be a Cell, a dict or a list of {'name', 'data'} dicts, not " +
                       py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
}

// The handle save_checkpoint(async_save=True) returns: wait() blocks until the file is written
// and raises the write's error, if any.
struct AsyncSave {
  std::shared_future<void> future;
  void wait() const {
    py::gil_scoped_release release;
    future.get();
  }
  bool done() const {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
};

py::object save(py::handle save_obj, const std::filesystem::path& file, py::handle integrated_save,
                py::handle async_save, py::handle append_dict, py::handle enc_key,
                const std::string& enc_mode, py::handle choice_func, py::handle crc_check,
                const std::string& format, const py::kwargs&) {
  check_bool(integrated_save, "integrated_save");
  check_bool(async_save, "async_save");
  check_bool(crc_check, "crc_check");
  SaveOptions o;
  o.format = format_of(format);
  o.enc_key = bytes_or_empty(enc_key, "enc_key");
  o.enc_mode = enc_mode;
  o.crc_check = crc_check.cast<bool>();
  o.async_save = async_save.cast<bool>();
  o.choice_func = predicate(choice_func);
  std::optional<ParamDict> extra;  // append_dict Tensors join the parameters
  if (!append_dict.is_none()) {
    if (!py::isinstance<py::dict>(append_dict)) throw py::type_error("append_dict must be a dict");
    for (auto [k, v] : append_dict.cast<py::dict>()) {
      const auto name = k.cast<std::string>();
      if (py::isinstance<py::bool_>(v))
        o.append_dict.emplace_back(name, v.cast<bool>());
      else if (py::isinstance<py::int_>(v))
        o.append_dict.emplace_back(name, v.cast<int64_t>());
      else if (py::isinstance<py::float_>(v))
        o.append_dict.emplace_back(name, v.cast<double>());
      else if (py::isinstance<py::str>(v))
        o.append_dict.emplace_back(name, v.cast<std::string>());
      else if (is_tensor_like(v)) {
        if (!extra) extra.emplace();
        extra->set(name, to_tensor(v));
      } else {
        throw py::type_error(
            "append_dict values must be int, float, bool, str, Tensor or "
            "Parameter; '" +
            name + "' is not");
      }
    }
  }
  std::shared_future<void> done;
  if (py::isinstance<nn::Cell>(save_obj) && !extra) {
    const auto& cell = save_obj.cast<const nn::Cell&>();
    py::gil_scoped_release release;
    done = save_checkpoint(cell, file, o);
  } else {
    ParamDict d;
    if (py::isinstance<nn::Cell>(save_obj)) {
      for (const auto& [n, p] : save_obj.cast<const nn::Cell&>().parameters_and_names())
        d.set(n, p);
    } else {
      d = param_dict_of(save_obj);
    }
    if (extra)
      for (const auto& [n, p] : *extra) d.set(n, p);
    py::gil_scoped_release release;
    done = save_checkpoint(d, file, o);
  }
  if (!o.async_save) return py::none();
  return py::cast(AsyncSave{done});
}

py::dict to_py_dict(const ParamDict& params) {
  py::dict out;
  for (const auto& [name, p] : params) {
    // MindSpore returns str entries (append_dict strings) as str, everything else as Parameter.
    if (p.data().dtype() == DType::String)
      out[py::str(name)] = p.data().string_value();
    else
      out[py::str(name)] = p;
  }
  return out;
}

ParamDict from_py_dict(py::handle obj) {
  if (!py::isinstance<py::dict>(obj))
    throw py::type_error("parameter_dict must be a dict, not " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  ParamDict d;
  for (auto [k, v] : obj.cast<py::dict>()) {
    const auto name = k.cast<std::string>();
    if (py::isinstance<Parameter>(v))
      d.set(name, v.cast<Parameter>());
    else if (py::isinstance<Tensor>(v) || py::isinstance<py::str>(v))
      d.set(name, to_tensor(v));
    else
      throw py::type_error("parameter_dict['" + name + "'] must be a Parameter or Tensor");
  }
  return d;
}

// `text` as a literal for std::regex's ECMAScript grammar.
std::string regex_literal(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (std::string_view("\\^$.|?*+()[]{}/").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

// load_param_into_net's name_map: a dict {checkpoint name: network name} (exact names, others
// unchanged, as ckpt_to_safetensors' name_map), rule text or a list of rule lines in the
// `--name-map` file syntax (strip_prefix, add_prefix, replace, rename, drop: see
// include/cellar/io/name_map.h), or an os.PathLike naming such a file.
NameMap name_map_of(py::handle obj) {
  if (obj.is_none()) return {};
  if (py::isinstance<py::dict>(obj)) {
    NameMap m;
    for (auto [k, v] : obj.cast<py::dict>()) {
      if (!py::isinstance<py::str>(k) || !py::isinstance<py::str>(v))
        throw py::type_error("name_map as a dict maps str names to str names");
      std::string to;  // '$' is special in a replacement: "$$" is one
      for (char ch : v.cast<std::string>())
        to += ch == '$' ? std::string("$$") : std::string(1, ch);
      m.rename("^" + regex_literal(k.cast<std::string>()) + "$", to);
    }
    return m;
  }
  if (py::isinstance<py::str>(obj)) return NameMap::parse(obj.cast<std::string>(), "name_map");
  if (py::isinstance(obj, py::module_::import("os").attr("PathLike")))
    return NameMap::from_file(py::module_::import("os").attr("fspath")(obj).cast<std::string>());
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    std::string text;
    for (py::handle line : obj) {
      if (!py::isinstance<py::str>(line))
        throw py::type_error(
            "name_map as a list holds rule lines (str), e.g. 'strip_prefix module.'");
      text += line.cast<std::string>() + "\n";
    }
    return NameMap::parse(text, "name_map");
  }
  throw py::type_error(
      "name_map must be a dict, rule text (str), a list of rule lines or an "
      "os.PathLike rule file, not " +
      py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
}

py::tuple load_into(nn::Cell& net, const ParamDict& params, const LoadIntoNetOptions& options) {
  LoadResult r;
  {
    py::gil_scoped_release release;
    r = load_param_into_net(net, params, options);
  }
  py::list a, b;
  for (const auto& n : r.param_not_load) a.append(n);
  for (const auto& n : r.ckpt_not_load) b.append(n);
  return py::make_tuple(a, b);
}

FileFormat file_format_of(const std::string& f) {
  if (f == "MINDIR") return FileFormat::MINDIR;
  if (f == "ONNX") return FileFormat::ONNX;
  if (f == "AIR")
    throw Error(ErrorCode::kUnsupported, "file_format 'AIR' (Ascend) is not supported: use MINDIR");
  throw py::value_error("file_format must be 'MINDIR' or 'ONNX', not '" + f + "'");
}

ConvertOptions convert_options(py::handle name_map, py::handle regex, int processes_num) {
  ConvertOptions o;
  if (!name_map.is_none()) o.name_map = name_map.cast<std::map<std::string, std::string>>();
  if (!regex.is_none()) o.file_name_regex = regex.cast<std::string>();
  o.processes_num = processes_num;
  return o;
}

// ckpt_to_safetensors and safetensors_to_ckpt take the same arguments with MindSpore's names and
// defaults, and run without the GIL: one binding serves both.
template <auto Convert>
void def_converter(py::module_& m, const char* name, const char* doc) {
  m.def(
      name,
      [](const std::filesystem::path& file_path, py::object save_path, py::object name_map,
         py::object regex, int processes_num) {
        const auto o = convert_options(name_map, regex, processes_num);
        const std::filesystem::path out =
            save_path.is_none() ? std::filesystem::path() : save_path.cast<std::filesystem::path>();
        py::gil_scoped_release release;
        Convert(file_path, out, o);
      },
      py::arg("file_path"), py::arg("save_path") = py::none(), py::arg("name_map") = py::none(),
      py::arg("file_name_regex") = py::none(), py::arg("processes_num") = 1, doc);
}

}  // namespace

void bind_io(py::module_& m) {
  py::class_<AsyncSave>(m, "AsyncSave",
                        "What save_checkpoint(async_save=True) returns: wait() blocks until the "
                        "file is written and raises its error, done() polls.")
      .def("wait", &AsyncSave::wait)
      .def("done", &AsyncSave::done);

  m.def("save_checkpoint", &save, py::arg("save_obj"), py::arg("ckpt_file_name"),
        py::arg("integrated_save") = true, py::arg("async_save") = false,
        py::arg("append_dict") = py::none(), py::arg("enc_key") = py::none(),
        py::arg("enc_mode") = "AES-GCM", py::arg("choice_func") = py::none(),
        py::arg("crc_check") = false, py::arg("format") = "ckpt");

  m.def(
      "load_checkpoint",
      [](const std::filesystem::path& file, py::object net, bool strict_load,
         py::object filter_prefix, py::object dec_key, const std::string& dec_mode,
         py::object specify_prefix, py::object choice_func, bool crc_check, bool,
         const std::string& format, py::object name_map, bool skip_shape_mismatch, py::kwargs) {
        format_of(format);
        LoadOptions o;
        o.filter_prefix = prefixes(filter_prefix, "filter_prefix");
        o.specify_prefix = prefixes(specify_prefix, "specify_prefix");
        o.choice_func = predicate(choice_func);
        o.crc_check = crc_check;
        o.dec_key = bytes_or_empty(dec_key, "dec_key");
        o.dec_mode = dec_mode;
        ParamDict params;
        {
          py::gil_scoped_release release;
          params = load_checkpoint(file, o);
        }
        if (!net.is_none()) {
          LoadIntoNetOptions into;
          into.strict_load = strict_load;
          into.name_map = name_map_of(name_map);
          into.skip_shape_mismatch = skip_shape_mismatch;
          load_into(net.cast<nn::Cell&>(), params, into);
        } else if (!name_map.is_none() || skip_shape_mismatch) {
          throw py::type_error("name_map and skip_shape_mismatch apply to loading into net=");
        }
        return to_py_dict(params);
      },
      py::arg("ckpt_file_name"), py::arg("net") = py::none(), py::arg("strict_load") = false,
      py::arg("filter_prefix") = py::none(), py::arg("dec_key") = py::none(),
      py::arg("dec_mode") = "AES-GCM", py::arg("specify_prefix") = py::none(),
      py::arg("choice_func") = py::none(), py::arg("crc_check") = false,
      py::arg("remove_redundancy") = false, py::arg("format") = "ckpt",
      py::arg("name_map") = py::none(), py::arg("skip_shape_mismatch") = false);

  m.def(
      "load_param_into_net",
      [](nn::Cell& net, py::handle parameter_dict, bool strict_load, bool, py::handle name_map,
         bool skip_shape_mismatch) {
        LoadIntoNetOptions o;
        o.strict_load = strict_load;
        o.name_map = name_map_of(name_map);
        o.skip_shape_mismatch = skip_shape_mismatch;
        return load_into(net, from_py_dict(parameter_dict), o);
      },
      py::arg("net"), py::arg("parameter_dict"), py::arg("strict_load") = false,
      py::arg("remove_redundancy") = false, py::kw_only(), py::arg("name_map") = py::none(),
      py::arg("skip_shape_mismatch") = false,
      R"doc(Copies the dict's entries into the network's parameters of the same names.

Returns (param_not_load, ckpt_not_load). A shape difference is an error naming the parameter; a
dtype difference is converted unless strict_load.
MindSpore: mindspore.load_param_into_net(net, parameter_dict, strict_load=False).

cellar's keywords for fine-tuning (MindSpore has none; there one edits the dict first):
  name_map: renames the dict's entries before matching, and the names in ckpt_not_load are the
    renamed ones. A dict {checkpoint name: network name} (exact names; MindSpore:
    {name_map.get(k, k): v for k, v in parameter_dict.items()}), rule text or a list of rule
    lines ("strip_prefix module.", "add_prefix backbone.", "replace old new",
    "rename REGEX REPLACEMENT", "drop REGEX"), or an os.PathLike rule file as for
    `cellar convert --name-map`. Two entries becoming one name is a ValueError.
  skip_shape_mismatch: leave a parameter whose entry has another shape as it is and list it in
    param_not_load (its entry in ckpt_not_load), instead of refusing the whole load; MindSpore:
    deleting those entries from the dict before the call (a new classifier head).)doc");

  m.def(
      "export",
      [](py::object net, py::list inputs, const std::string& file_name,
         const std::string& file_format, py::object enc_key, const std::string& enc_mode) {
        nn::Cell& cell = net.cast<nn::Cell&>();
        auto* py_cell = dynamic_cast<PyCell*>(&cell);
        std::vector<Tensor> tensors;
        for (py::handle a : inputs) {
          if (is_tensor_like(a))
            tensors.push_back(py::isinstance<Parameter>(a) ? a.cast<const Parameter&>().data()
                                                           : a.cast<Tensor>());
          else if (py_cell == nullptr)
            throw py::type_error("export inputs of a " + cell.cls_name() +
                                 " must be Tensors (constants are for Cells written in Python)");
        }
        ExportOptions o;
        o.enc_key = bytes_or_empty(enc_key, "enc_key");
        o.enc_mode = enc_mode;
        const FileFormat format = file_format_of(file_format);
        if (py_cell != nullptr) py_cell->set_export_args(inputs);
        struct Reset {
          PyCell* cell;
          ~Reset() {
            if (cell != nullptr) cell->set_export_args(std::nullopt);
          }
        } reset{py_cell};
        std::filesystem::path written;
        {
          py::gil_scoped_release release;
          written = export_model(cell, tensors, file_name, format, o);
        }
        return written;
      },
      py::arg("net"), py::arg("inputs"), py::arg("file_name"), py::arg("file_format"),
      py::arg("enc_key") = py::none(), py::arg("enc_mode") = "AES-GCM");

  m.def(
      "load",
      [](const std::filesystem::path& file, py::object dec_key, const std::string& dec_mode) {
        GraphLoadOptions o;
        o.dec_key = bytes_or_empty(dec_key, "dec_key");
        o.dec_mode = dec_mode;
        py::gil_scoped_release release;
        return std::make_shared<ir::Graph>(load(file, o));
      },
      py::arg("file_name"), py::arg("dec_key") = py::none(), py::arg("dec_mode") = "AES-GCM");

  m.def(
      "_safetensors_metadata",
      [](const std::filesystem::path& file) -> py::object {
        auto mapped = MappedFile::open(file);
        const std::span<const std::byte> bytes(mapped->data(), mapped->size());
        const auto kind = detect(bytes.first(std::min<size_t>(bytes.size(), 64)), file);
        if (kind != FileKind::kSafetensors) return py::none();
        py::dict out;
        for (const auto& [k, v] : inspect_safetensors(bytes, file.string(), {}).metadata)
          out[py::str(k)] = v;
        return out;
      },
      py::arg("file"));
  def_converter<ckpt_to_safetensors>(
      m, "ckpt_to_safetensors",
      "Converts a .ckpt file (or every .ckpt in a folder's rank*/ subfolders) to .safetensors, "
      "written atomically. MindSpore: mindspore.ckpt_to_safetensors.");
  def_converter<safetensors_to_ckpt>(
      m, "safetensors_to_ckpt",
      "Converts a .safetensors file (or a folder of rank*/ subfolders) to .ckpt, tensors in name "
      "order as MindSpore writes them. MindSpore: mindspore.safetensors_to_ckpt.");
}

}  // namespace cellar::python
