// MindIR: the MindIRFormat interface's sniffer, the dtype numbering both directions share, and
// the size limit. The layout is described in formats/mindir.h.
#include <algorithm>
#include <iterator>
#include <string>

#include "formats/mindir/mindir_impl.h"

namespace cellar::formats {

namespace mindir {

std::optional<DType> dtype_from_mindir(int64_t t) {
  switch (t) {
    case pb::TensorProto::FLOAT:
      return DType::Float32;
    case pb::TensorProto::UINT8:
      return DType::UInt8;
    case pb::TensorProto::INT8:
      return DType::Int8;
    case pb::TensorProto::UINT16:
      return DType::UInt16;
    case pb::TensorProto::INT16:
      return DType::Int16;
    case pb::TensorProto::INT32:
      return DType::Int32;
    case pb::TensorProto::INT64:
      return DType::Int64;
    case pb::TensorProto::BOOL:
      return DType::Bool;
    case pb::TensorProto::FLOAT16:
      return DType::Float16;
    case pb::TensorProto::DOUBLE:
      return DType::Float64;  // what MindSpore writes for float64
    case pb::TensorProto::UINT32:
      return DType::UInt32;
    case pb::TensorProto::UINT64:
      return DType::UInt64;
    case pb::TensorProto::BFLOAT16:
      return DType::BFloat16;
    case pb::TensorProto::FLOAT64:
      return DType::Float64;
    default:
      return std::nullopt;
  }
}

std::optional<int> dtype_to_mindir(DType t) {
  switch (t) {
    case DType::Bool:
      return pb::TensorProto::BOOL;
    case DType::Int8:
      return pb::TensorProto::INT8;
    case DType::Int16:
      return pb::TensorProto::INT16;
    case DType::Int32:
      return pb::TensorProto::INT32;
    case DType::Int64:
      return pb::TensorProto::INT64;
    case DType::UInt8:
      return pb::TensorProto::UINT8;
    case DType::UInt16:
      return pb::TensorProto::UINT16;
    case DType::UInt32:
      return pb::TensorProto::UINT32;
    case DType::UInt64:
      return pb::TensorProto::UINT64;
    case DType::Float16:
      return pb::TensorProto::FLOAT16;
    case DType::BFloat16:
      return pb::TensorProto::BFLOAT16;
    case DType::Float32:
      return pb::TensorProto::FLOAT;
    case DType::Float64:
      return pb::TensorProto::DOUBLE;
    case DType::String:
      return std::nullopt;
  }
  return std::nullopt;
}

// MindSpore's TypeId enum (mindspore/core/ir/dtype/type_id.h; the numbers MindSpore 2.10's
// dtype_to_type_id gives, and the same since 1.x).
namespace {
constexpr std::pair<DType, int64_t> kTypeIds[] = {
    {DType::Bool, 30},     {DType::Int8, 32},    {DType::Int16, 33},   {DType::Int32, 34},
    {DType::Int64, 35},    {DType::UInt8, 37},   {DType::UInt16, 38},  {DType::UInt32, 39},
    {DType::UInt64, 40},   {DType::Float16, 42}, {DType::Float32, 43}, {DType::Float64, 44},
    {DType::BFloat16, 45}, {DType::String, 12}};
}  // namespace

std::optional<DType> dtype_from_type_id(int64_t id) {
  for (const auto& [dt, n] : kTypeIds)
    if (n == id) return dt;
  return std::nullopt;
}

std::optional<int64_t> type_id_of(DType t) {
  for (const auto& [dt, n] : kTypeIds)
    if (dt == t) return n;
  return std::nullopt;
}

bool is_integer_attr_type(int t) {
  switch (t) {
    case AttrType::UINT8:
    case AttrType::INT8:
    case AttrType::UINT16:
    case AttrType::INT16:
    case AttrType::INT32:
    case AttrType::INT64:
    case AttrType::UINT32:
    case AttrType::UINT64:
    case AttrType::BOOL:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void too_big(const std::string& file, uint64_t n) {
  throw Error(
      ErrorCode::kUnsupported,
      "MindIR model of " + std::to_string(n) +
          " bytes is over protobuf's 2 GiB limit (a model whose weights go to external files "
          "should not reach it: are the constants that large?)",
      {.file = file});
}

}  // namespace mindir

bool MindIRFormat::sniff(std::span<const std::byte> head) const {
  if (head.empty()) return false;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(head[i]); };
  // Tags of ModelProto fields: length-delimited 1-9, 11, 12, 14; varint 10, 13.
  static constexpr uint8_t kTags[] = {0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A,
                                      0x42, 0x4A, 0x50, 0x5A, 0x62, 0x68, 0x72};
  if (std::find(std::begin(kTags), std::end(kTags), b(0)) == std::end(kTags)) return false;
  if (b(0) != 0x0A) return true;
  // ir_version first (ours and MindSpore's): a short printable string. This tells a MindIR
  // file from a checkpoint, whose first field 1 is a message starting with a tag byte.
  if (head.size() < 2 || b(1) == 0 || b(1) > 32) return false;
  for (size_t i = 2; i < head.size() && i < 2 + static_cast<size_t>(b(1)); ++i)
    if (b(i) < 0x20 || b(i) > 0x7E) return false;
  return true;
}

const GraphFormat& mindir_format() {
  static const MindIRFormat format;
  return format;
}

}  // namespace cellar::formats
