// What the MindIR and ONNX readers share (private to src/formats/). Both read a protobuf graph in
// the same passes so that a hostile file cannot make them recurse or dereference a bad name:
// (1) index every name the graph defines, refusing duplicates (NameIndex); (2) walk from the graph
// outputs with an explicit stack, in post-order, refusing dangling names and cycles (PostOrder);
// (3) build the graph in that order. Tensors are checked the same way (checked byte sizes, bool
// bytes normalised to 0/1) and external data files are opened, kept inside the model's folder and
// decrypted the same way (ExternalFiles). What differs (the schemas, the error wording the tests
// pin) stays in each reader: they pass callbacks that throw their own errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cellar/io/inspect.h"
#include "cellar/ir/graph.h"
#include "cellar/storage.h"
#include "cellar/tensor.h"
#include "formats/crypto.h"
#include "ir/limits.h"

namespace cellar::formats {

// The limits every value a reader makes (input, weight, constant, node output) must keep: one
// definition, in the IR, which also holds shapes computed at run time to them (Graph::infer_at).
using ir::kMaxDimension;
using ir::kMaxRank;
using ir::shape_over_limits;

// numel × itemsize of a tensor whose element count is known not to overflow; nullopt when the
// product does.
std::optional<uint64_t> tensor_nbytes(DType dt, const Shape& shape);

// Only 0 and 1 are valid bool bytes: every other byte of a Bool tensor becomes 1 (no-op for other
// dtypes).
void normalize_bools(Tensor& t);

// The error for a model with ops cellar lacks, listing them all at once: kUnsupported "3
// unsupported ops: Foo ×2, Bar ×1 (first: '<node>')", ops by node count, then name. `unknown`
// holds (op, node label) in file order; the error's tensor is the first node.
[[noreturn]] void throw_unsupported_ops(
    const std::vector<std::pair<std::string, std::string>>& unknown, const std::string& file);

// The census of (op, supported) per node, in file order: counted, most used first.
struct CensusEntry {
  std::string op;
  bool supported = false;
};
std::vector<OpCount> count_ops(const std::vector<CensusEntry>& nodes);

// The names a graph defines (inputs, parameters or initializers, node outputs), each once.
template <class Entry>
class NameIndex : public std::unordered_map<std::string, Entry> {
 public:
  // False (and nothing changes) when `name` is already defined.
  bool define(const std::string& name, Entry e) { return this->emplace(name, e).second; }
};

// Post-order of a graph's nodes reachable from roots, by an explicit stack (no recursion). Nodes
// are file indices [0, node_count). Several roots share one PostOrder: a node is listed once.
class PostOrder {
 public:
  static constexpr int kSkip = -1;  // this dependency is no node (an input, a constant, none)
  static constexpr int kEnd = -2;   // the node has no more dependencies

  explicit PostOrder(size_t node_count) : state_(node_count, 0) {}

  // Lists `root` and what it depends on, producers first. `next(n, k)` is the node node n's k-th
  // dependency comes from (or kSkip, or kEnd past the last); it is called with k = 0, 1, … and may
  // throw (a dangling name). `cycle(n, d)` is called when n depends on d, which is still on the
  // stack, and must throw.
  template <class Next, class Cycle>
  void visit(int root, Next&& next, Cycle&& cycle) {
    if (state_[static_cast<size_t>(root)] != 0) return;
    std::vector<std::pair<int, int>> stack{{root, 0}};
    state_[static_cast<size_t>(root)] = 1;
    while (!stack.empty()) {
      auto& [n, k] = stack.back();
      const int d = next(n, k);
      if (d != kEnd) {
        ++k;
        if (d == kSkip) continue;
        const auto ud = static_cast<size_t>(d);
        if (state_[ud] == 1) cycle(n, d);
        if (state_[ud] == 0) {
          state_[ud] = 1;
          stack.emplace_back(d, 0);
        }
        continue;
      }
      state_[static_cast<size_t>(n)] = 2;
      order_.push_back(n);
      stack.pop_back();
    }
  }
  std::vector<int> take() { return std::move(order_); }

 private:
  std::vector<uint8_t> state_;  // 0 new, 1 on the stack, 2 done
  std::vector<int> order_;
};

// A graph with open (symbolic) input dimensions, read twice: `a` with every open dimension at
// size_a, `b` at size_b. A reader that folds shape arithmetic at load (ONNX's Shape -> Gather ->
// Concat -> Reshape) bakes the size into constants and attributes; then the two differ and the
// graph would compute with the wrong size at any other. One such difference is repaired in `a`:
// a Reshape whose target entry is the open size at both sizes, where its input has exactly one
// dimension of that size at both, takes that dimension at run time (its `dims_from_input`).
// Anything else that differs throws kUnsupported naming the first node or constant, its values
// at both sizes, and why. Value shapes may differ (that is what open dimensions do).
void reconcile_open_dims(ir::Graph& a, const ir::Graph& b, int64_t size_a, int64_t size_b,
                         const std::string& file);

// A model's external data files (ONNX external_data, MindIR `<name>_variables/data_N`), named by
// paths relative to the model's folder, each opened once. An encrypted file is decrypted through
// plaintext() (crypto.h) with the model's key; its plaintext is copied into aligned memory.
// Tensors view the mapping or that memory, and keep it alive.
class ExternalFiles {
 public:
  struct Bytes {
    std::shared_ptr<MappedFile> map;  // plain files
    std::shared_ptr<Storage> plain;   // decrypted files
    const std::byte* data = nullptr;
    uint64_t size = 0;
  };

  ExternalFiles(std::filesystem::path base_dir, std::optional<Cipher> dec)
      : base_(std::move(base_dir)), dec_(std::move(dec)) {}

  // False when the model was not read from a folder: external data cannot be resolved.
  bool enabled() const { return !base_.empty(); }
  const std::filesystem::path& base_dir() const { return base_; }
  // external_path_inside(base_dir, location) (external_file.h).
  bool inside(const std::string& location) const;

  // base_dir/location, opened (and decrypted) the first time. `cannot_read(reason)` is called,
  // and must throw, when the file cannot be opened; an encrypted file without a key is kCrypto
  // "external data '<location>' is encrypted; pass dec_key and dec_mode" naming the file and
  // `tensor`.
  const Bytes& open(const std::string& location, const std::string& tensor,
                    const std::function<void(const std::string& reason)>& cannot_read);

  // `nbytes` at `off` of `b` (bounds checked by the caller) as a tensor: a view when the offset
  // is aligned (not for Bool, whose bytes are normalised), else a copy.
  static Tensor tensor_at(const Bytes& b, uint64_t off, uint64_t nbytes, DType dt,
                          const Shape& shape);

 private:
  std::filesystem::path base_;
  std::optional<Cipher> dec_;
  std::map<std::string, Bytes> files_;
};

}  // namespace cellar::formats
