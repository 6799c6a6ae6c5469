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

LegacyValue1x legacy_value_1x(const pb::AttributeProto& a) {
  LegacyValue1x out;
  const std::string& ref = a.ref_attr_name();
  if (a.type() == AttrType::UNDEFINED && ref == "none") {
    out.kind = LegacyValue1x::kNone;
    return out;
  }
  if (a.type() == AttrType::TENSORS && a.tensors_size() == 1 && a.tensors(0).dims_size() == 0 &&
      !a.tensors(0).has_raw_data() && !a.tensors(0).has_external_data() &&
      a.tensors(0).float_data_size() == 0 && a.tensors(0).int32_data_size() == 0 &&
      a.tensors(0).int64_data_size() == 0 && a.tensors(0).double_data_size() == 0 &&
      a.tensors(0).uint64_data_size() == 0) {
    const auto dt = dtype_from_mindir(a.tensors(0).data_type());
    out.kind = dt ? LegacyValue1x::kType : LegacyValue1x::kUnknownType;
    if (dt) out.type = *dt;
    out.data_type = a.tensors(0).data_type();
    return out;
  }
  if (ref.rfind("scalar:Tuple[", 0) != 0 && ref.rfind("scalar:List[", 0) != 0) return out;
  if (a.type() == AttrType::TENSORS && a.tensors_size() == 0) {  // the empty tuple
    out.kind = LegacyValue1x::kInts;
    return out;
  }
  if (is_integer_attr_type(a.type())) {
    out.kind = LegacyValue1x::kInts;
    out.ints.assign(a.ints().begin(), a.ints().end());
  } else if (a.type() == AttrType::FLOAT) {
    out.kind = LegacyValue1x::kFloats;
    out.floats.assign(a.floats().begin(), a.floats().end());
  } else if (a.type() == AttrType::DOUBLE) {
    out.kind = LegacyValue1x::kFloats;
    out.floats.assign(a.doubles().begin(), a.doubles().end());
  }
  return out;
}

}  // namespace cellar::formats::mindir
