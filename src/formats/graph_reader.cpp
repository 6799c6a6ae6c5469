#include "formats/graph_reader.h"

#include <algorithm>
#include <cstring>
#include <map>

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

}  // namespace cellar::formats
