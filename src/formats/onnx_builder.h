// The ONNX format's side of the op spellings (private to src/formats): the opsets, dtype
// numbers, and the protobuf implementation of ops::OnnxBuilder (ops/onnx_spelling.h). The reader
// implements ops::OnnxImporter in onnx.cpp; the rules the ONNX format reads with no op table row
// of their own (Gemm, Slice, Shape, …) are in onnx_rules.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/tensor.h"
#include "ops/onnx_spelling.h"

namespace onnx {
class GraphProto;
class NodeProto;
class AttributeProto;
class TensorProto;
}  // namespace onnx

namespace cellar::formats {

// The opset cellar writes (ONNX 1.12 / IR version 8, the schema Debian's libonnx-dev ships) and
// the range it reads.
inline constexpr int64_t kOnnxWriteOpset = 17;
inline constexpr int64_t kOnnxMinReadOpset = 6;  // below 13: upgraded (onnx_upgrade.h)
inline constexpr int64_t kOnnxMaxReadOpset = 25;

// TensorProto.DataType numbers ↔ cellar dtypes (nullopt: no counterpart).
std::optional<DType> dtype_from_onnx(int64_t t);
std::optional<int> dtype_to_onnx(DType t);
// dims, data_type, raw_data (little-endian C order) and `name`; ExportError for String tensors.
// With `with_data` false, everything but raw_data (the writer places the bytes in external data).
void fill_onnx_tensor(onnx::TensorProto& out, const Tensor& t, const std::string& name,
                      bool with_data = true);

// The rule for an ONNX op type that no op table row reads (onnx_rules.cpp); null when none.
const ops::OnnxImportFn* find_onnx_format_rule(const std::string& op_type);
std::vector<std::string> onnx_format_rule_types();  // sorted

// The ONNX writer's OnnxBuilder: collects nodes and initializers into a GraphProto.
class GraphProtoBuilder final : public ops::OnnxBuilder {
 public:
  GraphProtoBuilder(const ir::Graph& graph, onnx::GraphProto& out);

  const ir::Graph& graph() const override { return g_; }
  const ir::ValueInfo& info(int value) const override;
  const std::string& name(int value) const override;
  bool used(int value) const override;
  int64_t opset() const override { return kOnnxWriteOpset; }
  std::optional<int64_t> dtype_code(DType t) const override {
    const auto c = dtype_to_onnx(t);
    return c ? std::optional<int64_t>(*c) : std::nullopt;
  }
  std::string fresh(const std::string& hint) override;
  std::string constant(const std::string& hint, const Tensor& t) override;
  void add(const std::string& op_type, const std::vector<std::string>& inputs,
           const std::vector<std::string>& outputs, const ops::OnnxAttrs& attrs = {}) override;

 private:
  const ir::Graph& g_;
  onnx::GraphProto& out_;
  std::vector<std::string> names_;
  std::vector<int> uses_;
  std::set<std::string> taken_;
};

}  // namespace cellar::formats
