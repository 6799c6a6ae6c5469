// The restricted unpickler (see pickle.h for what it understands and refuses). Opcode values and
// semantics follow Python's Lib/pickletools.py documentation of the protocol.
#include "formats/pickle.h"

#include <algorithm>
#include <cstring>

#include "cellar/error.h"

namespace cellar::formats::pickle {

namespace {

// Opcodes (protocol 0-5) by value.
enum Op : uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  FLOAT = 'F',
  INT = 'I',
  BININT = 'J',
  BININT1 = 'K',
  LONG = 'L',
  BININT2 = 'M',
  NONE = 'N',
  PERSID = 'P',
  BINPERSID = 'Q',
  REDUCE = 'R',
  STRING = 'S',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  UNICODE = 'V',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  GET = 'g',
  BINGET = 'h',
  INST = 'i',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  OBJ = 'o',
  PUT = 'p',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  EXT1 = 0x82,
  EXT2 = 0x83,
  EXT4 = 0x84,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  BYTEARRAY8 = 0x96,
  NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

struct Name {
  uint8_t op;
  const char* name;
};
constexpr Name kNames[] = {
    {MARK, "MARK"},
    {STOP, "STOP"},
    {POP, "POP"},
    {POP_MARK, "POP_MARK"},
    {DUP, "DUP"},
    {FLOAT, "FLOAT"},
    {INT, "INT"},
    {BININT, "BININT"},
    {BININT1, "BININT1"},
    {LONG, "LONG"},
    {BININT2, "BININT2"},
    {NONE, "NONE"},
    {PERSID, "PERSID"},
    {BINPERSID, "BINPERSID"},
    {REDUCE, "REDUCE"},
    {STRING, "STRING"},
    {BINSTRING, "BINSTRING"},
    {SHORT_BINSTRING, "SHORT_BINSTRING"},
    {UNICODE, "UNICODE"},
    {BINUNICODE, "BINUNICODE"},
    {APPEND, "APPEND"},
    {BUILD, "BUILD"},
    {GLOBAL, "GLOBAL"},
    {DICT, "DICT"},
    {EMPTY_DICT, "EMPTY_DICT"},
    {APPENDS, "APPENDS"},
    {GET, "GET"},
    {BINGET, "BINGET"},
    {INST, "INST"},
    {LONG_BINGET, "LONG_BINGET"},
    {LIST, "LIST"},
    {EMPTY_LIST, "EMPTY_LIST"},
    {OBJ, "OBJ"},
    {PUT, "PUT"},
    {BINPUT, "BINPUT"},
    {LONG_BINPUT, "LONG_BINPUT"},
    {SETITEM, "SETITEM"},
    {TUPLE, "TUPLE"},
    {EMPTY_TUPLE, "EMPTY_TUPLE"},
    {SETITEMS, "SETITEMS"},
    {BINFLOAT, "BINFLOAT"},
    {PROTO, "PROTO"},
    {NEWOBJ, "NEWOBJ"},
    {EXT1, "EXT1"},
    {EXT2, "EXT2"},
    {EXT4, "EXT4"},
    {TUPLE1, "TUPLE1"},
    {TUPLE2, "TUPLE2"},
    {TUPLE3, "TUPLE3"},
    {NEWTRUE, "NEWTRUE"},
    {NEWFALSE, "NEWFALSE"},
    {LONG1, "LONG1"},
    {LONG4, "LONG4"},
    {BINBYTES, "BINBYTES"},
    {SHORT_BINBYTES, "SHORT_BINBYTES"},
    {SHORT_BINUNICODE, "SHORT_BINUNICODE"},
    {BINUNICODE8, "BINUNICODE8"},
    {BINBYTES8, "BINBYTES8"},
    {EMPTY_SET, "EMPTY_SET"},
    {ADDITEMS, "ADDITEMS"},
    {FROZENSET, "FROZENSET"},
    {NEWOBJ_EX, "NEWOBJ_EX"},
    {STACK_GLOBAL, "STACK_GLOBAL"},
    {MEMOIZE, "MEMOIZE"},
    {FRAME, "FRAME"},
    {BYTEARRAY8, "BYTEARRAY8"},
    {NEXT_BUFFER, "NEXT_BUFFER"},
    {READONLY_BUFFER, "READONLY_BUFFER"},
};

constexpr char kHex[] = "0123456789abcdef";

// A short printable rendering of untrusted text for messages.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > 80) out += "...";
  return out;
}

}  // namespace

std::string opcode_name(uint8_t op) {
  for (const Name& n : kNames)
    if (n.op == op) return n.name;
  return std::string("0x") + kHex[op >> 4] + kHex[op & 15];
}

Machine::Machine(std::span<const std::byte> bytes, std::string file, std::string where,
                 uint64_t base, Policy& policy, uint64_t max_bytes, std::string budget)
    : bytes_(bytes),
      file_(std::move(file)),
      where_(std::move(where)),
      base_(base),
      policy_(policy),
      max_bytes_(max_bytes),
      budget_(std::move(budget)) {}

void Machine::charge(uint64_t n, uint64_t op_at) {
  if (n > max_bytes_ - std::min(used_, max_bytes_))
    fail("its objects would take more than the " + std::to_string(max_bytes_) +
             " bytes of memory left for them (" + budget_ + ")",
         op_at);
  used_ += n;
}

void Machine::add_items(Ref container, std::vector<Ref>&& items, uint64_t op_at) {
  charge(items.size() * sizeof(Ref), op_at);
  auto& dst = objects_[container].items;
  dst.insert(dst.end(), items.begin(), items.end());
}

void Machine::fail(const std::string& reason, uint64_t offset) const {
  throw FormatError("pickle (" + where_ + "): " + reason, {file_, {}, base_ + offset});
}

Ref Machine::make(Object o) {
  if (objects_.size() >= kMaxObjects)
    fail("more than " + std::to_string(kMaxObjects) + " objects", o.offset);
  charge(sizeof(Object) + o.text.size() + o.items.size() * sizeof(Ref), o.offset);
  objects_.push_back(std::move(o));
  return static_cast<Ref>(objects_.size() - 1);
}

void Machine::push(Ref r) {
  if (stack_.size() >= kMaxStack)
    fail("the stack grew past " + std::to_string(kMaxStack) + " entries", pos_);
  stack_.push_back(r);
}

Ref Machine::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
    fail("stack underflow", pos_ ? pos_ - 1 : 0);
  const Ref r = stack_.back();
  stack_.pop_back();
  return r;
}

Ref Machine::top() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
    fail("stack underflow", pos_ ? pos_ - 1 : 0);
  return stack_.back();
}

std::vector<Ref> Machine::pop_mark() {
  if (marks_.empty()) fail("no MARK to pop to", pos_ ? pos_ - 1 : 0);
  const size_t m = marks_.back();
  marks_.pop_back();
  std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return items;
}

const std::byte* Machine::take(uint64_t n, const char* what) {
  if (n > bytes_.size() - pos_)
    fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past the end (" +
             std::to_string(bytes_.size() - pos_) + " left)",
         pos_);
  const std::byte* p = bytes_.data() + pos_;
  pos_ += static_cast<size_t>(n);
  return p;
}

uint64_t Machine::take_uint(int n, const char* what) {
  const std::byte* p = take(static_cast<uint64_t>(n), what);
  uint64_t v = 0;
  for (int i = n; i-- > 0;) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

Ref Machine::make_int_from_le(const std::byte* p, size_t n, uint64_t op_at) {
  Object o;
  o.offset = op_at;
  if (n <= 8) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | static_cast<uint8_t>(p[i]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(p[n - 1]) & 0x80))
      v |= ~uint64_t{0} << (8 * n);  // sign-extend
    o.kind = Kind::Int;
    o.integer = static_cast<int64_t>(v);
  } else {
    if (n > kMaxBigIntBytes)
      fail("an integer of " + std::to_string(n) + " bytes (at most " +
               std::to_string(kMaxBigIntBytes) + " are read)",
           op_at);
    o.kind = Kind::BigInt;
    o.text.assign(reinterpret_cast<const char*>(p), n);
  }
  return make(std::move(o));
}

Ref Machine::make_text(Kind kind, uint64_t n, const char* what, uint64_t op_at) {
  const std::byte* p = take(n, what);
  Object o;
  o.kind = kind;
  o.offset = op_at;
  o.text.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  return make(std::move(o));
}

void Machine::set_item(Ref dict, Ref key, Ref value, uint64_t op_at) {
  if (objects_[dict].kind != Kind::Dict) fail("SETITEM(S) on something that is not a dict", op_at);
  // Every pair is kept in order. Python would let a repeated key replace the earlier value;
  // readers of the result refuse repeated keys instead (no silent last-wins).
  add_items(dict, {key, value}, op_at);
}

void Machine::memo_put(uint64_t index, uint64_t op_at) {
  if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
    fail("memo store with nothing on the stack", op_at);
  const auto [it, fresh] = memo_.try_emplace(index, stack_.back());
  if (!fresh) {
    it->second = stack_.back();
    return;
  }
  try {
    charge(kMemoEntryBytes, op_at);
  } catch (...) {
    memo_.erase(it);
    throw;
  }
}

Ref Machine::memo_get(uint64_t index, uint64_t op_at) {
  const auto it = memo_.find(index);
  if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored", op_at);
  return it->second;
}

Ref Machine::run() {
  for (;;) {
    const uint64_t at = pos_;
    const auto op = static_cast<uint8_t>(*take(1, "an opcode"));
    switch (op) {
      case PROTO: {
        const uint64_t v = take_uint(1, "PROTO's version");
        if (v < 2 || v > 5) fail("protocol " + std::to_string(v) + " (2 to 5 are read)", at);
        break;
      }
      case FRAME:
        take_uint(8, "FRAME's length");  // framing only groups opcodes: nothing to do
        break;
      case STOP: {
        const Ref r = pop();
        if (!stack_.empty() || !marks_.empty()) fail("STOP with items left on the stack", at);
        return r;
      }
      case MARK:
        if (marks_.size() >= kMaxStack) fail("too many open MARKs", at);
        marks_.push_back(stack_.size());
        break;
      case POP:
        if (!marks_.empty() && stack_.size() == marks_.back())
          marks_.pop_back();  // POP of a MARK, as Python does
        else
          pop();
        break;
      case POP_MARK:
        pop_mark();
        break;
      case DUP:
        push(top());
        break;
      case NONE:
        push(make({.kind = Kind::None, .offset = at}));
        break;
      case NEWTRUE:
      case NEWFALSE:
        push(make({.kind = Kind::Bool, .boolean = op == NEWTRUE, .offset = at}));
        break;
      case BININT: {
        const std::byte* p = take(4, "BININT");
        push(make_int_from_le(p, 4, at));
        break;
      }
      case BININT1:
        push(make({.kind = Kind::Int,
                   .integer = static_cast<int64_t>(take_uint(1, "BININT1")),
                   .offset = at}));
        break;
      case BININT2:
        push(make({.kind = Kind::Int,
                   .integer = static_cast<int64_t>(take_uint(2, "BININT2")),
                   .offset = at}));
        break;
      case LONG1:
      case LONG4: {
        const uint64_t n = take_uint(op == LONG1 ? 1 : 4, "a LONG's length");
        if (n > kMaxBigIntBytes)
          fail("an integer of " + std::to_string(n) + " bytes (at most " +
                   std::to_string(kMaxBigIntBytes) + " are read)",
               at);
        const std::byte* p = take(n, "a LONG's bytes");
        push(make_int_from_le(p, static_cast<size_t>(n), at));
        break;
      }
      case BINFLOAT: {
        const uint64_t bits = [&] {  // big-endian IEEE double
          const std::byte* p = take(8, "BINFLOAT");
          uint64_t v = 0;
          for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
          return v;
        }();
        double d;
        std::memcpy(&d, &bits, 8);
        push(make({.kind = Kind::Float, .real = d, .offset = at}));
        break;
      }
      case SHORT_BINUNICODE:
        push(make_text(Kind::Str, take_uint(1, "a length"), "SHORT_BINUNICODE", at));
        break;
      case BINUNICODE:
        push(make_text(Kind::Str, take_uint(4, "a length"), "BINUNICODE", at));
        break;
      case BINUNICODE8:
        push(make_text(Kind::Str, take_uint(8, "a length"), "BINUNICODE8", at));
        break;
      case SHORT_BINSTRING:
        push(make_text(Kind::Str, take_uint(1, "a length"), "SHORT_BINSTRING", at));
        break;
      case BINSTRING: {
        const uint64_t n = take_uint(4, "a length");
        if (n > 0x7fffffff) fail("BINSTRING with a negative length", at);
        push(make_text(Kind::Str, n, "BINSTRING", at));
        break;
      }
      case SHORT_BINBYTES:
        push(make_text(Kind::Bytes, take_uint(1, "a length"), "SHORT_BINBYTES", at));
        break;
      case BINBYTES:
        push(make_text(Kind::Bytes, take_uint(4, "a length"), "BINBYTES", at));
        break;
      case BINBYTES8:
        push(make_text(Kind::Bytes, take_uint(8, "a length"), "BINBYTES8", at));
        break;
      case BYTEARRAY8:
        push(make_text(Kind::Bytes, take_uint(8, "a length"), "BYTEARRAY8", at));
        break;
      case EMPTY_TUPLE:
        push(make({.kind = Kind::Tuple, .offset = at}));
        break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const size_t n = op == TUPLE1 ? 1 : op == TUPLE2 ? 2 : 3;
        std::vector<Ref> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push(make({.kind = Kind::Tuple, .items = std::move(items), .offset = at}));
        break;
      }
      case TUPLE:
        push(make({.kind = Kind::Tuple, .items = pop_mark(), .offset = at}));
        break;
      case EMPTY_LIST:
        push(make({.kind = Kind::List, .offset = at}));
        break;
      case LIST:
        push(make({.kind = Kind::List, .items = pop_mark(), .offset = at}));
        break;
      case APPEND: {
        const Ref v = pop();
        const Ref list = top();
        if (objects_[list].kind != Kind::List) fail("APPEND to something that is not a list", at);
        add_items(list, {v}, at);
        break;
      }
      case APPENDS: {
        std::vector<Ref> items = pop_mark();
        const Ref list = top();
        if (objects_[list].kind != Kind::List) fail("APPENDS to something that is not a list", at);
        add_items(list, std::move(items), at);
        break;
      }
      case EMPTY_DICT:
        push(make({.kind = Kind::Dict, .offset = at}));
        break;
      case DICT: {
        std::vector<Ref> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items", at);
        const Ref d = make({.kind = Kind::Dict, .offset = at});
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1], at);
        push(d);
        break;
      }
      case SETITEM: {
        const Ref v = pop();
        const Ref k = pop();
        set_item(top(), k, v, at);
        break;
      }
      case SETITEMS: {
        std::vector<Ref> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items", at);
        const Ref d = top();
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1], at);
        break;
      }
      case EMPTY_SET:
        push(make({.kind = Kind::Set, .offset = at}));
        break;
      case ADDITEMS: {
        std::vector<Ref> items = pop_mark();
        const Ref s = top();
        if (objects_[s].kind != Kind::Set) fail("ADDITEMS to something that is not a set", at);
        add_items(s, std::move(items), at);
        break;
      }
      case FROZENSET:
        push(make({.kind = Kind::Set, .items = pop_mark(), .offset = at}));
        break;
      case BINPUT:
        memo_put(take_uint(1, "a memo index"), at);
        break;
      case LONG_BINPUT:
        memo_put(take_uint(4, "a memo index"), at);
        break;
      case MEMOIZE:
        memo_put(memo_.size(), at);
        break;
      case BINGET:
        push(memo_get(take_uint(1, "a memo index"), at));
        break;
      case LONG_BINGET:
        push(memo_get(take_uint(4, "a memo index"), at));
        break;
      case GLOBAL: {
        // "module\nname\n": each line at most 256 bytes here (Python identifiers).
        auto line = [&](const char* what) {
          const size_t start = pos_;
          while (pos_ < bytes_.size() && pos_ - start <= 256 &&
                 bytes_[pos_] != static_cast<std::byte>('\n'))
            ++pos_;
          if (pos_ >= bytes_.size() || bytes_[pos_] != static_cast<std::byte>('\n'))
            fail(std::string("GLOBAL's ") + what + " is not a line of at most 256 bytes", at);
          std::string s(reinterpret_cast<const char*>(bytes_.data() + start), pos_ - start);
          ++pos_;
          return s;
        };
        const std::string module = line("module");
        const std::string name = line("name");
        const uint32_t id = policy_.global(module, name, base_ + at);
        push(make({.kind = Kind::Global, .text = module + "." + name, .tag = id, .offset = at}));
        break;
      }
      case STACK_GLOBAL: {
        const Ref name = pop();
        const Ref module = pop();
        if (objects_[module].kind != Kind::Str || objects_[name].kind != Kind::Str)
          fail("STACK_GLOBAL's module and name must be strings", at);
        const std::string m = objects_[module].text, n = objects_[name].text;
        const uint32_t id = policy_.global(m, n, base_ + at);
        push(make({.kind = Kind::Global, .text = m + "." + n, .tag = id, .offset = at}));
        break;
      }
      case REDUCE: {
        const Ref args = pop();
        const Ref fn = pop();
        if (objects_[fn].kind != Kind::Global)
          fail("REDUCE of something that is not an allowed global", at);
        if (objects_[args].kind != Kind::Tuple)
          fail("REDUCE's arguments (" + printable(objects_[fn].text) + ") are not a tuple", at);
        push(policy_.reduce(*this, fn, args, base_ + at));
        break;
      }
      case BUILD: {
        const Ref state = pop();
        policy_.build(*this, top(), state, base_ + at);
        break;
      }
      case BINPERSID: {
        const Ref pid = pop();
        push(policy_.persistent_load(*this, pid, base_ + at));
        break;
      }
      default:
        fail("opcode " + opcode_name(op) +
                 " is not read (only the binary opcodes of protocols 2 to 5 that data needs; "
                 "objects are never constructed by name)",
             at);
    }
  }
}

}  // namespace cellar::formats::pickle
