#include "cellar/op_catalog.h"

#include "formats/onnx_builder.h"
#include "ops/op_table.h"

namespace cellar {

std::vector<OpInfo> op_catalog() {
  const auto& table = ops::op_table();
  std::vector<OpInfo> out;
  for (const auto& name : table.names()) {  // sorted: the table is a map
    const ops::OpDef& d = *table.find(name);
    if (d.internal) continue;
    OpInfo i{.name = d.name,
             .min_inputs = d.min_inputs,
             .max_inputs = d.max_inputs,
             .num_outputs = d.num_outputs,
             .is_random = d.is_random,
             .runs_in_graph = static_cast<bool>(d.make_kernel),
             .mindir_primitive = d.mindir.primitive,
             .mindir_legacy = d.mindir.legacy_primitives,
             .onnx_export = static_cast<bool>(d.onnx)};
    for (const auto& v : d.mindir.variants) i.mindir_variants.push_back(v.spelling.primitive);
    for (const auto& imp : d.onnx_import) i.onnx_import.push_back(imp.op_type);
    out.push_back(std::move(i));
  }
  return out;
}

std::vector<std::string> onnx_decomposed_op_types() { return formats::onnx_format_rule_types(); }

}  // namespace cellar
