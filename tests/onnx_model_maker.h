// ModelMaker: hand-made ONNX models for tests, built on ONNX's own protobuf messages (inputs,
// initializers, nodes with typed attributes, outputs), read back through cellar's ONNX reader
// and validated. Shared by the tests of the reader's import rules (tests/formats/test_onnx.cpp)
// and of dynamic shapes (tests/runtime/test_dynamic_shapes.cpp).
#pragma once

#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "formats/onnx.h"
#include "formats/onnx_builder.h"
#include "onnx/onnx.pb.h"  // ONNX's schema as the build compiles it (CMakeLists.txt)

namespace cellar::testing {

namespace pb = ::onnx;

struct ModelMaker {
  pb::ModelProto m;
  explicit ModelMaker(int64_t opset = 13) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    m.mutable_graph()->set_name("g");
  }
  pb::GraphProto& g() { return *m.mutable_graph(); }
  void value_info(pb::ValueInfoProto* vi, const std::string& name, const Shape& s,
                  int elem = pb::TensorProto::FLOAT) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (int64_t d : s) sh->add_dim()->set_dim_value(d);
  }
  void input(const std::string& name, const Shape& s, int elem = pb::TensorProto::FLOAT) {
    value_info(g().add_input(), name, s, elem);
  }
  // An input whose dimensions are given as text: a number is a fixed size, a name a dim_param.
  void input_symbolic(const std::string& name, const std::vector<std::string>& dims,
                      int elem = pb::TensorProto::FLOAT) {
    auto* vi = g().add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (const auto& d : dims) {
      auto* dim = sh->add_dim();
      if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos)
        dim->set_dim_value(std::stoll(d));
      else
        dim->set_dim_param(d);
    }
  }
  std::string bytes() const { return m.SerializeAsString(); }
  void output(const std::string& name) { g().add_output()->set_name(name); }
  void output(const std::string& name, const Shape& s) { value_info(g().add_output(), name, s); }
  pb::TensorProto* init(const std::string& name, const Tensor& t) {
    auto* p = g().add_initializer();
    p->set_name(name);
    p->set_data_type(formats::dtype_to_onnx(t.dtype()).value());
    for (int64_t d : t.shape()) p->add_dims(d);
    p->set_raw_data(reinterpret_cast<const char*>(t.raw_data()), t.nbytes());
    return p;
  }
  pb::NodeProto* node(const std::string& op, std::vector<std::string> in,
                      std::vector<std::string> out) {
    auto* n = g().add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g().node_size()));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  static void ints(pb::NodeProto* n, const std::string& k, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(pb::AttributeProto::INTS);
    for (auto i : v) a->add_ints(i);
  }
  static void i(pb::NodeProto* n, const std::string& k, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  static void f(pb::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(pb::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void s(pb::NodeProto* n, const std::string& k, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(pb::AttributeProto::STRING);
    a->set_s(v);
  }
  ir::Graph read() {
    const std::string b = m.SerializeAsString();
    ir::Graph g =
        formats::read_onnx({reinterpret_cast<const std::byte*>(b.data()), b.size()}, "test.onnx");
    g.validate("test.onnx");
    return g;
  }
};

Tensor i64(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, Shape{n});
}

}  // namespace cellar::testing
