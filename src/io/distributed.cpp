// Distributed checkpoints: the layout arithmetic and what is refused are in
// cellar/io/distributed.h.
#include "cellar/io/distributed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <new>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "cellar/error.h"
#include "core/utf8.h"
#include "io/checkpoint_internal.h"
#include "node_strategy.pb.h"

namespace cellar {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxStrategyBytes = uint64_t{1} << 28;
constexpr int64_t kMaxDevices = int64_t{1} << 20;

std::string dims_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// How `layout` cuts a tensor of rank `rank`: the number of blocks along each dimension.
std::vector<int64_t> splits_of(const ParamLayout& layout, size_t rank, const std::string& name,
                               const std::string& where) {
  if (layout.field != 0)
    throw Error(ErrorCode::kUnsupported,
                "the parameter's layout slices by field (" + std::to_string(layout.field) +
                    "), which cellar does not merge or reshard",
                {where, name});
  if (layout.tensor_map.size() != rank)
    throw FormatError("the tensor map " + dims_str(layout.tensor_map) + " has " +
                          std::to_string(layout.tensor_map.size()) +
                          " entries but the tensor has rank " + std::to_string(rank),
                      {where, name});
  const size_t n = layout.dev_matrix.size();
  std::vector<int64_t> s(rank, 1);
  for (size_t i = 0; i < rank; ++i)
    if (layout.tensor_map[i] >= 0)
      s[i] = layout.dev_matrix[n - 1 - static_cast<size_t>(layout.tensor_map[i])];
  return s;
}

bool opt_sharded(const ParamLayout& l) {
  return l.opt_weight_shard_step != 0 && l.opt_weight_shard_size != 0;
}

// A layout with optimizer parallelism as MindSpore reads it (mindspore/parallel/_tensor.py,
// _construct_tensor_layout_for_opt_shard, for tensor maps of plain axes): dimension 0 of the
// whole shape `full` is cut further over device axes the layout replicates on, which MindSpore
// expresses as a plain layout over a view of the whole in which dimension 0 is split into
// several (row-major, so the bytes are the same): [blocks of the model-parallel cut,
// opt-sharding axes …, the rest]. Returns that layout (no optimizer fields) and the view's shape;
// `full` itself when the layout has no optimizer parallelism. The caller has checked the tensor
// map against `full`'s rank.
std::pair<ParamLayout, std::vector<int64_t>> expand_opt_shard(const ParamLayout& l,
                                                              const std::vector<int64_t>& full,
                                                              const std::string& name,
                                                              const std::string& where) {
  if (!opt_sharded(l)) return {l, full};
  const auto fail = [&](const std::string& why) {
    throw FormatError("the optimizer-parallel layout (device matrix " + dims_str(l.dev_matrix) +
                          ", tensor map " + dims_str(l.tensor_map) + ", opt_weight_shard_step " +
                          std::to_string(l.opt_weight_shard_step) + ", opt_weight_shard_size " +
                          std::to_string(l.opt_weight_shard_size) + ") " + why,
                      {where, name});
  };
  if (l.opt_weight_shard_size < 0 || l.opt_weight_shard_step < 0)
    throw Error(ErrorCode::kUnsupported,
                "a negative opt_weight_shard_size or step (" +
                    std::to_string(l.opt_weight_shard_size) + ", " +
                    std::to_string(l.opt_weight_shard_step) +
                    ": sharded over every replica) is not read by cellar",
                {where, name});
  if (full.empty()) fail("cuts a scalar");
  const std::vector<int64_t>& dev = l.dev_matrix;
  const size_t n = dev.size();
  const int64_t size = l.opt_weight_shard_size, step = l.opt_weight_shard_step;
  const auto strategy = splits_of(l, full.size(), name, where);
  std::vector<bool> sharded(n, false);
  for (int64_t m : l.tensor_map)
    if (m >= 0) sharded[n - 1 - static_cast<size_t>(m)] = true;
  std::vector<size_t> repeated;
  for (size_t i = 0; i < n; ++i)
    if (!sharded[i] && dev[i] > 1) repeated.push_back(i);
  if (repeated.empty()) fail("replicates the parameter on no device axis to shard it over");
  const auto product = [](auto b, auto e) {
    int64_t p = 1;
    for (; b != e; ++b) p *= *b;
    return p;
  };
  if (repeated.size() == 1 &&
      product(dev.begin() + static_cast<ptrdiff_t>(repeated[0]) + 1, dev.end()) != step)
    fail("has a step other than the model-parallel size inside its replicated axis");
  if (full[0] % strategy[0] != 0) fail("does not split dimension 0 evenly");
  const int64_t rest = full[0] / strategy[0];
  ParamLayout out;
  std::vector<int64_t> shape = full;
  if ((repeated.size() > 1 && repeated.size() < n) || repeated[0] > 0) {
    // Over the replicated axes from the innermost, as many as the size needs (the last one cut
    // in two when only part of it is needed).
    std::vector<int64_t> new_dev = dev;
    std::vector<int64_t> axis_map(n);  // a tensor map value in the old matrix → in the new one
    std::iota(axis_map.begin(), axis_map.end(), int64_t{0});
    std::vector<size_t> opt_axes;
    int64_t remained = size;
    for (auto it = repeated.rbegin(); it != repeated.rend(); ++it) {
      const size_t d = *it;
      int64_t part = dev[d];
      if (remained < part) {
        if (part % remained != 0) fail("asks for a size that does not divide a device axis");
        part = remained;
        new_dev[d] = dev[d] / part;
        new_dev.insert(new_dev.begin() + static_cast<ptrdiff_t>(d) + 1, part);
        for (size_t i = n - 1 - d; i < n; ++i) ++axis_map[i];
      }
      if (remained % part != 0) fail("asks for a size the replicated axes do not divide");
      remained /= part;
      opt_axes.insert(opt_axes.begin(), d);
      if (remained == 1) break;
    }
    if (remained != 1) fail("asks for more devices than the parameter is replicated on");
    out.tensor_map = l.tensor_map;
    if (new_dev.size() != n) {
      for (size_t& a : opt_axes) ++a;
      for (int64_t& m : out.tensor_map)
        if (m >= 0) m = axis_map[static_cast<size_t>(m)];
    }
    shape[0] = strategy[0];
    int64_t accu = 1;
    for (size_t i = 0; i + 1 < opt_axes.size(); ++i) {
      const int64_t k = new_dev[opt_axes[i]];
      shape.insert(shape.begin() + static_cast<ptrdiff_t>(i) + 1, k);
      accu *= k;
    }
    if (rest % accu != 0) fail("does not split dimension 0 evenly");
    shape.insert(shape.begin() + static_cast<ptrdiff_t>(opt_axes.size()), rest / accu);
    for (size_t i = 0; i < opt_axes.size(); ++i)
      out.tensor_map.insert(out.tensor_map.begin() + static_cast<ptrdiff_t>(i) + 1,
                            static_cast<int64_t>(new_dev.size() - opt_axes[i] - 1));
    out.dev_matrix = std::move(new_dev);
  } else {
    const int64_t devices = l.devices();
    if (step > devices || devices % (step * size) != 0)
      fail("does not divide the " + std::to_string(devices) + " devices");
    shape[0] = strategy[0];
    shape.insert(shape.begin() + 1, rest);
    const auto k = static_cast<int64_t>(strategy.size());
    for (int64_t i = 0; i < k; ++i)
      out.tensor_map.push_back(strategy[static_cast<size_t>(i)] == 1 ? -1 : k - 1 - i);
    out.tensor_map.insert(out.tensor_map.begin() + 1, k);
    out.dev_matrix = strategy;
    out.dev_matrix.insert(out.dev_matrix.begin(), size);
    if (devices / (step * size) > 1)
      out.dev_matrix.insert(out.dev_matrix.begin(), devices / (step * size));
  }
  // The result must be a layout of the same devices that cuts the view evenly.
  if (out.devices() != l.devices()) fail("does not map onto its own devices");
  std::vector<bool> used(out.dev_matrix.size(), false);
  for (int64_t m : out.tensor_map) {
    if (m < -1 || m >= static_cast<int64_t>(out.dev_matrix.size()))
      fail("does not map onto its own devices");
    if (m < 0) continue;
    if (used[static_cast<size_t>(m)]) fail("shards two dimensions over one device axis");
    used[static_cast<size_t>(m)] = true;
  }
  const auto splits = splits_of(out, shape.size(), name, where);
  for (size_t i = 0; i < shape.size(); ++i)
    if (splits[i] < 1 || shape[i] % splits[i] != 0) fail("does not split dimension 0 evenly");
  return {out, shape};
}

// The block rank `r` holds along each dimension.
std::vector<int64_t> block_of(const ParamLayout& layout, int64_t r) {
  const size_t n = layout.dev_matrix.size();
  std::vector<int64_t> coord(n);
  for (size_t k = n; k-- > 0;) {
    coord[k] = r % layout.dev_matrix[k];
    r /= layout.dev_matrix[k];
  }
  std::vector<int64_t> b(layout.tensor_map.size(), 0);
  for (size_t i = 0; i < b.size(); ++i)
    if (layout.tensor_map[i] >= 0) b[i] = coord[n - 1 - static_cast<size_t>(layout.tensor_map[i])];
  return b;
}

std::string rank_name(size_t r) { return "rank " + std::to_string(r); }

}  // namespace

int64_t ParamLayout::devices() const {
  int64_t n = 1;
  for (int64_t d : dev_matrix) n *= d;
  return n;
}

ParallelStrategy load_strategy(const fs::path& path) {
  const std::string file = path.string();
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw IoError("cannot read the strategy file: " + ec.message(), {file});
  if (size > kMaxStrategyBytes)
    throw FormatError("the strategy file is " + std::to_string(size) + " bytes (at most " +
                          std::to_string(kMaxStrategyBytes) + " are read)",
                      {file});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open the strategy file", {file});
  std::ostringstream s;
  s << in.rdbuf();
  const std::string bytes = s.str();
  mindspore::straspb::ParallelStrategyMap map;
  // ParsePartial + IsInitialized: the same check as ParseFromString, without protobuf's log line.
  if (!map.ParsePartialFromString(bytes) || !map.IsInitialized())
    throw FormatError(
        "not a MindSpore parallel strategy file (protobuf ParallelStrategyMap: truncated, corrupt, "
        "or a required field missing)",
        {file});
  ParallelStrategy out;
  for (const auto& item : map.parallel_layout_item()) {
    const std::string& name = item.param_name();
    const auto& l = item.parallel_layouts();
    if (l.dev_matrix_size() < 1 || l.tensor_map_size() < 1)
      throw FormatError("the layout has no device matrix or no tensor map", {file, name});
    ParamLayout p;
    int64_t devices = 1;
    for (uint32_t d : l.dev_matrix(0).dim()) {
      if (d == 0 || devices * static_cast<int64_t>(d) > kMaxDevices)
        throw FormatError("the device matrix has an axis of " + std::to_string(d) +
                              " devices (at most " + std::to_string(kMaxDevices) +
                              " devices in all, none empty)",
                          {file, name});
      devices *= d;
      p.dev_matrix.push_back(d);
    }
    std::set<int32_t> axes;
    for (int32_t m : l.tensor_map(0).dim()) {
      if (m < -1 || m >= static_cast<int64_t>(p.dev_matrix.size()))
        throw FormatError("the tensor map entry " + std::to_string(m) +
                              " names no axis of the device matrix " + dims_str(p.dev_matrix),
                          {file, name});
      if (m >= 0 && !axes.insert(m).second)
        throw FormatError(
            "the tensor map " +
                dims_str({l.tensor_map(0).dim().begin(), l.tensor_map(0).dim().end()}) +
                " splits two dimensions over one device axis",
            {file, name});
      p.tensor_map.push_back(m);
    }
    p.opt_weight_shard_step = l.opt_weight_shard_step();
    p.opt_weight_shard_size = l.opt_weight_shard_size();
    p.field = l.field();
    if (!out.emplace(name, std::move(p)).second)
      throw FormatError("the strategy lists the parameter twice", {file, name});
  }
  return out;
}

void save_strategy(const ParallelStrategy& strategy, const fs::path& path) {
  mindspore::straspb::ParallelStrategyMap map;
  map.set_current_stage(0);
  for (const auto& [name, p] : strategy) {
    auto* item = map.add_parallel_layout_item();
    item->set_param_name(name);
    auto* l = item->mutable_parallel_layouts();
    auto* dev = l->add_dev_matrix();
    for (int64_t d : p.dev_matrix) {
      if (d < 1 || d > std::numeric_limits<uint32_t>::max())
        throw ValueError(ErrorCode::kInvalidArgument,
                         "the device matrix " + dims_str(p.dev_matrix) + " has an empty axis",
                         {path.string(), name});
      dev->add_dim(static_cast<uint32_t>(d));
    }
    auto* map_dims = l->add_tensor_map();
    for (int64_t m : p.tensor_map) {
      if (m < -1 || m >= static_cast<int64_t>(p.dev_matrix.size()))
        throw ValueError(ErrorCode::kInvalidArgument,
                         "the tensor map entry " + std::to_string(m) +
                             " names no axis of the device matrix " + dims_str(p.dev_matrix),
                         {path.string(), name});
      map_dims->add_dim(static_cast<int32_t>(m));
    }
    // clang 14 (the ASan and TSan builds) cannot capture a structured binding in a lambda.
    const std::string& param_name = name;
    const auto narrow = [&](int64_t v, const char* what) {
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        throw ValueError(ErrorCode::kInvalidArgument,
                         std::string(what) + " " + std::to_string(v) + " does not fit the file",
                         {path.string(), param_name});
      return static_cast<int32_t>(v);
    };
    l->set_field(narrow(p.field, "field"));
    l->set_opt_weight_shard_step(narrow(p.opt_weight_shard_step, "opt_weight_shard_step"));
    l->set_opt_weight_shard_size(narrow(p.opt_weight_shard_size, "opt_weight_shard_size"));
  }
  std::string bytes;
  if (!map.SerializeToString(&bytes))
    throw IoError("cannot serialize the strategy", {path.string()});
  formats::AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

std::vector<fs::path> rank_checkpoints(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ValueError(ErrorCode::kInvalidArgument, "not a folder of rank_N subfolders",
                     {dir.string()});
  std::map<int64_t, fs::path> ranks;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || !n.starts_with("rank_") || n.size() == 5 || n.size() > 12 ||
        !std::all_of(n.begin() + 5, n.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(e.path(), ec)) {
      const auto ext = f.path().extension();
      if (f.is_regular_file() && (ext == ".ckpt" || ext == ".safetensors"))
        files.push_back(f.path());
    }
    if (files.empty())
      throw ValueError(ErrorCode::kNotFound, "the folder holds no .ckpt or .safetensors file",
                       {e.path().string()});
    std::sort(files.begin(), files.end());
    ranks[std::stoll(n.substr(5))] = files.back();
  }
  if (ec) throw IoError("cannot list the folder: " + ec.message(), {dir.string()});
  if (ranks.empty())
    throw ValueError(ErrorCode::kNotFound, "the folder has no rank_N subfolders", {dir.string()});
  std::vector<fs::path> out;
  for (const auto& [r, f] : ranks) {
    if (r != static_cast<int64_t>(out.size()))
      throw ValueError(ErrorCode::kNotFound,
                       "rank_" + std::to_string(out.size()) + " is missing (the folder has rank_" +
                           std::to_string(r) + ")",
                       {dir.string()});
    out.push_back(f);
  }
  return out;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older C library headers lack the name
#endif

namespace {

// Replicas are compared this much at a time (their pages dropped after each step).
constexpr uint64_t kCompareStep = uint64_t{8} << 20;
// Runs of a source file at least this long, at the same offset within a page as where they go,
// go to a plain output file by copy_file_range (page cache to page cache, cp's way); all others
// are copied from the mapped pages into the writer's buffer, which it writes with aligned kernel
// copies (a syscall per run of a few KiB would cost more; a misaligned kernel copy costs twice
// an aligned one: formats/atomic_file.h).
constexpr uint64_t kKernelCopyMin = uint64_t{1} << 20;

// The pages of `file`'s mapping around [p, p + n) leave the resident set; they read back from the
// page cache. The range is widened to 2 MiB boundaries (within the mapping): the kernel maps a
// file's large folios whole, so a fault at a slice's edge maps the neighbouring bytes too, which
// a drop of the slice alone would leave resident for good. Safe because the mappings are the
// files' own (never private copies) and nothing writes them.
void drop_pages(const MappedFile& file, const std::byte* p, uint64_t n) {
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  constexpr uintptr_t kFolio = uintptr_t{2} << 20;
  const auto base = reinterpret_cast<uintptr_t>(file.data());  // page-aligned (mmap)
  const auto end = base + (file.size() + page - 1) / page * page;
  const auto lo = std::max(base, reinterpret_cast<uintptr_t>(p) / kFolio * kFolio);
  const auto hi =
      std::min(end, (reinterpret_cast<uintptr_t>(p) + n + kFolio - 1) / kFolio * kFolio);
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

// Maps the pages of `file`'s mapping over [p, p + n) in one call (MADV_POPULATE_READ, Linux
// 5.14; elsewhere a no-op, the pages then fault in as they are read): one call per window instead
// of a fault per 64 KiB as memcpy and memcmp read the mappings (docs/benchmarks.md, Session 7).
void populate(const MappedFile& file, const std::byte* p, uint64_t n) {
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<uintptr_t>(file.data());
  const auto end = base + (file.size() + page - 1) / page * page;
  const auto lo = reinterpret_cast<uintptr_t>(p) / page * page;
  const auto hi = std::min(end, (reinterpret_cast<uintptr_t>(p) + n + page - 1) / page * page);
  if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_READ);
}

// A contiguous run of a slice's bytes: in a file's mapping (`file` set: the pages may be dropped
// and the kernel may copy the bytes) or in memory a tensor owns (`file` null).
struct Piece {
  const std::byte* data = nullptr;
  uint64_t size = 0;
  const MappedFile* file = nullptr;
};

// One slice's bytes, in order: one piece, or several where the file stores the tensor in parts
// (a .ckpt tensor over 512 MiB).
struct Block {
  std::vector<Piece> pieces;
  // The rest of the piece that holds byte `off`; empty past the end.
  Piece at(uint64_t off) const {
    for (const Piece& p : pieces) {
      if (off < p.size) return {p.data + off, p.size - off, p.file};
      off -= p.size;
    }
    return {};
  }
  void drop() const {
    for (const Piece& p : pieces)
      if (p.file) drop_pages(*p.file, p.data, p.size);
  }
};

// Where a loaded tensor's bytes are: straight in the mapped file when the loader located them
// (a .ckpt puts most tensors at offsets misaligned for their dtype, which reading the tensor
// would first copy into aligned memory; gathering only copies bytes, so alignment is moot),
// otherwise the tensor's own bytes.
Block block_of_tensor(const Tensor& t, const io::Locations* located) {
  if (located && t.storage() && t.storage_offset() == 0) {
    const auto it = located->find(t.storage().get());
    if (it != located->end()) {
      uint64_t sum = 0;
      for (const auto& [_, n] : it->second.pieces) sum += n;
      if (sum == t.nbytes()) {
        Block b;
        for (const auto& [off, n] : it->second.pieces)
          b.pieces.push_back({it->second.file->data() + off, n, it->second.file.get()});
        return b;
      }
    }
  }
  return Block{{Piece{t.raw_data(), t.nbytes(), nullptr}}};
}

// Whether the first `n` bytes of two slices are equal, read a step at a time, each step's pages
// dropped after it (comparing replicas must not make the model resident).
bool same_bytes(const Block& a, const Block& b, uint64_t n, std::stop_token stop = {}) {
  for (uint64_t off = 0; off < n;) {
    if (stop.stop_requested()) return true;  // abandoned: the caller no longer needs the answer
    const Piece pa = a.at(off), pb = b.at(off);
    if (!pa.data || !pb.data) return false;
    const uint64_t k = std::min({pa.size, pb.size, kCompareStep, n - off});
    if (pa.file) populate(*pa.file, pa.data, k);
    if (pb.file) populate(*pb.file, pb.data, k);
    const bool same = std::memcmp(pa.data, pb.data, static_cast<size_t>(k)) == 0;
    if (pa.file) drop_pages(*pa.file, pa.data, k);
    if (pb.file) drop_pages(*pb.file, pb.data, k);
    if (!same) return false;
    off += k;
  }
  return true;
}

// A slice some rank holds again (a replica), and the slice it must equal.
struct Replica {
  Block owner, copy;
  uint64_t bytes = 0;
  std::string name, where;  // the parameter, and the replica's rank
  int64_t owner_rank = 0;
};

FormatError replica_differs(const Replica& r) {
  return FormatError("the rank's slice differs from rank " + std::to_string(r.owner_rank) +
                         "'s, which the layout says is the same slice (a replica)",
                     {r.where, r.name});
}

// Compares the replicas on a thread of its own while the caller writes the output from the
// owners' slices: on this project's two cores the comparison (a read of every replicated byte,
// twice) then costs no time of its own (docs/benchmarks.md, issue 15, Session 8). wait() joins it
// and throws the first difference; the writers call it before they commit a file, so a
// difference still leaves every target untouched. Destroying a check not waited for (the writer
// failed) stops it at its next step.
class ReplicaCheck {
 public:
  explicit ReplicaCheck(std::vector<Replica> replicas) : replicas_(std::move(replicas)) {
    if (replicas_.empty()) return;
    thread_ = std::jthread([this](std::stop_token stop) {
      try {
        for (const Replica& r : replicas_) {
          if (stop.stop_requested()) return;
          if (!same_bytes(r.owner, r.copy, r.bytes, stop)) {
            differs_ = &r;
            return;
          }
        }
      } catch (...) {
        error_ = std::current_exception();
      }
    });
  }
  ReplicaCheck(const ReplicaCheck&) = delete;
  ReplicaCheck& operator=(const ReplicaCheck&) = delete;

  void wait() {
    if (thread_.joinable()) thread_.join();
    if (error_) std::rethrow_exception(error_);
    if (differs_) throw replica_differs(*differs_);
  }

 private:
  std::vector<Replica> replicas_;
  const Replica* differs_ = nullptr;
  std::exception_ptr error_;
  std::jthread thread_;  // last: stopped and joined before the members it reads are destroyed
};

// A parameter as the source holds it: its whole shape, and a view of it (`whole`: the same
// shape, or with dimension 0 split into several for optimizer parallelism, see
// expand_opt_shard) cut into blocks of shape `slice`, `splits` of them along each dimension,
// block ids row-major over `splits` (one block when unsliced).
struct Sliced {
  std::string name;
  Tensor first;         // rank 0's entry
  bool sliced = false;  // listed by the source strategy
  bool str = false;     // a str entry: only ever passed on whole
  size_t item = 0;
  std::vector<int64_t> shape;  // the whole parameter's
  std::vector<int64_t> whole, slice, splits;
  std::vector<Block> blocks;
};

// The box of shape `ext` at element offsets `at` of a parameter's whole view (all of it, or a
// destination rank's slice), whose bytes, row-major, are gathered run by run from the blocks;
// `out` is the shape the bytes are written with.
struct Gather {
  const Sliced* src = nullptr;
  std::vector<int64_t> at, ext, out;
};

// Hands `f` the bytes [begin, begin + n) of the box as pieces, in order: along each row of the
// box (its last dimension) one piece per source block it crosses, and pieces that continue one
// another in the same file or memory as one (a block split on rows only is a single piece).
template <class F>
void gather_runs(const Gather& g, uint64_t begin, uint64_t n, F&& f) {
  if (n == 0) return;
  const Sliced& s = *g.src;
  Piece pending;
  const auto emit = [&](const Block& b, uint64_t off, uint64_t len) {
    while (len > 0) {
      const Piece c = b.at(off);
      if (!c.data) throw FormatError("a slice ends before its bytes", {{}, s.name});  // unreachable
      const uint64_t m = std::min(c.size, len);
      if (pending.size && pending.file == c.file && pending.data + pending.size == c.data) {
        pending.size += m;
      } else {
        if (pending.size) f(pending);
        pending = {c.data, m, c.file};
      }
      off += m;
      len -= m;
    }
  };
  const size_t rank = s.whole.size();
  if (rank == 0) {
    emit(s.blocks[0], begin, n);
    if (pending.size) f(pending);
    return;
  }
  const size_t last = rank - 1;
  const uint64_t row = static_cast<uint64_t>(g.ext[last]) * s.item;
  const uint64_t slice_row = static_cast<uint64_t>(s.slice[last]) * s.item;
  // Element strides inside a block, for its leading dimensions.
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = last; d-- > 0;) stride[d] = stride[d + 1] * s.slice[d + 1];
  std::vector<int64_t> idx(rank);
  uint64_t k = begin / row, skip = begin % row;
  while (n > 0) {
    // Row k of the box: its coordinates in the whole, the block row it lies in, and its offset
    // there.
    uint64_t rest = k;
    for (size_t d = last; d-- > 0;) {
      idx[d] = g.at[d] + static_cast<int64_t>(rest % static_cast<uint64_t>(g.ext[d]));
      rest /= static_cast<uint64_t>(g.ext[d]);
    }
    int64_t lead = 0, lead_off = 0;
    for (size_t d = 0; d < last; ++d) {
      lead = lead * s.splits[d] + idx[d] / s.slice[d];
      lead_off += (idx[d] % s.slice[d]) * stride[d];
    }
    const uint64_t take = std::min(row - skip, n);
    uint64_t x = static_cast<uint64_t>(g.at[last]) * s.item + skip;  // byte along the whole's row
    for (uint64_t left = take; left > 0;) {
      const uint64_t in = x % slice_row;
      const uint64_t len = std::min(slice_row - in, left);
      const auto id =
          static_cast<size_t>(lead * s.splits[last] + static_cast<int64_t>(x / slice_row));
      emit(s.blocks[id], static_cast<uint64_t>(lead_off) * s.item + in, len);
      x += len;
      left -= len;
    }
    n -= take;
    skip = 0;
    ++k;
  }
  if (pending.size) f(pending);
}

uint64_t box_bytes(const Gather& g) {
  uint64_t n = g.src->item;
  for (int64_t e : g.ext) n *= static_cast<uint64_t>(e);
  return n;
}

// The box's bytes gathered into a tensor of its own.
Tensor gather_tensor(const Gather& g) {
  const uint64_t n = box_bytes(g);
  // Not zero-filled: the gather writes every byte.
  Tensor out(g.src->first.dtype(), Shape(g.out), Storage::allocate(static_cast<size_t>(n), false));
  std::byte* w = out.raw_data();
  gather_runs(g, 0, n, [&](const Piece& c) {
    std::memcpy(w, c.data, static_cast<size_t>(c.size));
    w += c.size;
  });
  return out;
}

std::string rank_where(const std::vector<fs::path>* files, size_t r) {
  return files ? (*files)[r].string() : rank_name(r);
}

// Every parameter of rank 0, in its order, with where its blocks are in every rank (`strategy`
// null: one unsliced checkpoint, ranks[0]); checks that the ranks tile each parameter, and that
// replicas hold their owner's bytes (here, or with `replicas`, by the caller: they are listed
// there). Nothing is copied: the blocks are the files' mapped pages (`located`) or the tensors'
// own bytes.
std::vector<Sliced> plan_sources(const ParallelStrategy* strategy,
                                 const std::vector<ParamDict>& ranks,
                                 const std::vector<fs::path>* files, const io::Locations* located,
                                 std::vector<Replica>* replicas = nullptr) {
  if (ranks.empty()) throw ValueError(ErrorCode::kInvalidArgument, "no rank checkpoints to merge");
  const auto where = [&](size_t r) { return rank_where(files, r); };
  std::vector<Sliced> out;
  out.reserve(ranks[0].size());
  for (const auto& [name, p0] : ranks[0]) {
    Sliced s;
    s.name = name;
    s.first = p0.data();
    const Tensor& first = s.first;
    const auto it = strategy ? strategy->find(name) : ParallelStrategy::const_iterator{};
    if (!strategy || it == strategy->end()) {  // not sliced: every rank holds it whole
      s.str = first.dtype() == DType::String;
      if (!s.str) {
        s.item = itemsize(first.dtype());
        s.shape = s.whole = s.slice = first.shape().dims();
        s.splits.assign(s.whole.size(), 1);
        s.blocks.push_back(block_of_tensor(first, located));
      }
      out.push_back(std::move(s));
      continue;
    }
    s.sliced = true;
    const ParamLayout& layout = it->second;
    if (layout.devices() != static_cast<int64_t>(ranks.size()))
      throw ValueError(ErrorCode::kInvalidArgument,
                       "the strategy lays the parameter over " + std::to_string(layout.devices()) +
                           " devices (device matrix " + dims_str(layout.dev_matrix) + ") but " +
                           std::to_string(ranks.size()) + " rank checkpoints were given",
                       {{}, name});
    if (first.dtype() == DType::String)
      throw FormatError("a str entry cannot be sliced", {where(0), name});
    s.item = itemsize(first.dtype());
    // The whole shape: each dimension of the slice times the blocks the layout cuts it into
    // (dimension 0 also times the optimizer shards).
    const std::vector<int64_t> part = first.shape().dims();
    const auto model_splits = splits_of(layout, part.size(), name, where(0));
    s.shape.resize(part.size());
    for (size_t i = 0; i < part.size(); ++i) {
      int64_t k = model_splits[i];
      if ((i == 0 && opt_sharded(layout) && layout.opt_weight_shard_size > 0 &&
           __builtin_mul_overflow(k, layout.opt_weight_shard_size, &k)) ||
          __builtin_mul_overflow(part[i], k, &s.shape[i]))
        throw FormatError("the merged shape overflows", {where(0), name});
    }
    const Shape whole_shape(s.shape);
    const auto whole_numel = whole_shape.checked_numel();
    uint64_t whole_bytes = 0;
    if (!whole_numel ||
        __builtin_mul_overflow(static_cast<uint64_t>(*whole_numel), s.item, &whole_bytes) ||
        whole_bytes > std::numeric_limits<size_t>::max())
      throw FormatError("the merged shape " + whole_shape.str() + " overflows", {where(0), name});
    const auto [view_layout, view] = expand_opt_shard(layout, s.shape, name, where(0));
    s.whole = view;
    s.splits = splits_of(view_layout, view.size(), name, where(0));
    s.slice.resize(view.size());
    for (size_t i = 0; i < view.size(); ++i) s.slice[i] = view[i] / s.splits[i];
    if (static_cast<uint64_t>(Shape(s.slice).numel()) * s.item != first.nbytes())
      throw FormatError("the layout's slice " + Shape(s.slice).str() + " is not the rank's " +
                            first.shape().str(),
                        {where(0), name});  // unreachable: the view is built from the slice
    int64_t blocks = 1;
    for (int64_t d : s.splits) blocks *= d;
    std::vector<int64_t> owner(static_cast<size_t>(blocks), -1);
    s.blocks.resize(owner.size());
    for (size_t r = 0; r < ranks.size(); ++r) {
      if (!ranks[r].contains(name))
        throw FormatError(
            "the rank's checkpoint does not hold the parameter, which the strategy "
            "slices over every rank",
            {where(r), name});
      const Tensor& t = ranks[r].at(name).data();
      if (t.dtype() != first.dtype() || t.shape() != first.shape())
        throw FormatError("the rank's slice is " + std::string(mindspore_name(t.dtype())) + " " +
                              t.shape().str() + " but rank 0's is " +
                              std::string(mindspore_name(first.dtype())) + " " +
                              first.shape().str(),
                          {where(r), name});
      const auto b = block_of(view_layout, static_cast<int64_t>(r));
      int64_t id = 0;
      for (size_t i = 0; i < b.size(); ++i) id = id * s.splits[i] + b[i];
      Block bytes = block_of_tensor(t, located);
      auto& own = owner[static_cast<size_t>(id)];
      if (own >= 0) {  // a replica: must hold the same bytes
        Replica rep{
            s.blocks[static_cast<size_t>(id)], std::move(bytes), t.nbytes(), name, where(r), own};
        if (replicas) {
          replicas->push_back(std::move(rep));
        } else if (!same_bytes(rep.owner, rep.copy, rep.bytes)) {
          throw replica_differs(rep);
        }
        continue;
      }
      own = static_cast<int64_t>(r);
      s.blocks[static_cast<size_t>(id)] = std::move(bytes);
    }
    for (size_t id = 0; id < owner.size(); ++id)
      if (owner[id] < 0)  // unreachable while every rank of the device matrix is present
        throw FormatError("no rank holds slice " + std::to_string(id) + " of the parameter",
                          {{}, name});
    out.push_back(std::move(s));
  }
  if (strategy)
    for (const auto& [name, _] : *strategy)
      if (!ranks[0].contains(name)) {
        // Listed but absent from rank 0: MindSpore's strategies also list parameters a network
        // saves only under other names (optimizer moments filtered out by a save); they are
        // skipped unless some other rank holds them, which would mean the ranks disagree.
        for (size_t r = 1; r < ranks.size(); ++r)
          if (ranks[r].contains(name))
            throw FormatError("the rank holds the parameter but rank 0 does not", {where(r), name});
      }
  return out;
}

// The box `rank` of `dst` holds of a source parameter (slice_checkpoint's cut), or nothing when
// `dst` does not list it (the rank holds it whole).
std::optional<Gather> cut(const Sliced& s, const ParallelStrategy* dst, int64_t rank) {
  if (!dst) return std::nullopt;
  const auto it = dst->find(s.name);
  if (it == dst->end()) return std::nullopt;
  const ParamLayout& layout = it->second;
  if (rank < 0 || rank >= layout.devices())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "rank " + std::to_string(rank) + " is outside the device matrix " +
                         dims_str(layout.dev_matrix),
                     {{}, s.name});
  if (s.str)
    throw ValueError(ErrorCode::kUnsupported, "a str entry cannot be sliced", {{}, s.name});
  const size_t n = s.shape.size();
  const auto model_splits = splits_of(layout, n, s.name, {});
  if (n == 0) return Gather{&s, {}, {}, {}};  // a scalar: whole on every rank
  for (size_t i = 0; i < n; ++i)
    if (s.shape[i] % model_splits[i] != 0)
      throw ValueError(ErrorCode::kShapeMismatch,
                       "dimension " + std::to_string(i) + " of " + Shape(s.shape).str() +
                           " does not split evenly into " + std::to_string(model_splits[i]) +
                           " blocks (device matrix " + dims_str(layout.dev_matrix) +
                           ", tensor map " + dims_str(layout.tensor_map) + ")",
                       {{}, s.name});
  // The rank's block in the destination's view of the whole (its own optimizer split of
  // dimension 0, if any), then as a box of the whole: the view's leading dimensions (those
  // dimension 0 is split into) must make one run of dimension 0, which a layout's block always
  // does (one index in each but the last).
  const auto [view_layout, view] = expand_opt_shard(layout, s.shape, s.name, {});
  const auto splits = splits_of(view_layout, view.size(), s.name, {});
  const auto b = block_of(view_layout, rank);
  const size_t lead = view.size() - n + 1;  // view dimensions of whole dimension 0
  std::vector<int64_t> at(n), ext(n);
  int64_t start = 0, len = 1;
  bool one_run = true;
  for (size_t i = 0; i < lead; ++i) {
    const int64_t e = view[i] / splits[i];
    start = start * view[i] + b[i] * e;
    if (len > 1 && e != view[i]) one_run = false;
    len = len == 1 ? e : len * view[i];
  }
  if (!one_run)
    throw Error(ErrorCode::kUnsupported,
                "the destination layout's slice of dimension 0 is not one run", {{}, s.name});
  at[0] = start;
  ext[0] = len;
  for (size_t i = 1; i < n; ++i) {
    ext[i] = view[lead + i - 1] / splits[lead + i - 1];
    at[i] = b[lead + i - 1] * ext[i];
  }
  // That box in the source's view: the same but for dimension 0, which the source's view may
  // split into several; the run must be one box there (whole in the inner ones).
  const size_t src_lead = s.whole.size() - n + 1;
  Gather g{&s, std::vector<int64_t>(s.whole.size()), std::vector<int64_t>(s.whole.size()), ext};
  int64_t inner = 1;  // elements of dimension 0 per index of source view dimension j
  for (size_t j = 0; j < src_lead; ++j) inner *= s.whole[j];
  bool placed = false;
  for (size_t j = 0; j < src_lead && !placed; ++j) {
    inner /= s.whole[j];
    if (at[0] % inner != 0 || ext[0] % inner != 0) continue;
    const int64_t count = ext[0] / inner;
    int64_t index = at[0] / inner;  // over view dimensions 0 … j
    if (index % s.whole[j] + count > s.whole[j]) continue;
    for (size_t k = j + 1; k < src_lead; ++k) {
      g.at[k] = 0;
      g.ext[k] = s.whole[k];
    }
    g.ext[j] = count;
    for (size_t k = j + 1; k-- > 0;) {
      g.at[k] = index % s.whole[k];
      index /= s.whole[k];
      if (k < j) g.ext[k] = 1;
    }
    placed = true;
  }
  if (!placed)
    throw Error(ErrorCode::kUnsupported,
                "the destination slice of dimension 0 crosses the source's optimizer shards "
                "unevenly, which cellar does not reslice",
                {{}, s.name});
  for (size_t i = 1; i < n; ++i) {
    g.at[src_lead + i - 1] = at[i];
    g.ext[src_lead + i - 1] = ext[i];
  }
  return g;
}

Gather whole_box(const Sliced& s) {
  return {&s, std::vector<int64_t>(s.whole.size()), s.whole, s.shape};
}

// What one output file holds: its entries, in order (gathered ones are tensors of the right dtype
// and shape over memory that is never touched, so never resident), and by their storage the box
// each one's bytes come from.
struct Part {
  formats::NamedTensors entries;
  std::unordered_map<const Storage*, Gather> plans;

  // An entry whose bytes the box `g` gathers. Its placeholder is an anonymous mapping never
  // touched (heap memory could be: allocator headers, huge pages), reserving no swap.
  void add(const std::string& name, Gather g) {
    const auto n = static_cast<size_t>(box_bytes(g));
    std::shared_ptr<Storage> storage;
    void* p = n ? ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                : nullptr;
    if (p == MAP_FAILED) throw std::bad_alloc();
    storage = p ? Storage::external(static_cast<std::byte*>(p), n,
                                    std::shared_ptr<void>(p, [n](void* q) { ::munmap(q, n); }))
                : Storage::allocate(0);
    Tensor placeholder(g.src->first.dtype(), Shape(g.out), std::move(storage));
    plans.emplace(placeholder.storage().get(), std::move(g));
    entries.emplace_back(name, std::move(placeholder));
  }
};

Part plan_part(const std::vector<Sliced>& src, const ParallelStrategy* dst, int64_t rank) {
  Part part;
  part.entries.reserve(src.size());
  for (const Sliced& s : src) {
    auto g = cut(s, dst, rank);
    if (!g && s.str) {
      part.entries.emplace_back(s.name, s.first);
      continue;
    }
    part.add(s.name, g ? std::move(*g) : whole_box(s));
  }
  return part;
}

// The bytes of an output file's gathered entries, as a writer asks for them (see Part): runs of
// the source files go out by copy_file_range when long enough and the sink is a plain file,
// otherwise from the mapped pages, which leave the resident set once the entry is written.
class GatherBytes final : public formats::EntryBytes {
 public:
  GatherBytes(const std::unordered_map<const Storage*, Gather>& plans, ReplicaCheck* check)
      : plans_(plans), check_(check) {}
  ~GatherBytes() override {
    for (const auto& [_, fd] : fds_)
      if (fd >= 0) ::close(fd);
  }
  GatherBytes(const GatherBytes&) = delete;
  GatherBytes& operator=(const GatherBytes&) = delete;

  void write(const Tensor& t, uint64_t begin, uint64_t n, formats::ByteSink& out,
             const Visitor* seen) const override {
    const Gather* g = plan_of(t);
    if (!g) return EntryBytes::write(t, begin, n, out, seen);
    auto* file = seen ? nullptr : dynamic_cast<formats::AtomicFile*>(&out);
    gather_runs(*g, begin, n, [&](const Piece& c) {
      // A long run whose offset within a page is the same in both files goes by copy_file_range
      // (cp's copy); any other through the writer's buffer, placed so that the kernel's copy
      // into the file is aligned (formats/atomic_file.h).
      if (file && c.file && c.size >= kKernelCopyMin) {
        const auto off = static_cast<uint64_t>(c.data - c.file->data());
        const int fd = file->kernel_copy_aligned(off) ? fd_for(*c.file) : -1;
        if (fd >= 0 && file->copy_from(fd, off, c.size)) return;
      }
      by_window(c, [&](const Piece& w) {
        if (w.file) map_pages(*g, w);
        out.write(w.data, static_cast<size_t>(w.size));
        if (seen) (*seen)({w.data, static_cast<size_t>(w.size)});
      });
    });
    if (begin + n == t.nbytes()) drop(*g);  // the entry's last piece
  }

  void visit(const Tensor& t, const Visitor& seen) const override {
    const Gather* g = plan_of(t);
    if (!g) return EntryBytes::visit(t, seen);
    gather_runs(*g, 0, t.nbytes(), [&](const Piece& c) {
      by_window(c, [&](const Piece& w) {
        if (w.file) map_pages(*g, w);
        seen({w.data, static_cast<size_t>(w.size)});
      });
    });
    drop(*g);
  }

  void finish() const override {
    if (check_) check_->wait();
  }

 private:
  // `c`, or a piece of a mapped file cut into pieces of at most kWindow (so that no more than
  // a window of its pages is mapped before the bytes are used and dropped).
  template <class F>
  static void by_window(const Piece& c, F&& f) {
    if (!c.file || c.size <= kWindow) return f(c);
    for (uint64_t off = 0; off < c.size; off += kWindow)
      f(Piece{c.data + off, std::min(kWindow, c.size - off), c.file});
  }

  const Gather* plan_of(const Tensor& t) const {
    if (!t.storage() || t.storage_offset() != 0) return nullptr;
    const auto it = plans_.find(t.storage().get());
    return it == plans_.end() ? nullptr : &it->second;
  }

  // Before the bytes of `c` (in a mapped file) are read: their pages are mapped (see populate),
  // a window of kWindow at a time while the pieces from a file continue one another or leave gaps
  // no longer than themselves (a block's rows, alternating with other blocks' rows; half of each
  // row: one call per window and file, not one per piece), otherwise the piece's own pages
  // (pieces far apart: a narrow column slice of wide rows, where a window would map mostly bytes
  // nobody reads). Every kDropEvery bytes mapped, the parameter's blocks leave
  // the resident set (the bytes read so far are in the writer's buffer or file), so a parameter
  // of any size, gathered from any number of files, stays out of it.
  void map_pages(const Gather& g, const Piece& c) const {
    const auto p = reinterpret_cast<uintptr_t>(c.data);
    Window& w = windows_[c.file];
    // Continues the last piece, or starts after a gap no longer than itself (a column slice of
    // half the rows' width: at least half of what a window maps is read).
    const bool continues = p >= w.next && p - w.next <= c.size;
    w.next = p + c.size;
    if (p >= w.lo && p + c.size <= w.hi) return;
    if (mapped_ >= kDropEvery) drop(g);
    const auto end = reinterpret_cast<uintptr_t>(c.file->data()) + c.file->size();
    const auto hi = std::min<uintptr_t>(end, p + (continues ? std::max(c.size, kWindow) : c.size));
    populate(*c.file, c.data, hi - p);
    Window& again = windows_[c.file];  // drop() cleared the map
    again = {p, hi, p + c.size};
    mapped_ += hi - p;
  }

  void drop(const Gather& g) const {
    for (const Block& b : g.src->blocks) b.drop();
    windows_.clear();
    mapped_ = 0;
  }

  int fd_for(const MappedFile& f) const {
    const auto it = fds_.find(&f);
    if (it != fds_.end()) return it->second;
    const int fd = io::reopen_mapped(f);
    fds_.emplace(&f, fd);
    return fd;
  }

  static constexpr uint64_t kDropEvery = uint64_t{16} << 20;
  static constexpr uint64_t kWindow = uint64_t{2} << 20;  // mapped at a time, per source file
  const std::unordered_map<const Storage*, Gather>& plans_;
  ReplicaCheck* check_;
  mutable std::unordered_map<const MappedFile*, int> fds_;
  // Per source file, the addresses [lo, hi) mapped since the last drop and where its last piece
  // ended; and how many bytes were mapped in all since then.
  struct Window {
    uintptr_t lo = 0, hi = 0, next = 0;
  };
  mutable std::unordered_map<const MappedFile*, Window> windows_;
  mutable uint64_t mapped_ = 0;
};

// The rank checkpoints of a folder, loaded lazily with where their bytes lie.
struct Ranks {
  std::vector<fs::path> files;
  std::vector<ParamDict> dicts;
  io::Locations located;

  // All of them, or only rank 0's.
  explicit Ranks(const fs::path& dir, bool all = true) : files(rank_checkpoints(dir)) {
    if (!all) files.resize(1);
    dicts.reserve(files.size());
    for (const auto& f : files) dicts.push_back(io::load_checkpoint_located(f, {}, &located));
    // What parsing the headers mapped (the kernel maps a whole large folio around each header it
    // reads) leaves the resident set: with many ranks it would add up.
    std::unordered_set<const MappedFile*> seen;
    for (const auto& [_, loc] : located)
      if (seen.insert(loc.file.get()).second)
        drop_pages(*loc.file, loc.file->data(), loc.file->size());
  }
};

// Writes `part` to `out`; the file is committed only once `check` (if any) found every replica
// equal to its owner.
void write_part(const Part& part, const fs::path& out, const SaveOptions& options,
                ReplicaCheck* check) {
  io::write_checkpoint_entries(part.entries, out, options, GatherBytes(part.plans, check));
}

}  // namespace

ParamDict merge_checkpoints(const ParallelStrategy& strategy, const std::vector<ParamDict>& ranks) {
  const auto src = plan_sources(&strategy, ranks, nullptr, nullptr);
  ParamDict out;
  for (const Sliced& s : src) out.set(s.name, s.sliced ? gather_tensor(whole_box(s)) : s.first);
  return out;
}

ParamDict merge_checkpoints(const fs::path& strategy, const fs::path& dir) {
  return merge_checkpoints(load_strategy(strategy), dir);
}

ParamDict merge_checkpoints(const ParallelStrategy& s, const fs::path& dir) {
  const Ranks ranks(dir);
  const auto src = plan_sources(&s, ranks.dicts, &ranks.files, &ranks.located);
  ParamDict out;
  for (const Sliced& g : src) out.set(g.name, g.sliced ? gather_tensor(whole_box(g)) : g.first);
  return out;
}

void merge_checkpoints_to_file(const ParallelStrategy& s, const fs::path& dir, const fs::path& out,
                               const SaveOptions& options) {
  const Ranks ranks(dir);
  std::vector<Replica> replicas;
  const auto src = plan_sources(&s, ranks.dicts, &ranks.files, &ranks.located, &replicas);
  ReplicaCheck check(std::move(replicas));
  write_part(plan_part(src, nullptr, 0), out, options, &check);
}

void merge_checkpoints_to_file(const fs::path& strategy, const fs::path& dir, const fs::path& out,
                               const SaveOptions& options) {
  merge_checkpoints_to_file(load_strategy(strategy), dir, out, options);
}

ParamDict slice_checkpoint(const ParamDict& full, const ParallelStrategy& strategy, int64_t rank) {
  const std::vector<ParamDict> one = {full};
  const auto src = plan_sources(nullptr, one, nullptr, nullptr);
  ParamDict out;
  for (const Sliced& s : src) {
    const auto g = cut(s, &strategy, rank);
    out.set(s.name, g ? gather_tensor(*g) : s.first);
  }
  return out;
}

std::vector<fs::path> reshard_checkpoints(const fs::path& src_dir, const fs::path& src_strategy,
                                          const fs::path& dst_dir, const fs::path& dst_strategy,
                                          const std::string& prefix, CheckpointFormat format) {
  ParallelStrategy src_layouts;
  if (!src_strategy.empty()) src_layouts = load_strategy(src_strategy);
  ParallelStrategy dst;
  int64_t devices = 1;
  if (!dst_strategy.empty()) {
    dst = load_strategy(dst_strategy);
    if (dst.empty())
      throw FormatError("the strategy file lists no parameter layouts", {dst_strategy.string()});
    devices = dst.begin()->second.devices();
    for (const auto& [name, l] : dst)
      if (l.devices() != devices)
        throw FormatError("the layout spans " + std::to_string(l.devices()) +
                              " devices but the first one " + std::to_string(devices),
                          {dst_strategy.string(), name});
  }
  const Ranks ranks(src_dir, /*all=*/!src_strategy.empty());
  std::vector<Replica> replicas;
  const auto src = plan_sources(src_strategy.empty() ? nullptr : &src_layouts, ranks.dicts,
                                &ranks.files, &ranks.located, &replicas);
  ReplicaCheck check(std::move(replicas));
  const ParallelStrategy* cut_by = dst_strategy.empty() ? nullptr : &dst;
  // A cut that fails, fails for rank 0, before any file is written (the checks are the shapes').
  const std::string ext = format == CheckpointFormat::kSafetensors ? ".safetensors" : ".ckpt";
  std::vector<fs::path> written;
  for (int64_t r = 0; r < devices; ++r) {
    const fs::path folder = dst_dir / ("rank_" + std::to_string(r));
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw IoError("cannot create the folder: " + ec.message(), {folder.string()});
    const fs::path file = folder / (prefix + std::to_string(r) + ext);
    write_part(plan_part(src, cut_by, r), file, SaveOptions{.format = format}, &check);
    written.push_back(file);
  }
  return written;
}

std::vector<fs::path> unified_safetensors(const ParallelStrategy& strategy, const fs::path& dir,
                                          const fs::path& dst_dir, uint64_t part_bytes) {
  if (part_bytes == 0)
    throw ValueError(ErrorCode::kInvalidArgument, "the part size must be positive");
  // Gradient accumulators are left out of the merge (MindSpore's too: replicas of them hold each
  // rank's own sums) and go to hyper_param.safetensors as rank 0 holds them.
  ParallelStrategy merged_ones;
  for (const auto& [name, layout] : strategy)
    if (!name.starts_with("accu_grads")) merged_ones.emplace(name, layout);
  const Ranks ranks(dir);
  std::vector<Replica> replicas;
  const auto src = plan_sources(&merged_ones, ranks.dicts, &ranks.files, &ranks.located, &replicas);
  ReplicaCheck check(std::move(replicas));
  // The parameters the parts hold, in rank 0's order (MindSpore: the strategy's parameters the
  // ranks hold, but accu_grads*), and their whole sizes.
  std::vector<const Sliced*> params;
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  std::vector<const Sliced*> hyper;
  for (const Sliced& s : src) {
    if (!s.sliced) {
      hyper.push_back(&s);
      continue;
    }
    params.push_back(&s);
    sizes.push_back(box_bytes(whole_box(s)));
    total += sizes.back();
  }
  if (params.empty())
    throw ValueError(ErrorCode::kNotFound,
                     "the ranks hold none of the parameters the strategy lists", {dir.string()});
  // MindSpore's split: ceil(total / part size) parts (at most one per parameter, at least one),
  // parameters largest first (ties in rank 0's order) each into the part with the fewest bytes
  // so far (ties: the first).
  const size_t parts = static_cast<size_t>(
      std::clamp<uint64_t>(total / part_bytes + (total % part_bytes != 0), 1, params.size()));
  std::vector<size_t> by_size(params.size());
  std::iota(by_size.begin(), by_size.end(), size_t{0});
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t x, size_t y) { return sizes[x] > sizes[y]; });
  std::vector<std::vector<size_t>> groups(parts);
  std::vector<uint64_t> filled(parts, 0);
  for (size_t i : by_size) {
    const size_t g =
        static_cast<size_t>(std::min_element(filled.begin(), filled.end()) - filled.begin());
    groups[g].push_back(i);
    filled[g] += sizes[i];
  }

  std::error_code ec;
  fs::create_directories(dst_dir, ec);
  if (ec) throw IoError("cannot create the folder: " + ec.message(), {dst_dir.string()});
  std::vector<fs::path> written;
  const SaveOptions st{.format = CheckpointFormat::kSafetensors};
  for (size_t g = 0; g < parts; ++g) {
    Part part;
    for (size_t i : groups[g]) {
      part.add(params[i]->name, whole_box(*params[i]));
    }
    const fs::path file = dst_dir / ("part" + std::to_string(g) + ".safetensors");
    write_part(part, file, st, &check);
    written.push_back(file);
  }
  // param_name_map.json as json.dumps(..., indent=4) writes it: the parts' names in order.
  std::string map = "{\n    \"metadata\": {\n        \"total_size\": " + std::to_string(total) +
                    "\n    },\n    \"weight_map\": {";
  bool first = true;
  for (size_t g = 0; g < parts; ++g)
    for (size_t i : groups[g]) {
      map += first ? "\n        " : ",\n        ";
      first = false;
      utf8::append_json_string(map, params[i]->name, /*ascii_only=*/true);  // as json.dumps
      map += ": \"part" + std::to_string(g) + ".safetensors\"";
    }
  map += "\n    }\n}";
  const fs::path map_file = dst_dir / "param_name_map.json";
  check.wait();  // (the parts waited already; kept here should there be none)
  {
    formats::AtomicFile out(map_file);
    out.write(map.data(), map.size());
    out.commit();
  }
  written.push_back(map_file);
  if (!hyper.empty()) {
    Part part;
    for (const Sliced* s : hyper) {
      if (s->str)
        throw ValueError(ErrorCode::kUnsupported,
                         "a str entry cannot go into hyper_param.safetensors (safetensors has no "
                         "string dtype)",
                         {ranks.files[0].string(), s->name});
      part.add(s->name, whole_box(*s));
    }
    const fs::path file = dst_dir / "hyper_param.safetensors";
    write_part(part, file, st, &check);
    written.push_back(file);
  }
  return written;
}

std::vector<fs::path> unified_safetensors(const fs::path& strategy, const fs::path& dir,
                                          const fs::path& dst_dir, uint64_t part_bytes) {
  return unified_safetensors(load_strategy(strategy), dir, dst_dir, part_bytes);
}

}  // namespace cellar
