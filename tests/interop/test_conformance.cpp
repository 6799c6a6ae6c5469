// Checkpoints written by MindSpore itself (../shared/conformance, see its README) load with exactly
// the names, dims, dtypes, first values and sums the README lists, in file order.
#include <cellar/cellar.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include "test_util.h"

namespace {

using cellar::DType;
using cellar::Shape;
using cellar::Tensor;
namespace nn = cellar::nn;

struct Expected {
  const char* tag;
  Shape shape;
  DType dtype;
  double first;
  std::optional<double> sum;  // float32 sums accumulated in double, in file order
};

// Reads element i whatever the alignment of the mapped bytes.
double element(const Tensor& t, size_t i) {
  switch (t.dtype()) {
    case DType::Float32: {
      float v;
      std::memcpy(&v, t.raw_data() + 4 * i, 4);
      return v;
    }
    case DType::Int32: {
      int32_t v;
      std::memcpy(&v, t.raw_data() + 4 * i, 4);
      return v;
    }
    default:
      ADD_FAILURE() << "unexpected dtype " << t.dtype();
      return 0;
  }
}

void expect_near_rel(double got, double want, const std::string& what) {
  EXPECT_LE(std::abs(got - want), 1e-6 * std::max(std::abs(want), 1e-30))
      << what << ": " << got << " vs " << want;
}

void check_file(const std::string& name, const std::vector<Expected>& table) {
  const auto path = cellar::testing::conformance(name);
  const cellar::ParamDict d = cellar::load_checkpoint(path);
  ASSERT_EQ(d.size(), table.size());
  size_t k = 0, mapped = 0;
  for (const auto& [tag, p] : d) {
    const Expected& e = table[k++];
    SCOPED_TRACE(tag);
    EXPECT_EQ(tag, e.tag);
    const Tensor& t = p.data();
    EXPECT_EQ(t.dtype(), e.dtype);
    EXPECT_EQ(t.shape(), e.shape);
    ASSERT_EQ(t.nbytes(), static_cast<size_t>(e.shape.numel()) * cellar::itemsize(e.dtype));
    expect_near_rel(element(t, 0), e.first, "first value");
    if (e.sum) {
      double sum = 0;
      for (int64_t i = 0; i < t.numel(); ++i) sum += element(t, static_cast<size_t>(i));
      expect_near_rel(sum, *e.sum, "sum");
    }
    // A view of the file (zero copy) when the bytes sit at an aligned address; a copy otherwise.
    const bool aligned = reinterpret_cast<uintptr_t>(t.raw_data()) % cellar::itemsize(e.dtype) == 0;
    EXPECT_TRUE(aligned);
    if (t.storage()->is_mapped()) ++mapped;
  }
  std::cout << name << ": " << mapped << " of " << d.size() << " tensors view the file\n";
}

TEST(Conformance, MindSporeTutorialMlp) {
  check_file(
      "mindspore-mlp-tutorial.ckpt",
      {
          {"dense_relu_sequential.0.weight", {512, 784}, DType::Float32, 0.0164599493, -92.8777032},
          {"dense_relu_sequential.0.bias", {512}, DType::Float32, 0.00614666194, 1.34117759},
          {"dense_relu_sequential.2.weight", {512, 512}, DType::Float32, 0.0160532687, 240.51196},
          {"dense_relu_sequential.2.bias", {512}, DType::Float32, -0.0348171443, 1.51846572},
          {"dense_relu_sequential.4.weight", {10, 512}, DType::Float32, 0.0451787449, -4.06723334},
          {"dense_relu_sequential.4.bias", {10}, DType::Float32, -0.00426757801, 0.0274959989},
      });
}

TEST(Conformance, MindSporeLenetWithOptimizerState) {
  check_file("mindspore-lenet-openmlsys.ckpt",
             {
                 {"dense1.weight", {128, 1024}, DType::Float32, 0.0152626894, -16.6559586},
                 {"dense1.bias", {128}, DType::Float32, -0.0133344354, 0.0336760084},
                 {"dense2.weight", {64, 128}, DType::Float32, -0.0642022341, 3.22182014},
                 {"dense2.bias", {64}, DType::Float32, -0.0756094456, 0.0111129923},
                 {"dense3.weight", {10, 64}, DType::Float32, -0.11684937, 1.01968684},
                 {"dense3.bias", {10}, DType::Float32, -0.290995747, 0.12838464},
                 {"global_step", {1}, DType::Int32, 1875, 1875},
                 // Written with dims [0] and one element: MindSpore 1.x's scalar spelling.
                 {"learning_rate", {}, DType::Float32, 0.00999999978, std::nullopt},
                 {"momentum", {}, DType::Float32, 0.899999976, std::nullopt},
                 {"moments.dense1.weight", {128, 1024}, DType::Float32, 0.00405315962, -1.92143694},
                 {"moments.dense1.bias", {128}, DType::Float32, -0.00955453701, -0.0977748889},
                 {"moments.dense2.weight", {64, 128}, DType::Float32, -0.0100812269, -1.63606226},
                 {"moments.dense2.bias", {64}, DType::Float32, 0.00175816147, -0.0287513256},
                 {"moments.dense3.weight", {10, 64}, DType::Float32, 0.0190432761, -8.58592102e-07},
                 {"moments.dense3.bias", {10}, DType::Float32, 0.0275147483, -6.7288056e-08},
             });
}

// The quick-start network: a Cell holding `flatten` and `dense_relu_sequential`.
class Network : public nn::Cell {
 public:
  Network() : Cell("Network") {
    flatten_ = register_cell("flatten", nn::Flatten());
    seq_ = register_cell("dense_relu_sequential",
                         nn::SequentialCell({nn::Dense(784, 512), nn::ReLU(), nn::Dense(512, 512),
                                             nn::ReLU(), nn::Dense(512, 10)}));
  }
  cellar::Value construct(const std::vector<cellar::Value>& in) override {
    return (*seq_)((*flatten_)(in.at(0).tensor()));
  }

 private:
  std::shared_ptr<nn::FlattenImpl> flatten_;
  std::shared_ptr<nn::SequentialCellImpl> seq_;
};

TEST(Conformance, TutorialCheckpointLoadsIntoTheEquivalentNetwork) {
  const auto d =
      cellar::load_checkpoint(cellar::testing::conformance("mindspore-mlp-tutorial.ckpt"));
  auto net = std::make_shared<Network>();
  auto [param_not_load, ckpt_not_load] = cellar::load_param_into_net(net, d);
  std::ostringstream os;
  os << param_not_load << ckpt_not_load;
  EXPECT_EQ(os.str(), "[][]");
  const Tensor y = (*net)(cellar::ones({1, 1, 28, 28}));
  EXPECT_EQ(y.shape(), (Shape{1, 10}));
  // The loaded weights are the file's (a re-save reproduces every tensor byte for byte).
  cellar::testing::TempDir dir;
  cellar::save_checkpoint(net, dir / "again.ckpt");
  const auto again = cellar::load_checkpoint(dir / "again.ckpt");
  ASSERT_EQ(again.keys(), d.keys());
  for (const auto& [name, p] : d) EXPECT_TRUE(again.at(name).data().equal(p.data())) << name;
}

TEST(Conformance, OurBytesEqualMindSporesForTheSameTensors) {
  // MindSpore's file has no scalars or strings, so writing its tensors back reproduces it exactly.
  const auto path = cellar::testing::conformance("mindspore-mlp-tutorial.ckpt");
  cellar::testing::TempDir dir;
  cellar::save_checkpoint(cellar::load_checkpoint(path), dir / "copy.ckpt");
  EXPECT_TRUE(cellar::testing::read_bytes(dir / "copy.ckpt") == cellar::testing::read_bytes(path));
}

}  // namespace
