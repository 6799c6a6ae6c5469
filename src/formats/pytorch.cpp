// PyTorch files: the layouts, the allowed globals and what a load gives are in pytorch.h.
#include "formats/pytorch.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cellar/error.h"
#include "formats/pickle.h"
#include "formats/zip.h"

namespace cellar::formats {

namespace pytorch {

namespace {

using pickle::Kind;
using pickle::Machine;
using pickle::Object;
using pickle::Ref;

// LONG1, 10 bytes, the magic number little-endian: how every protocol pickles it.
constexpr std::array<uint8_t, 12> kLegacyMagicOp{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::string_view kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr int64_t kLegacyProtocol = 1001;

// Globals the policy allows. Storage classes and dtypes carry a table index in the tag too.
enum Fn : uint32_t {
  kOrderedDict = 1,
  kRebuildV2,
  kRebuildV3,
  kRebuildParameter,
  kRebuildParameterWithState,
  kTorchSize,
  kCodecsEncode,
  kStorageBase = 0x100,  // + index into kStorageTypes
  kDTypeBase = 0x200,    // + index into kDTypes
};

struct StorageType {
  std::string_view name;
  std::optional<DType> dtype;  // nullopt: a dtype cellar has no type for
};
constexpr std::array<StorageType, 18> kStorageTypes{{
    {"DoubleStorage", DType::Float64},
    {"FloatStorage", DType::Float32},
    {"HalfStorage", DType::Float16},
    {"BFloat16Storage", DType::BFloat16},
    {"LongStorage", DType::Int64},
    {"IntStorage", DType::Int32},
    {"ShortStorage", DType::Int16},
    {"CharStorage", DType::Int8},
    {"ByteStorage", DType::UInt8},
    {"BoolStorage", DType::Bool},
    {"UntypedStorage", DType::UInt8},
    {"ComplexDoubleStorage", std::nullopt},
    {"ComplexFloatStorage", std::nullopt},
    {"QInt8Storage", std::nullopt},
    {"QInt32Storage", std::nullopt},
    {"QUInt8Storage", std::nullopt},
    {"QUInt4x2Storage", std::nullopt},
    {"QUInt2x4Storage", std::nullopt},
}};

constexpr size_t kUntypedStorage = 10;
static_assert(kStorageTypes[kUntypedStorage].name == "UntypedStorage");

struct DTypeName {
  std::string_view name;
  std::optional<DType> dtype;
};
constexpr std::array<DTypeName, 29> kDTypes{{
    {"float32", DType::Float32},
    {"float", DType::Float32},
    {"float64", DType::Float64},
    {"double", DType::Float64},
    {"float16", DType::Float16},
    {"half", DType::Float16},
    {"bfloat16", DType::BFloat16},
    {"int64", DType::Int64},
    {"long", DType::Int64},
    {"int32", DType::Int32},
    {"int", DType::Int32},
    {"int16", DType::Int16},
    {"short", DType::Int16},
    {"int8", DType::Int8},
    {"uint8", DType::UInt8},
    {"bool", DType::Bool},
    {"uint16", DType::UInt16},
    {"uint32", DType::UInt32},
    {"uint64", DType::UInt64},
    {"complex64", std::nullopt},
    {"complex128", std::nullopt},
    {"cfloat", std::nullopt},
    {"cdouble", std::nullopt},
    {"complex32", std::nullopt},
    {"float8_e5m2", std::nullopt},
    {"float8_e4m3fn", std::nullopt},
    {"float8_e5m2fnuz", std::nullopt},
    {"float8_e4m3fnuz", std::nullopt},
    {"float8_e8m0fnu", std::nullopt},
}};

struct StorageRef {
  std::string key;
  std::string type_name;       // "FloatStorage"
  std::optional<DType> dtype;  // the storage's element type
  uint64_t numel = 0;          // in the storage's elements
  uint64_t nbytes = 0;
  uint64_t pickle_offset = 0;
};

struct TensorRef {
  uint32_t storage = 0;
  std::optional<DType> dtype;  // v3's explicit dtype, else the storage's
  std::string dtype_name;      // for messages
  int64_t offset = 0;          // in elements of the tensor's dtype
  std::vector<int64_t> sizes, strides;
  uint64_t pickle_offset = 0;
};

// What a hash-map entry is counted as, beside its key (the budgets below).
constexpr uint64_t kMapNodeBytes = 64;
// What one flattened entry is counted as, beside its name (kept twice: the entry, the name set):
// the Tensor, its Storage and shape, the list and set nodes.
constexpr uint64_t kEntryBytes = 256;

constexpr uint32_t kCustomStorage = 1;
constexpr uint32_t kCustomTensor = 2;

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
    case Kind::BigInt:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::Str:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Set:
      return "set";
    case Kind::Global:
      return "global";
    case Kind::Custom:
      return "tensor or storage";
  }
  return "?";
}

// What torch.load(weights_only=True) allows for state dicts, and nothing else.
class TorchPolicy final : public pickle::Policy {
 public:
  explicit TorchPolicy(const std::string& file) : file_(file) {}

  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;
  std::unordered_map<std::string, uint32_t> storage_by_key;
  bool legacy = false;

  uint32_t global(std::string_view module, std::string_view name, uint64_t offset) override {
    if (module == "collections" && name == "OrderedDict") return kOrderedDict;
    if (module == "torch._utils") {
      if (name == "_rebuild_tensor_v2") return kRebuildV2;
      if (name == "_rebuild_tensor_v3") return kRebuildV3;
      if (name == "_rebuild_parameter") return kRebuildParameter;
      if (name == "_rebuild_parameter_with_state") return kRebuildParameterWithState;
    }
    if (module == "torch.storage" && name == "UntypedStorage")
      return kStorageBase + static_cast<uint32_t>(kUntypedStorage);
    if (module == "torch" || module == "torch.cuda") {
      for (size_t i = 0; i < kStorageTypes.size(); ++i)
        if (kStorageTypes[i].name == name) return kStorageBase + static_cast<uint32_t>(i);
    }
    if (module == "torch") {
      if (name == "Size") return kTorchSize;
      for (size_t i = 0; i < kDTypes.size(); ++i)
        if (kDTypes[i].name == name) return kDTypeBase + static_cast<uint32_t>(i);
    }
    if (module == "_codecs" && name == "encode") return kCodecsEncode;
    std::string hint;
    if (module.starts_with("__torch__"))
      hint = " (a TorchScript archive? load it with torch.jit.load and torch.save its state_dict)";
    else if (module != "torch" && module != "collections" && module != "torch._utils")
      hint = " (a pickled object, not a state dict? torch.save(model.state_dict()) instead)";
    throw Error(ErrorCode::kUnsupported,
                "refused pickle global " + std::string(module) + "." + std::string(name) +
                    ": a PyTorch file may only rebuild tensors, storages, OrderedDicts and plain "
                    "containers (what torch.load(weights_only=True) allows); nothing was "
                    "executed" +
                    hint,
                {file_, {}, offset});
  }

  Ref reduce(Machine& m, Ref fn, Ref args_ref, uint64_t offset) override {
    const uint32_t id = m.at(fn).tag;
    const std::string fn_name = m.at(fn).text;
    const std::vector<Ref> args = m.at(args_ref).items;
    auto bad = [&](const std::string& why) -> Ref {
      throw FormatError("pickle: " + fn_name + ": " + why, {file_, {}, offset});
    };
    switch (id) {
      case kOrderedDict: {
        Object d{.kind = Kind::Dict, .offset = rel(m, offset)};
        if (args.size() == 1) {
          // OrderedDict([(k, v), …])
          const Object& list = m.at(args[0]);
          if (list.kind != Kind::List && list.kind != Kind::Tuple)
            bad("the argument is not a list of pairs");
          for (Ref pair : list.items) {
            const Object& p = m.at(pair);
            if ((p.kind != Kind::Tuple && p.kind != Kind::List) || p.items.size() != 2)
              bad("an item is not a (key, value) pair");
            d.items.push_back(p.items[0]);
            d.items.push_back(p.items[1]);
          }
        } else if (!args.empty()) {
          bad("expected no arguments or one list of pairs");
        }
        return m.make(std::move(d));
      }
      case kRebuildV2:
      case kRebuildV3:
        return rebuild_tensor(m, id == kRebuildV3, args, offset, bad);
      case kRebuildParameter:
      case kRebuildParameterWithState:
        if (args.size() != (id == kRebuildParameter ? 3u : 4u))
          bad("expected " + std::to_string(id == kRebuildParameter ? 3 : 4) + " arguments, got " +
              std::to_string(args.size()));
        if (!is_custom(m, args[0], kCustomTensor)) bad("the data is not a tensor");
        return args[0];
      case kTorchSize:
        if (args.size() != 1 ||
            (m.at(args[0]).kind != Kind::Tuple && m.at(args[0]).kind != Kind::List))
          bad("expected one tuple");
        return m.make(
            {.kind = Kind::Tuple, .items = m.at(args[0]).items, .offset = rel(m, offset)});
      case kCodecsEncode: {
        // _codecs.encode(text, "latin1"): how protocol 2 writes a Python 3 bytes object.
        if (args.size() != 2 || m.at(args[0]).kind != Kind::Str ||
            m.at(args[1]).kind != Kind::Str ||
            (m.at(args[1]).text != "latin1" && m.at(args[1]).text != "latin-1"))
          bad("only encode(str, 'latin1') is read");
        return m.make({.kind = Kind::Bytes,
                       .text = latin1(m.at(args[0]).text, bad),
                       .offset = rel(m, offset)});
      }
      default:
        return bad(
            "cannot be called (only OrderedDict, the tensor rebuilders, torch.Size and "
            "_codecs.encode are)");
    }
  }

  void build(Machine& m, Ref target, Ref state, uint64_t offset) override {
    // An OrderedDict's instance state: a state_dict's `_metadata` (module versions). Ignored.
    (void)state;
    if (m.at(target).kind != Kind::Dict)
      throw FormatError("pickle: BUILD (setting an object's state) is only read for dicts, not a " +
                            kind_name(m.at(target).kind),
                        {file_, {}, offset});
  }

  Ref persistent_load(Machine& m, Ref pid_ref, uint64_t offset) override {
    const Object& pid = m.at(pid_ref);
    auto bad = [&](const std::string& why) {
      throw FormatError("pickle: persistent id: " + why, {file_, {}, offset});
    };
    if (pid.kind != Kind::Tuple || pid.items.empty() || m.at(pid.items[0]).kind != Kind::Str)
      bad("not a tuple beginning with a string");
    const std::vector<Ref> id = pid.items;
    const std::string& tag = m.at(id[0]).text;
    if (tag == "module")
      throw Error(ErrorCode::kUnsupported,
                  "the file pickles a whole nn.Module (its class and source), not a state dict; "
                  "torch.save(model.state_dict()) instead",
                  {file_, {}, offset});
    if (tag != "storage") bad("unknown kind '" + tag + "' (only 'storage' is read)");
    if (id.size() != (legacy ? 6u : 5u))
      bad("a storage id has " + std::to_string(id.size()) + " fields, expected " +
          (legacy ? "6" : "5"));
    const Object& type = m.at(id[1]);
    if (type.kind != Kind::Global || type.tag < kStorageBase || type.tag >= kDTypeBase)
      bad("the storage type is not a storage class");
    if (m.at(id[2]).kind != Kind::Str) bad("the storage key is not a string");
    if (m.at(id[3]).kind != Kind::Str) bad("the storage location is not a string");
    if (m.at(id[4]).kind != Kind::Int || m.at(id[4]).integer < 0)
      bad("the storage size is not a non-negative integer");
    if (legacy && m.at(id[5]).kind != Kind::None)
      throw Error(ErrorCode::kUnsupported, "legacy storage views (view_metadata) are not supported",
                  {file_, {}, offset});
    const StorageType& st = kStorageTypes[type.tag - kStorageBase];
    StorageRef s;
    if (!storage_by_key.contains(m.at(id[2]).text))  // a new storage is kept: counted
      m.charge(sizeof(StorageRef) + 2 * m.at(id[2]).text.size() + kMapNodeBytes, rel(m, offset));
    s.key = m.at(id[2]).text;
    s.type_name = std::string(st.name);
    s.dtype = st.dtype;
    s.numel = static_cast<uint64_t>(m.at(id[4]).integer);
    s.pickle_offset = offset;
    if (s.dtype && __builtin_mul_overflow(s.numel, itemsize(*s.dtype), &s.nbytes))
      bad("the storage size overflows");
    uint32_t index;
    if (const auto it = storage_by_key.find(s.key); it != storage_by_key.end()) {
      index = it->second;
      const StorageRef& prev = storages[index];
      if (prev.type_name != s.type_name || prev.numel != s.numel)
        bad("storage '" + s.key + "' is used as " + prev.type_name + "(" +
            std::to_string(prev.numel) + ") and as " + s.type_name + "(" + std::to_string(s.numel) +
            ")");
    } else {
      index = static_cast<uint32_t>(storages.size());
      storage_by_key.emplace(s.key, index);
      storages.push_back(std::move(s));
    }
    return m.make(
        {.kind = Kind::Custom, .tag = kCustomStorage, .index = index, .offset = rel(m, offset)});
  }

 private:
  // Objects keep offsets relative to their pickle (the Machine adds its base in messages).
  static uint64_t rel(const Machine& m, uint64_t offset) { return offset - m.base(); }
  static bool is_custom(Machine& m, Ref r, uint32_t tag) {
    return m.at(r).kind == Kind::Custom && m.at(r).tag == tag;
  }

  template <class Bad>
  static std::string latin1(const std::string& utf8, Bad& bad) {
    std::string out;
    for (size_t i = 0; i < utf8.size();) {
      const auto c = static_cast<unsigned char>(utf8[i]);
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i;
      } else if ((c & 0xe0) == 0xc0 && i + 1 < utf8.size() && c <= 0xc3) {
        out +=
            static_cast<char>(((c & 0x1f) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3f));
        i += 2;
      } else {
        bad("the text is not latin-1");
      }
    }
    return out;
  }

  template <class Bad>
  Ref rebuild_tensor(Machine& m, bool v3, const std::vector<Ref>& args, uint64_t offset, Bad& bad) {
    const size_t base = v3 ? 7 : 6;
    if (args.size() != base && args.size() != base + 1)
      bad("expected " + std::to_string(base) + " or " + std::to_string(base + 1) +
          " arguments, got " + std::to_string(args.size()));
    if (!is_custom(m, args[0], kCustomStorage)) bad("the first argument is not a storage");
    TensorRef t;
    t.storage = m.at(args[0]).index;
    t.pickle_offset = offset;
    const StorageRef& s = storages[t.storage];
    t.dtype = s.dtype;
    t.dtype_name = s.type_name;
    if (m.at(args[1]).kind != Kind::Int) bad("the storage offset is not an integer");
    t.offset = m.at(args[1]).integer;
    auto ints = [&](Ref r, const char* what) {
      const Object& o = m.at(r);
      if (o.kind != Kind::Tuple && o.kind != Kind::List) bad(std::string(what) + " is not a tuple");
      if (o.items.size() > 64) bad(std::string(what) + " has more than 64 dimensions");
      std::vector<int64_t> v;
      for (Ref x : o.items) {
        if (m.at(x).kind != Kind::Int) bad(std::string(what) + " holds a non-integer");
        v.push_back(m.at(x).integer);
      }
      return v;
    };
    t.sizes = ints(args[2], "the size");
    t.strides = ints(args[3], "the stride");
    if (t.sizes.size() != t.strides.size())
      bad("size and stride differ in length (" + std::to_string(t.sizes.size()) + " and " +
          std::to_string(t.strides.size()) + ")");
    if (v3) {
      const Object& d = m.at(args[6]);
      if (d.kind != Kind::Global || d.tag < kDTypeBase) bad("the dtype is not a torch dtype");
      t.dtype = kDTypes[d.tag - kDTypeBase].dtype;
      t.dtype_name = "torch." + std::string(kDTypes[d.tag - kDTypeBase].name);
    }
    if (args.size() == base + 1) {
      // metadata: {"conj": bool, "neg": bool} when set. A set bit changes the values.
      const Object& md = m.at(args[base]);
      if (md.kind == Kind::Dict) {
        for (size_t i = 0; i + 1 < md.items.size(); i += 2) {
          const Object& v = m.at(md.items[i + 1]);
          if (v.kind == Kind::Bool && v.boolean)
            throw Error(ErrorCode::kUnsupported,
                        "a tensor with the '" + m.at(md.items[i]).text +
                            "' bit set (resolve_conj()/resolve_neg() before saving)",
                        {file_, {}, offset});
        }
      } else if (md.kind != Kind::None) {
        bad("the metadata is not a dict");
      }
    }
    m.charge(sizeof(TensorRef) + t.dtype_name.size() +
                 (t.sizes.size() + t.strides.size()) * sizeof(int64_t),
             rel(m, offset));
    const uint32_t index = static_cast<uint32_t>(tensors.size());
    tensors.push_back(std::move(t));
    return m.make(
        {.kind = Kind::Custom, .tag = kCustomTensor, .index = index, .offset = rel(m, offset)});
  }

  const std::string& file_;
};

// The bytes behind one torch storage, once located.
struct StorageBytes {
  bool located = false;
  uint64_t file_offset = 0;        // stored in the file, little-endian: view from here
  std::shared_ptr<Storage> owned;  // or materialised (inflated, byte-swapped)
};

void byteswap(std::byte* p, size_t nbytes, size_t item) {
  if (item <= 1) return;
  for (size_t i = 0; i + item <= nbytes; i += item) std::reverse(p + i, p + i + item);
}

class Loader {
 public:
  Loader(const std::shared_ptr<MappedFile>& file, const LoadOptions& options)
      : file_(file),
        path_(file->path().string()),
        bytes_(file->data(), file->size()),
        options_(options),
        policy_(path_) {
    const uint64_t doubled =
        file->size() > (uint64_t{1} << 62) ? uint64_t{1} << 62 : 2 * file->size();
    budget_ = kMaterialiseBaseBytes + doubled;
    pickle_left_ =
        kPickleBaseBytes + std::min(file->size(), kMaxPickleBytes) * kPickleBytesPerFileByte;
  }

  NamedTensors read() {
    Ref root;
    std::optional<Machine> machine;
    if (is_legacy(bytes_)) {
      root = read_legacy(machine);
    } else if (zip::is_zip(bytes_)) {
      root = read_zip(machine);
    } else {
      throw FormatError(
          "not a PyTorch file: neither a zip archive nor the legacy pickle layout (a PyTorch "
          "file starts with 'PK\\x03\\x04' or with the pickled magic number "
          "0x1950a86a20f9469cfc6c)",
          {path_, {}, 0});
    }
    return flatten(*machine, root);
  }

 private:
  [[noreturn]] void fail(const std::string& reason, const std::string& tensor = {},
                         std::optional<uint64_t> offset = std::nullopt) const {
    throw FormatError(reason, {path_, tensor, offset});
  }

  // ---- zip ----

  Ref read_zip(std::optional<Machine>& machine) {
    const zip::Archive archive = zip::read_directory(bytes_, path_);
    if (archive.entries.empty()) fail("the zip archive is empty (no data.pkl)", {}, 0);
    // torch's reader: the folder of the first record names the archive.
    const std::string& first = archive.entries.front().name;
    const size_t slash = first.find('/');
    if (slash == std::string::npos)
      fail("the first zip entry '" + first +
               "' is not inside a folder (torch.save puts every "
               "record under one)",
           {}, archive.entries.front().header_offset);
    const std::string prefix = first.substr(0, slash + 1);
    for (const zip::Entry& e : archive.entries)
      if (e.name == prefix + "constants.pkl" || e.name.starts_with(prefix + "code/"))
        throw Error(ErrorCode::kUnsupported,
                    "a TorchScript archive (torch.jit.save), not a torch.save file: load it with "
                    "torch.jit.load and torch.save its state_dict()",
                    {path_, {}, e.header_offset});
    const zip::Entry* pkl = archive.find(prefix + "data.pkl");
    if (!pkl) fail("no '" + prefix + "data.pkl' record in the zip archive", {}, 0);
    if (const zip::Entry* bo = archive.find(prefix + "byteorder")) {
      const auto text = zip::extract(bytes_, *bo, path_, 16, true);
      const std::string_view order(reinterpret_cast<const char*>(text.data()), text.size());
      if (order == "big")
        big_endian_ = true;
      else if (order != "little")
        fail("the byteorder record says '" + std::string(order.substr(0, 16)) +
                 "' (expected little or big)",
             {}, bo->data_offset);
    }
    // An inflated data.pkl is memory the file does not hold: counted with the objects.
    const uint64_t inflated = pkl->method == zip::kStored ? 0 : pkl->size;
    if (inflated > pickle_left_)
      fail("data.pkl inflates to " + std::to_string(inflated) + " bytes, more than the " +
               std::to_string(pickle_left_) + " bytes the pickle may take (" + pickle_budget() +
               ")",
           {}, pkl->header_offset);
    std::vector<std::byte> pickle_bytes = zip::extract(
        bytes_, *pkl, path_, std::min(kMaxPickleBytes, pickle_left_), /*check_crc=*/true);
    pickle_owned_ = std::move(pickle_bytes);
    pickle_left_ -= inflated;
    // Offsets in messages are file offsets when data.pkl is stored (always, from torch).
    const uint64_t base = pkl->method == zip::kStored ? pkl->data_offset : 0;
    machine.emplace(std::span<const std::byte>(pickle_owned_), path_, prefix + "data.pkl", base,
                    policy_, pickle_left_, pickle_budget());
    const Ref root = machine->run();
    pickle_left_ -= machine->bytes_used();
    if (machine->consumed() != pickle_owned_.size())
      fail("data.pkl has " + std::to_string(pickle_owned_.size() - machine->consumed()) +
               " bytes after its STOP opcode",
           {}, base + machine->consumed());
    // Each storage's record: present, and exactly numel × itemsize bytes.
    located_.resize(policy_.storages.size());
    for (size_t i = 0; i < policy_.storages.size(); ++i) {
      const StorageRef& s = policy_.storages[i];
      const zip::Entry* e = archive.find(prefix + "data/" + s.key);
      if (!e)
        fail("storage '" + s.key + "' has no record '" + prefix + "data/" + s.key + "'", {},
             s.pickle_offset);
      if (!s.dtype) continue;  // refused when a tensor uses it, naming the tensor
      if (e->size != s.nbytes)
        fail("the record '" + e->name + "' holds " + std::to_string(e->size) +
                 " bytes but the pickle says " + s.type_name + "(" + std::to_string(s.numel) +
                 "), " + std::to_string(s.nbytes) + " bytes",
             {}, e->data_offset);
      if (options_.crc_check && e->method == zip::kStored && !zip::crc_matches(bytes_, *e))
        fail("CRC-32 mismatch in the record '" + e->name + "' (the file was modified)", {},
             e->data_offset);
      StorageBytes& sb = located_[i];
      sb.located = true;
      if (e->method == zip::kStored && !big_endian_) {
        sb.file_offset = e->data_offset;
      } else {
        charge(e->size, {}, e->data_offset);
        std::vector<std::byte> raw = zip::extract(bytes_, *e, path_, e->size, options_.crc_check);
        sb.owned = Storage::allocate(raw.size(), false);
        if (!raw.empty()) std::memcpy(sb.owned->data(), raw.data(), raw.size());
        if (big_endian_) byteswap(sb.owned->data(), raw.size(), itemsize(*s.dtype));
      }
    }
    return root;
  }

  // ---- legacy ----

  Ref read_legacy(std::optional<Machine>& machine) {
    policy_.legacy = true;
    uint64_t pos = 0;
    // The magic number, the protocol version and sys_info: each its own pickle.
    auto header_pickle = [&](const char* what) {
      Machine m(bytes_.subspan(pos), path_, what, pos, policy_, pickle_left_, pickle_budget());
      const Ref r = m.run();
      pickle_left_ -= m.bytes_used();
      Object o = m.at(r);
      pos += m.consumed();
      return o;
    };
    const Object magic = header_pickle("the magic number");
    if (magic.kind != Kind::BigInt || magic.text != kLegacyMagic)
      fail("bad legacy magic number (corrupt file?)", {}, 0);
    const uint64_t version_at = pos;
    const Object version = header_pickle("the protocol version");
    if (version.kind != Kind::Int || version.integer != kLegacyProtocol)
      fail("legacy protocol version " +
               (version.kind == Kind::Int ? std::to_string(version.integer) : "?") +
               " (only 1001 is read)",
           {}, version_at);
    const uint64_t sys_at = pos;
    if (header_pickle("sys_info").kind != Kind::Dict)
      fail("the legacy sys_info record is not a dict", {}, sys_at);
    const uint64_t main_at = pos;
    machine.emplace(bytes_.subspan(pos), path_, "the object", pos, policy_, pickle_left_,
                    pickle_budget());
    const Ref root = machine->run();
    pickle_left_ -= machine->bytes_used();
    pos += machine->consumed();
    // The storage keys, in the order their bytes follow.
    const uint64_t keys_at = pos;
    Machine keys_machine(bytes_.subspan(pos), path_, "the storage keys", pos, policy_, pickle_left_,
                         pickle_budget());
    const Ref keys_ref = keys_machine.run();
    pos += keys_machine.consumed();
    const Object& keys = keys_machine.at(keys_ref);
    if (keys.kind != Kind::List) fail("the legacy storage key list is not a list", {}, keys_at);
    located_.resize(policy_.storages.size());
    for (Ref k : keys.items) {
      const Object& key = keys_machine.at(k);
      if (key.kind != Kind::Str) fail("a legacy storage key is not a string", {}, keys_at);
      const auto it = policy_.storage_by_key.find(key.text);
      if (it == policy_.storage_by_key.end())
        fail("the storage key list names '" + key.text + "', which the pickle never used", {},
             keys_at);
      const StorageRef& s = policy_.storages[it->second];
      StorageBytes& sb = located_[it->second];
      if (sb.located) fail("the storage key list names '" + key.text + "' twice", {}, keys_at);
      if (!s.dtype)
        throw Error(ErrorCode::kUnsupported,
                    "storage '" + s.key + "' is a " + s.type_name + ", which cellar cannot hold",
                    {path_, {}, s.pickle_offset});
      if (pos > bytes_.size() || bytes_.size() - pos < 8)
        fail("storage '" + s.key + "': its length prefix runs past the end of the file", {}, pos);
      uint64_t numel;
      std::memcpy(&numel, bytes_.data() + pos, 8);
      if (numel != s.numel)
        fail("storage '" + s.key + "' has " + std::to_string(numel) + " elements in the file but " +
                 std::to_string(s.numel) + " in the pickle",
             {}, pos);
      pos += 8;
      if (s.nbytes > bytes_.size() - pos)
        fail("storage '" + s.key + "' (" + std::to_string(s.nbytes) +
                 " bytes) runs past the end of the file",
             {}, pos);
      sb.located = true;
      sb.file_offset = pos;
      pos += s.nbytes;
    }
    if (pos != bytes_.size())
      fail(std::to_string(bytes_.size() - pos) + " bytes after the last storage", {}, pos);
    for (size_t i = 0; i < policy_.storages.size(); ++i)
      if (!located_[i].located && policy_.storages[i].dtype)
        fail("storage '" + policy_.storages[i].key + "' is not in the storage key list", {},
             policy_.storages[i].pickle_offset);
    (void)main_at;
    return root;
  }

  static std::string pickle_budget() {
    return "the budget of a PyTorch load: " + std::to_string(kPickleBaseBytes) + " bytes plus " +
           std::to_string(kPickleBytesPerFileByte) + " times the file's size";
  }

  // ---- tensors ----

  void charge(uint64_t nbytes, const std::string& tensor, std::optional<uint64_t> offset) {
    if (nbytes > budget_)
      fail("materialising " + std::to_string(nbytes) + " bytes would pass the load's budget of " +
               std::to_string(kMaterialiseBaseBytes) +
               " bytes plus twice the file's size (a view expanding a small storage?)",
           tensor, offset);
    budget_ -= nbytes;
  }

  Tensor make_tensor(const TensorRef& t, const std::string& name) {
    const StorageRef& s = policy_.storages[t.storage];
    const uint64_t at = t.pickle_offset;
    if (!t.dtype || !s.dtype)
      throw Error(ErrorCode::kUnsupported,
                  "dtype " + t.dtype_name +
                      " has no cellar type (complex, quantized and float8 "
                      "tensors are not read)",
                  {path_, name, at});
    const DType dtype = *t.dtype;
    const size_t item = itemsize(dtype);
    const StorageBytes& sb = located_[t.storage];
    if (!sb.located) fail("the tensor's storage '" + s.key + "' has no bytes", name, at);
    if (t.offset < 0) fail("negative storage offset " + std::to_string(t.offset), name, at);
    for (size_t i = 0; i < t.sizes.size(); ++i)
      if (t.sizes[i] < 0 || t.strides[i] < 0)
        fail("negative size or stride in dimension " + std::to_string(i), name, at);
    const Shape shape(t.sizes);
    const std::optional<int64_t> numel = shape.checked_numel();
    if (!numel) fail("the element count overflows", name, at);
    if (*numel == 0) return Tensor(dtype, shape);
    // The storage in elements of the tensor's dtype (v3 views an UntypedStorage of bytes).
    const uint64_t storage_elems = s.nbytes / item;
    uint64_t last = static_cast<uint64_t>(t.offset);  // the highest element index reached
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      uint64_t span;
      if (__builtin_mul_overflow(static_cast<uint64_t>(t.sizes[i] - 1),
                                 static_cast<uint64_t>(t.strides[i]), &span) ||
          __builtin_add_overflow(last, span, &last))
        fail("the view's extent overflows", name, at);
    }
    if (last >= storage_elems)
      fail("the view (offset " + std::to_string(t.offset) + ", size " + shape.str() + ", stride " +
               Shape(t.strides).str() + ") reaches element " + std::to_string(last) +
               " of a storage of " + std::to_string(storage_elems) + " (" + s.type_name + " '" +
               s.key + "')",
           name, at);
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t i = t.sizes.size(); i-- > 0;) {
      if (t.sizes[i] != 1 && t.strides[i] != expect) contiguous = false;
      expect *= t.sizes[i];
    }
    const uint64_t nbytes = static_cast<uint64_t>(*numel) * item;
    const uint64_t byte_offset = static_cast<uint64_t>(t.offset) * item;
    if (contiguous) {
      if (sb.owned) return Tensor(dtype, shape, sb.owned, byte_offset);
      const uint64_t off = sb.file_offset + byte_offset;
      const bool aligned = reinterpret_cast<uintptr_t>(file_->data() + off) % item == 0;
      return Tensor(dtype, shape,
                    aligned ? Storage::view(file_, off, nbytes)
                            : Storage::deferred_copy(file_, {{off, nbytes}}, nbytes));
    }
    // A strided view: gathered into C order.
    charge(nbytes, name, at);
    Tensor out(dtype, shape);
    const std::byte* src = sb.owned ? sb.owned->data() : file_->data() + sb.file_offset;
    std::byte* dst = out.raw_data();
    const size_t rank = t.sizes.size();
    std::vector<int64_t> index(rank, 0);
    uint64_t from = static_cast<uint64_t>(t.offset);
    for (int64_t n = 0; n < *numel; ++n) {
      std::memcpy(dst + static_cast<size_t>(n) * item, src + from * item, item);
      for (size_t d = rank; d-- > 0;) {
        from += static_cast<uint64_t>(t.strides[d]);
        if (++index[d] < t.sizes[d]) break;
        from -= static_cast<uint64_t>(t.strides[d]) * static_cast<uint64_t>(t.sizes[d]);
        index[d] = 0;
      }
    }
    return out;
  }

  // ---- the object, flattened ----

  NamedTensors flatten(Machine& m, Ref root) {
    NamedTensors out;
    std::unordered_set<std::string> names;
    struct Item {
      Ref ref;
      std::string name;
      int depth;
    };
    std::vector<Item> todo;
    const Object& r = m.at(root);
    if (r.kind == Kind::Custom && r.tag == kCustomTensor) {
      todo.push_back({root, file_->path().stem().string(), 0});
    } else if (r.kind == Kind::Dict || r.kind == Kind::List || r.kind == Kind::Tuple) {
      todo.push_back({root, "", 0});
    } else {
      fail("the file holds a " + kind_name(r.kind) + ", not a dict, list or tensor", {},
           m.base() + r.offset);
    }
    // Entries' names join their containers' keys: shared containers with long keys (a few KiB of
    // pickle) could name millions of entries megabytes long. Names and entries are counted
    // against what is left of the pickle's budget, before each is made.
    flatten_left_ = pickle_left_;
    size_t visits = 0;
    while (!todo.empty()) {
      Item it = std::move(todo.back());
      todo.pop_back();
      if (++visits > kMaxEntries)
        fail("more than " + std::to_string(kMaxEntries) +
                 " objects to flatten (shared containers repeated without end?)",
             it.name);
      const Object& o = m.at(it.ref);
      auto child = [&](const std::string& key) {
        spend(it.name.size() + 1 + key.size() + sizeof(Item), it.name);
        return it.name.empty() ? key : it.name + "." + key;
      };
      switch (o.kind) {
        case Kind::Dict:
        case Kind::List:
        case Kind::Tuple: {
          if (it.depth >= kMaxDepth)
            fail("containers nested deeper than " + std::to_string(kMaxDepth) +
                     " (a cycle, or a recursion bomb)",
                 it.name);
          std::vector<Item> kids;
          if (o.kind == Kind::Dict) {
            for (size_t i = 0; i + 1 < o.items.size(); i += 2) {
              const Object& k = m.at(o.items[i]);
              std::string key;
              if (k.kind == Kind::Str)
                key = k.text;
              else if (k.kind == Kind::Int)
                key = std::to_string(k.integer);
              else
                fail("a dict key is a " + kind_name(k.kind) +
                         " (only str and int keys name "
                         "entries)",
                     it.name, m.base() + k.offset);
              kids.push_back({o.items[i + 1], child(key), it.depth + 1});
            }
          } else {
            for (size_t i = 0; i < o.items.size(); ++i)
              kids.push_back({o.items[i], child(std::to_string(i)), it.depth + 1});
          }
          for (size_t i = kids.size(); i-- > 0;) todo.push_back(std::move(kids[i]));
          break;
        }
        case Kind::Custom:
          if (o.tag == kCustomTensor) {
            add(out, names, it.name, make_tensor(policy_.tensors[o.index], it.name),
                m.base() + o.offset);
          }
          break;  // a bare storage: skipped
        case Kind::Int:
          add(out, names, it.name, Tensor::scalar<int64_t>(o.integer), m.base() + o.offset);
          break;
        case Kind::Float:
          add(out, names, it.name, Tensor::scalar<double>(o.real), m.base() + o.offset);
          break;
        case Kind::Bool:
          add(out, names, it.name, Tensor::scalar<bool>(o.boolean), m.base() + o.offset);
          break;
        case Kind::Str:
          add(out, names, it.name, Tensor::from_string(o.text), m.base() + o.offset);
          break;
        default:
          break;  // None, bytes, sets, big integers, globals: no tensor form
      }
    }
    return out;
  }

  // Counts n bytes of the flattening against flatten_left_.
  void spend(uint64_t n, const std::string& name, std::optional<uint64_t> offset = std::nullopt) {
    if (n > flatten_left_)
      fail("flattening the pickled object would take more than the " +
               std::to_string(pickle_left_) + " bytes left for it (" + pickle_budget() +
               "; long names repeated through shared containers?)",
           name.substr(0, 200), offset);
    flatten_left_ -= n;
  }

  void add(NamedTensors& out, std::unordered_set<std::string>& names, const std::string& name,
           Tensor t, uint64_t offset) {
    spend(2 * name.size() + kEntryBytes, name, offset);
    if (!names.insert(name).second)
      fail("two entries flatten to the name '" + name + "'", name, offset);
    if (out.size() >= kMaxEntries)
      fail("more than " + std::to_string(kMaxEntries) + " entries", name, offset);
    out.emplace_back(name, std::move(t));
  }

  std::shared_ptr<MappedFile> file_;
  std::string path_;
  std::span<const std::byte> bytes_;
  const LoadOptions& options_;
  TorchPolicy policy_;
  bool big_endian_ = false;
  std::vector<std::byte> pickle_owned_;
  std::vector<StorageBytes> located_;
  uint64_t budget_ = 0;
  uint64_t pickle_left_ = 0;   // of the memory the pickles' objects may take
  uint64_t flatten_left_ = 0;  // of that, for the flattened entries and their names
};

class PytorchFormat final : public CheckpointFormat {
 public:
  std::string_view name() const override { return "pytorch"; }
  bool sniff(std::span<const std::byte> head) const override {
    if (is_legacy(head)) return true;
    // A zip whose first entry sits in a folder (torch.save's "<stem>/data.pkl"); the name may be
    // longer than `head`, so what is visible of it is checked. The reader says what is missing.
    if (!zip::is_zip(head) || head.size() < 30) return false;
    uint16_t name_len;
    std::memcpy(&name_len, head.data() + 26, 2);
    const size_t visible = std::min<size_t>(name_len, head.size() - 30);
    const std::string_view name(reinterpret_cast<const char*>(head.data() + 30), visible);
    const size_t slash = name.find('/');
    return slash != std::string_view::npos && slash != 0;
  }
  NamedTensors read(const std::shared_ptr<MappedFile>& file,
                    const LoadOptions& options) const override {
    return Loader(file, options).read();
  }
  void write(const NamedTensors&, ByteSink&, const SaveOptions&, const EntryBytes&) const override {
    throw ValueError(ErrorCode::kUnsupported,
                     "cellar reads PyTorch files but does not write them: save as .ckpt or "
                     ".safetensors");
  }
};

}  // namespace

bool is_legacy(std::span<const std::byte> head) {
  // PROTO n, then (protocol 4 and 5) FRAME and its 8-byte length, then the magic number.
  if (head.size() < 2 + kLegacyMagicOp.size() || head[0] != std::byte{0x80}) return false;
  for (size_t at : {size_t{2}, size_t{11}})
    if (head.size() >= at + kLegacyMagicOp.size() &&
        std::memcmp(head.data() + at, kLegacyMagicOp.data(), kLegacyMagicOp.size()) == 0)
      return true;
  return false;
}

}  // namespace pytorch

const CheckpointFormat& pytorch_format() {
  static const pytorch::PytorchFormat format;
  return format;
}

}  // namespace cellar::formats
