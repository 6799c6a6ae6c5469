#include "ops/nn/activation.h"

namespace cellar::ops {

MindIRVariant same_function_variant(const std::string& primitive) {
  return {.spelling = {.primitive = primitive},
          .read = [](ir::Attrs&, std::span<const TensorType>) {},
          .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }};
}

std::string onnx_step(OnnxBuilder& b, const std::string& hint, const std::string& op_type,
                      const std::vector<std::string>& inputs, const OnnxAttrs& attrs) {
  const std::string out = b.fresh(hint);
  b.add(op_type, inputs, {out}, attrs);
  return out;
}

}  // namespace cellar::ops
