// The header fields of a .mindir or .onnx ModelProto that the graph readers do not keep: who
// produced the file, and which IR / opset versions it declares. Read by walking the top-level
// protobuf fields of the file by hand (every length checked against the bytes left; the graph,
// however large, is skipped, never parsed).
//
// Field numbers (ONNX's onnx.proto and MindSpore's mind_ir.proto agree on 1-5):
//   1 ir_version (ONNX: varint; MindIR: string)   2 producer_name   3 producer_version
//   4 domain   5 model_version (ONNX: varint; MindIR: string)
//   ONNX 8 opset_import { 1 domain, 2 version }   MindIR 13 mind_ir_version (varint)
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cellar::cli {

struct ModelHeader {
  std::string ir_version;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::string model_version;
  std::string mind_ir_version;                            // MindIR only
  std::vector<std::pair<std::string, long long>> opsets;  // ONNX only: (domain, version)
};

// `onnx` selects the ONNX reading of fields 1, 5 and 8. Stops quietly at the first malformed
// field (the graph reader reports what is wrong; this only collects what it can).
ModelHeader read_model_header(std::span<const std::byte> bytes, bool onnx);

}  // namespace cellar::cli
