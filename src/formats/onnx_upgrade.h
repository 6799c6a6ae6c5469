// Reading ONNX files of old opsets (6 to 12): each node is rewritten, at import, into the form
// it has in opset 13, the oldest opset the import rules of the op table know (private to
// src/formats). ONNX Runtime reads opset 7 on; the `onnx` wheel's own backend test data and many
// PyTorch exports of 2018-2020 are opsets 6 to 12.
//
// What changes between those opsets and 13 (onnx/defs/*/old.cc), and what is done with it:
//   Add Sub Mul Div Pow And Or Xor Equal Greater Less < 7: `broadcast` / `axis` (the legacy
//       broadcast aligns B at `axis`): B gets trailing size-1 axes (an Unsqueeze), the numpy
//       rule then gives the same result
//   Gemm < 7: `broadcast` dropped (C broadcasts either way)
//   BatchNormalization < 7: `is_test` (0, training, is refused), `consumed_inputs` dropped;
//       < 9: `spatial` (0, per-activation statistics, is refused)
//   Dropout < 7: `is_test` (0 refused); < 12: `ratio` dropped (the identity at inference)
//   Clip < 11: `min` / `max` attributes → inputs 1, 2 (constants of the input's dtype)
//   Pad < 11: `pads` / `value` attributes → inputs 1, 2
//   Slice < 10: `starts` / `ends` / `axes` attributes → inputs 1, 2, 3
//   Split, Squeeze, Unsqueeze, ReduceSum < 13: `split` / `axes` attribute → input 1
//   Softmax LogSoftmax Hardmax < 13: the input was coerced to 2-D at `axis` (default 1): a node
//       whose axis is not the last becomes Flatten → op(axis -1) → Reshape to Shape(x)
//   Upsample (deprecated in 10): refused, as cellar has no Resize
// Every other op reads the same in its old and its opset-13 form (or has no import rule, and is
// refused by the reader as an unknown op type).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class NodeProto;
}

namespace cellar::formats {

// Opsets below this are upgraded; every node the upgrade returns is in this opset's form.
inline constexpr int64_t kOnnxUpgradeTarget = 13;

// What the upgrade asks the reader about the values a node reads (already imported, as nodes
// come in topological order), and how it reports a node it cannot upgrade (both must throw).
struct OnnxUpgradeContext {
  std::function<int64_t(const std::string& name)> rank;
  std::function<int64_t(const std::string& name)> elem_type;  // TensorProto.DataType number
  std::function<std::string(const std::string& hint)> fresh;  // a name nothing else has
  std::function<void(const std::string& why)> fail;           // FormatError, naming the node
  std::function<void(const std::string& why)> unsupported;    // kUnsupported, naming the node
};

// `node` of a model declaring `opset` (< kOnnxUpgradeTarget) as one or more nodes in opset-13
// form (Constant nodes first for the attributes that became inputs). Empty: the node reads the
// same in opset 13.
std::vector<onnx::NodeProto> upgrade_onnx_node(const onnx::NodeProto& node, int64_t opset,
                                               const OnnxUpgradeContext& ctx);

}  // namespace cellar::formats
