// The MindSpore 1.x dialect of MindIR, as the reader meets it (established from files 1.1.0 to
// 1.9.0 wrote; formats/mindir.h lists the layout, tests/test_mindspore_1x.cpp tests it). Spellings
// of ops themselves (1.0/1.1's "TensorAdd" for Add) are the op table's `legacy_primitives`.
#include "formats/mindir/mindir_impl.h"

namespace cellar::formats::mindir {

std::string bare_primitive_1x(const std::string& op_type) {
  return op_type;  // to 1.6: the primitive's name, attributes on the node
}

std::string strip_python_prefix_1x(std::string primitive) {
  if (primitive.rfind("S-Prim-", 0) == 0 && primitive.size() > 7) return primitive.substr(7);
  return primitive;
}

bool is_untyped_input_1x(const pb::ValueInfoProto& in) {
  return in.tensor_size() == 0 && !in.has_denotation() && !in.has_attr_info();
}

bool is_primitive_attribute_1x(const pb::AttributeProto& a) { return a.name() != "shape"; }

}  // namespace cellar::formats::mindir
