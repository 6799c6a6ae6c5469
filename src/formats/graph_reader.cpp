#include "formats/graph_reader.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "cellar/error.h"
#include "formats/external_file.h"

namespace cellar::formats {

std::optional<uint64_t> tensor_nbytes(DType dt, const Shape& shape) {
  const auto numel = shape.checked_numel();
  uint64_t nbytes = 0;
  if (!numel || __builtin_mul_overflow(static_cast<uint64_t>(*numel),
                                       static_cast<uint64_t>(itemsize(dt)), &nbytes))
    return std::nullopt;
  return nbytes;
}

std::vector<OpCount> count_ops(const std::vector<CensusEntry>& nodes) {
  std::map<std::string, OpCount> by_op;
  for (const auto& n : nodes) {
    OpCount& c = by_op[n.op];
    c.op = n.op;
    ++c.nodes;
    c.supported = n.supported;
  }
  std::vector<OpCount> out;
  for (auto& [op, c] : by_op) out.push_back(std::move(c));
  std::stable_sort(out.begin(), out.end(),
                   [](const OpCount& a, const OpCount& b) { return a.nodes > b.nodes; });
  return out;
}

void throw_unsupported_ops(const std::vector<std::pair<std::string, std::string>>& unknown,
                           const std::string& file) {
  std::vector<CensusEntry> nodes;
  for (const auto& [op, node] : unknown) nodes.push_back({op, false});
  std::string list;
  for (const OpCount& c : count_ops(nodes))
    list += (list.empty() ? "" : ", ") + c.op + " ×" + std::to_string(c.nodes);
  const size_t n = unknown.size();
  throw Error(ErrorCode::kUnsupported,
              std::to_string(n) + " unsupported op" + (n == 1 ? "" : "s") + ": " + list +
                  " (first: '" + unknown.front().second + "')",
              {.file = file, .tensor = unknown.front().second});
}

void normalize_bools(Tensor& t) {
  if (t.dtype() != DType::Bool) return;
  auto* p = reinterpret_cast<uint8_t*>(t.raw_data());
  for (uint64_t k = 0, n = t.nbytes(); k < n; ++k) p[k] = p[k] != 0;
}

bool ExternalFiles::inside(const std::string& location) const {
  return external_path_inside(base_, location);
}

const ExternalFiles::Bytes& ExternalFiles::open(
    const std::string& location, const std::string& tensor,
    const std::function<void(const std::string& reason)>& cannot_read) {
  auto it = files_.find(location);
  if (it != files_.end()) return it->second;
  const std::filesystem::path path = base_ / location;
  std::shared_ptr<MappedFile> file;
  try {
    file = MappedFile::open(path);
  } catch (const Error& e) {
    cannot_read(e.reason());
    throw;  // cannot_read throws; this is for a callback that forgot to
  }
  // MindSpore encrypts the data files with the model's key: the header and each parameter as
  // separate pieces, whose plaintexts concatenate to the plain layout.
  const std::shared_ptr<MappedFile> plain =
      plaintext(file, dec_, "external data '" + location + "'", tensor);
  Bytes b;
  if (plain == file) {
    b.map = file;
    b.data = file->data();
    b.size = file->size();
  } else {
    b.plain = Storage::allocate(std::max<size_t>(plain->size(), 1), false);
    if (plain->size()) std::memcpy(b.plain->data(), plain->data(), plain->size());
    b.data = b.plain->data();
    b.size = plain->size();
  }
  return files_.emplace(location, std::move(b)).first->second;
}

Tensor ExternalFiles::tensor_at(const Bytes& b, uint64_t off, uint64_t nbytes, DType dt,
                                const Shape& shape) {
  if (off % Storage::kAlignment == 0 && nbytes > 0 && dt != DType::Bool) {
    if (b.map) return Tensor(dt, shape, Storage::view(b.map, off, nbytes), 0);
    return Tensor(dt, shape, b.plain, off);
  }
  Tensor out(dt, shape);
  if (nbytes) std::memcpy(out.raw_data(), b.data + off, nbytes);
  normalize_bools(out);
  return out;
}

namespace {

bool same_tensor(const Tensor& x, const Tensor& y) {
  if (x.defined() != y.defined()) return false;
  if (!x.defined()) return true;
  if (x.dtype() != y.dtype() || x.shape() != y.shape() || x.nbytes() != y.nbytes()) return false;
  if (x.storage() == y.storage() && x.storage_offset() == y.storage_offset()) return true;
  return x.nbytes() == 0 || std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

bool same_attr(const ir::Attr& x, const ir::Attr& y) {
  if (x.index() != y.index()) return false;
  return std::visit(
      [&](const auto& xv) {
        using T = std::decay_t<decltype(xv)>;
        if constexpr (std::is_same_v<T, Tensor>)
          return same_tensor(xv, std::get<Tensor>(y));
        else
          return xv == std::get<T>(y);
      },
      x);
}

std::string show(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string out = std::string(mindspore_name(t.dtype())) + t.shape().str();
  if ((t.dtype() == DType::Int64 || t.dtype() == DType::Int32) && t.numel() <= 16) {
    std::string vals;
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t e = 0;
      if (t.dtype() == DType::Int64)
        std::memcpy(&e, t.raw_data() + i * 8, 8);
      else {
        int32_t e32 = 0;
        std::memcpy(&e32, t.raw_data() + i * 4, 4);
        e = e32;
      }
      vals += (i ? ", " : "") + std::to_string(e);
    }
    out += " [" + vals + "]";
  }
  return out;
}

std::string show(const ir::Attr& x) {
  if (const auto* v = std::get_if<std::vector<int64_t>>(&x)) return Shape(*v).str();
  if (const auto* i = std::get_if<int64_t>(&x)) return std::to_string(*i);
  if (const auto* t = std::get_if<Tensor>(&x)) return show(*t);
  return "a different value";
}

}  // namespace

void reconcile_open_dims(ir::Graph& a, const ir::Graph& b, int64_t size_a, int64_t size_b,
                         const std::string& file) {
  const std::string at_a = " with the symbolic dimensions at " + std::to_string(size_a);
  const std::string at_b = " but at " + std::to_string(size_b);
  const std::string why =
      ". cellar fixes sizes at load (it folds a Shape -> Gather -> Concat -> Reshape chain, as "
      "torch.onnx exports x.view(x.size(0), -1), into a constant; some ops are imported as "
      "Reshapes to fixed sizes), so this model would compute with a wrong size at any other. "
      "Export with fixed input sizes, or without reading sizes in the model (torch.flatten(x, 1) "
      "instead of x.view(x.size(0), -1))";
  auto refuse = [&](const std::string& where, const std::string& what) {
    throw Error(ErrorCode::kUnsupported, what + why, {.file = file, .tensor = where});
  };
  if (a.values.size() != b.values.size() || a.nodes.size() != b.nodes.size() ||
      a.initializers.size() != b.initializers.size() || a.inputs != b.inputs ||
      a.outputs != b.outputs)
    refuse(a.name, "the graph's structure changes with its symbolic input dimensions");
  for (size_t v = 0; v < a.values.size(); ++v)
    if (a.values[v].dtype != b.values[v].dtype ||
        a.values[v].shape.rank() != b.values[v].shape.rank())
      refuse(a.values[v].name, "value '" + a.values[v].name + "' changes type" + at_a + at_b);
  // The first node reading a value, to name where a differing constant is used.
  auto user_of = [&](int v) -> std::string {
    for (const auto& n : a.nodes)
      for (int u : n.inputs)
        if (u == v) return " (read by node '" + n.name + "' (" + n.op + "))";
    return "";
  };
  for (size_t k = 0; k < a.initializers.size(); ++k) {
    const auto& x = a.initializers[k];
    const auto& y = b.initializers[k];
    const std::string& name = a.value(x.value).name;
    if (x.value != y.value || !same_tensor(x.data, y.data))
      refuse(name, "constant '" + name + "'" + user_of(x.value) + " is " + show(x.data) + at_a +
                       at_b + " it is " + show(y.data));
  }
  // A Reshape target entry that is the open size at both sizes, taken from the one input
  // dimension that is too: the entries' run-time source, or nullopt.
  auto reshape_fix = [&](const ir::Node& x,
                         const ir::Node& y) -> std::optional<std::vector<int64_t>> {
    if (x.op != "Reshape" || x.inputs.empty() || x.attrs.size() != y.attrs.size() ||
        !x.attrs.count("shape") || !y.attrs.count("shape"))
      return std::nullopt;
    for (const auto& [key, val] : x.attrs) {
      auto it = y.attrs.find(key);
      if (it == y.attrs.end() || (key != "shape" && !same_attr(val, it->second)))
        return std::nullopt;
    }
    const auto* sx = std::get_if<std::vector<int64_t>>(&x.attrs.at("shape"));
    const auto* sy = std::get_if<std::vector<int64_t>>(&y.attrs.at("shape"));
    if (!sx || !sy || sx->size() != sy->size() || x.attrs.count("dims_from_input"))
      return std::nullopt;
    const Shape& ia = a.value(x.inputs[0]).shape;
    const Shape& ib = b.value(y.inputs[0]).shape;
    if (ia.rank() != ib.rank()) return std::nullopt;
    std::optional<int64_t> source;
    for (size_t j = 0; j < ia.rank(); ++j)
      if (ia[j] == size_a && ib[j] == size_b) {
        if (source) return std::nullopt;  // two candidates: ambiguous
        source = static_cast<int64_t>(j);
      }
    if (!source) return std::nullopt;
    std::vector<int64_t> from(sx->size(), -1);
    for (size_t i = 0; i < sx->size(); ++i) {
      if ((*sx)[i] == (*sy)[i]) continue;
      if ((*sx)[i] != size_a || (*sy)[i] != size_b) return std::nullopt;
      from[i] = *source;
    }
    return from;
  };
  for (size_t k = 0; k < a.nodes.size(); ++k) {
    auto& x = a.nodes[k];
    const auto& y = b.nodes[k];
    if (x.op == y.op && x.inputs == y.inputs && x.outputs == y.outputs)
      if (auto from = reshape_fix(x, y)) {
        x.attrs["dims_from_input"] = std::move(*from);
        continue;
      }
    const std::string where = "node '" + x.name + "' (" + x.op + ")";
    if (x.op != y.op || x.inputs != y.inputs || x.outputs != y.outputs ||
        x.attrs.size() != y.attrs.size())
      refuse(x.name, where + " changes" + at_a + at_b);
    for (const auto& [key, val] : x.attrs) {
      auto it = y.attrs.find(key);
      if (it == y.attrs.end() || !same_attr(val, it->second))
        refuse(x.name, where + ": attribute '" + key + "' is " + show(val) + at_a + at_b +
                           " it is " + (it == y.attrs.end() ? "absent" : show(it->second)));
    }
  }
}

}  // namespace cellar::formats
