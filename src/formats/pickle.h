// A restricted unpickler: Python's pickle virtual machine for the opcodes of protocols 2 to 5
// that data (not code) needs, with every callable decided by a Policy. Nothing is ever looked up
// or called by name: GLOBAL / STACK_GLOBAL ask Policy::global(), which refuses every name it does
// not know by throwing, before any argument is even read; REDUCE and BUILD go to the policy,
// which builds plain objects. This is the reader behind PyTorch files (formats/pytorch.h), whose
// policy allows what torch.load(weights_only=True) allows for state dicts.
//
// Opcodes understood (pickletools' names): PROTO FRAME STOP MARK POP POP_MARK DUP; NONE NEWTRUE
// NEWFALSE BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT; BINUNICODE SHORT_BINUNICODE BINUNICODE8
// BINSTRING SHORT_BINSTRING (protocol-2 str of Python 2, read as text) BINBYTES SHORT_BINBYTES
// BINBYTES8 BYTEARRAY8; EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS
// EMPTY_DICT DICT SETITEM SETITEMS EMPTY_SET ADDITEMS FROZENSET; BINPUT LONG_BINPUT MEMOIZE
// BINGET LONG_BINGET; GLOBAL STACK_GLOBAL REDUCE BUILD BINPERSID. Everything else (the text
// opcodes of protocol 0, INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, out-of-band buffers)
// is refused naming the opcode and its offset.
//
// Budgets: objects live in one arena owned by the Machine and refer to each other by index, so
// cycles (a list appended to itself) cost nothing and leak nothing; at most kMaxObjects objects
// and kMaxStack stack entries; every length is checked against the bytes that remain before
// anything is allocated; integers wider than 64 bits are kept as their bytes (BigInt), at most
// kMaxBigIntBytes of them. And the memory the objects take (each ~100 bytes, made by an opcode of
// one byte; their texts and items; a memo entry per MEMOIZE, also one byte) is counted against
// the caller's max_bytes, so that a pickle of a few MiB (or a few KiB, deflated in a zip) cannot
// make the reader allocate gigabytes: the run fails as soon as it would pass it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cellar::formats::pickle {

using Ref = uint32_t;  // an object of the Machine's arena

enum class Kind : uint8_t {
  None,
  Bool,
  Int,     // fits int64
  BigInt,  // wider: `text` holds its little-endian two's complement bytes
  Float,
  Str,    // `text` (UTF-8 as the file had it)
  Bytes,  // `text`
  Tuple,
  List,
  Dict,    // items: key, value, key, value… in insertion order
  Set,     // items (sets and frozensets)
  Global,  // `text` = "module.name", `tag` = the policy's id for it
  Custom,  // made by the policy: `tag` its kind, `index` its own number
};

struct Object {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<Ref> items;
  uint32_t tag = 0;
  uint32_t index = 0;
  uint64_t offset = 0;  // where the opcode that made it is (for messages)
};

inline constexpr size_t kMaxObjects = size_t{1} << 24;
inline constexpr size_t kMaxStack = size_t{1} << 20;
inline constexpr size_t kMaxBigIntBytes = 64;
// What one memo entry is counted as (a hash node and its share of the buckets).
inline constexpr size_t kMemoEntryBytes = 64;

class Machine;

// What the unpickler may call. Each hook throws (a cellar::Error naming the file and offset) to
// refuse; `offset` is the opcode's.
class Policy {
 public:
  virtual ~Policy() = default;
  // The id of an allowed global (stored in Object::tag); throws for every other name.
  virtual uint32_t global(std::string_view module, std::string_view name, uint64_t offset) = 0;
  // REDUCE: the global `fn` applied to the tuple `args`.
  virtual Ref reduce(Machine& m, Ref fn, Ref args, uint64_t offset) = 0;
  // BUILD: `state` applied to `target` (which stays on the stack).
  virtual void build(Machine& m, Ref target, Ref state, uint64_t offset) = 0;
  // BINPERSID: the object a persistent id stands for.
  virtual Ref persistent_load(Machine& m, Ref pid, uint64_t offset) = 0;
};

class Machine {
 public:
  // `bytes` is the pickle; `base` is its offset in the file (so offsets in messages are file
  // offsets); `where` names it in messages ("data.pkl"); `max_bytes` is the memory its objects
  // and memo may take (see above), `budget` how to name that limit in the error.
  Machine(std::span<const std::byte> bytes, std::string file, std::string where, uint64_t base,
          Policy& policy, uint64_t max_bytes, std::string budget);

  // Runs to STOP and returns the result. FormatError naming the file and offset for bad bytes.
  Ref run();
  // Bytes read by run() (up to and including STOP).
  size_t consumed() const { return pos_; }
  // The memory counted so far (objects, their texts and items, memo entries, and what the policy
  // counted with charge()).
  uint64_t bytes_used() const { return used_; }
  // Counts `n` bytes the policy keeps for the object made by the opcode at `offset` (relative to
  // the pickle, as Object::offset); fails, naming the budget, past max_bytes.
  void charge(uint64_t n, uint64_t offset);

  const Object& at(Ref r) const { return objects_[r]; }
  Object& at(Ref r) { return objects_[r]; }
  Ref make(Object o);
  size_t object_count() const { return objects_.size(); }

  const std::string& file() const { return file_; }
  const std::string& where() const { return where_; }
  uint64_t base() const { return base_; }
  [[noreturn]] void fail(const std::string& reason, uint64_t offset) const;

 private:
  Ref pop();
  Ref top();
  std::vector<Ref> pop_mark();
  void push(Ref r);
  const std::byte* take(uint64_t n, const char* what);
  uint64_t take_uint(int bytes, const char* what);
  Ref make_int_from_le(const std::byte* p, size_t n, uint64_t op_at);
  Ref make_text(Kind kind, uint64_t n, const char* what, uint64_t op_at);
  void add_items(Ref container, std::vector<Ref>&& items, uint64_t op_at);
  void set_item(Ref dict, Ref key, Ref value, uint64_t op_at);
  void memo_put(uint64_t index, uint64_t op_at);
  Ref memo_get(uint64_t index, uint64_t op_at);

  std::span<const std::byte> bytes_;
  std::string file_, where_;
  uint64_t base_;
  Policy& policy_;
  size_t pos_ = 0;
  uint64_t max_bytes_, used_ = 0;
  std::string budget_;
  // A deque: references to objects stay valid while new ones are made (and no reallocation
  // ever holds two copies of the arena).
  std::deque<Object> objects_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;  // indices come from the file: never a vector's size
};

// The pickle opcode at `op` as pickletools names it ("GLOBAL"), or "0x.." when unknown.
std::string opcode_name(uint8_t op);

}  // namespace cellar::formats::pickle
