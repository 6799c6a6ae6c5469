// Cells: MindSpore's parameter names, insertion order, initialisation, eager Dense.
#include <gtest/gtest.h>

#include <cmath>

#include "cellar/cellar.h"

using namespace cellar;
namespace nn = cellar::nn;

namespace {
std::vector<std::string> names_of(const nn::Cell& c) {
  std::vector<std::string> out;
  for (auto& [n, _] : c.parameters_and_names()) out.push_back(n);
  return out;
}

// The quick-start network as MindSpore's tutorial writes it: flatten + dense_relu_sequential.
class TutorialNet : public nn::Cell {
 public:
  TutorialNet() : Cell("Network") {
    flatten = register_cell("flatten", nn::Flatten());
    seq = register_cell("dense_relu_sequential",
                        nn::SequentialCell({nn::Dense(784, 512), nn::ReLU(), nn::Dense(512, 512),
                                            nn::ReLU(), nn::Dense(512, 10)}));
  }
  Value construct(const std::vector<Value>& in) override {
    return (*seq)((*flatten)(in.at(0).tensor()));
  }
  std::shared_ptr<nn::FlattenImpl> flatten;
  std::shared_ptr<nn::SequentialCellImpl> seq;
};
}  // namespace

TEST(Cell, SequentialNamesChildrenByIndex) {
  auto net = nn::SequentialCell({nn::Flatten(), nn::Dense(784, 512), nn::ReLU(),
                                 nn::Dense(512, 512), nn::ReLU(), nn::Dense(512, 10)});
  EXPECT_EQ(names_of(*net), (std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias",
                                                      "5.weight", "5.bias"}));
  EXPECT_EQ(net->cls_name(), "SequentialCell");
  EXPECT_EQ(net->parameters_and_names()[0].second.data().shape(), (Shape{512, 784}));
  EXPECT_EQ(net->parameters_and_names()[0].second.name(), "1.weight");
}

TEST(Cell, SequentialFromNamedCellsUsesTheNames) {
  // MindSpore's SequentialCell(OrderedDict([("fc", ...), ("act", ...), ...])).
  auto net =
      std::make_shared<nn::SequentialCellImpl>(std::vector<std::pair<std::string, nn::CellPtr>>{
          {"fc", nn::Dense(4, 3)}, {"act", nn::ReLU()}, {"out", nn::Dense(3, 2, false)}});
  EXPECT_EQ(names_of(*net), (std::vector<std::string>{"fc.weight", "fc.bias", "out.weight"}));
  EXPECT_EQ((*net)[2]->cls_name(), "Dense");
  EXPECT_EQ(net->construct({Value(ones({1, 4}))}).tensor().shape(), (Shape{1, 2}));
  net->append(nn::ReLU());  // as MindSpore's append: named by the count
  EXPECT_EQ(net->name_cells()[3].first, "3");
  using Named = std::vector<std::pair<std::string, nn::CellPtr>>;
  EXPECT_THROW(nn::SequentialCellImpl(Named{{"a", nn::ReLU()}, {"a", nn::ReLU()}}), ValueError);
  EXPECT_THROW(nn::SequentialCellImpl(Named{{"a.b", nn::ReLU()}}), ValueError);
}

TEST(Cell, AttributeNamesPrefixNestedParameters) {
  auto net = std::make_shared<TutorialNet>();
  EXPECT_EQ(names_of(*net), (std::vector<std::string>{
                                "dense_relu_sequential.0.weight", "dense_relu_sequential.0.bias",
                                "dense_relu_sequential.2.weight", "dense_relu_sequential.2.bias",
                                "dense_relu_sequential.4.weight", "dense_relu_sequential.4.bias"}));
  // Parameter names follow their path, as MindSpore's auto-prefix does.
  EXPECT_EQ(net->parameters_and_names()[2].second.name(), "dense_relu_sequential.2.weight");
  auto cells = net->cells_and_names();
  EXPECT_EQ(cells.size(), 8u);
  EXPECT_EQ(cells[1].first, "flatten");
  EXPECT_EQ(cells[3].first, "dense_relu_sequential.0");
}

TEST(Cell, RejectsBadOrDuplicateNames) {
  struct Bad : nn::Cell {
    Bad() : Cell("Bad") {}
    void add(const std::string& n) { register_parameter(n, ones({1})); }
    Value construct(const std::vector<Value>& in) override { return in[0]; }
  };
  Bad b;
  b.add("w");
  EXPECT_THROW(b.add("w"), ValueError);
  EXPECT_THROW(b.add("a.b"), ValueError);
  EXPECT_THROW(b.add(""), ValueError);
}

TEST(Cell, ReplaceKeepsThePositionAndRemoveDrops) {
  // Python's `self.fc = ...` twice and `del self.fc` (the bindings' nn.Cell).
  struct Net : nn::Cell {
    Net() : Cell("Net") {
      register_parameter("scale", ones({1}));
      register_cell("fc", nn::Dense({.in = 2, .out = 3}));
      register_cell("head", nn::Dense({.in = 3, .out = 1}));
    }
    using Cell::remove;
    using Cell::replace_cell;
    using Cell::replace_parameter;
    Value construct(const std::vector<Value>& in) override { return in[0]; }
  };
  Net n;
  n.replace_cell("fc", nn::Dense({.in = 2, .out = 4, .has_bias = false}));
  EXPECT_EQ(names_of(n),
            (std::vector<std::string>{"scale", "fc.weight", "head.weight", "head.bias"}));
  EXPECT_EQ(n.child("fc")->parameter("weight").data().shape(), (Shape{4, 2}));
  EXPECT_EQ(n.child("fc")->parameter("weight").name(), "fc.weight");
  n.replace_parameter("scale", "gain", zeros({2}));
  EXPECT_EQ(names_of(n)[0], "gain");
  EXPECT_EQ(n.parameter("gain").data().shape(), (Shape{2}));
  EXPECT_THROW(n.replace_parameter("gain", "head", ones({1})), ValueError);  // a child's name
  n.remove("fc");
  n.remove("gain");
  EXPECT_EQ(names_of(n), (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_THROW(n.remove("fc"), ValueError);
  EXPECT_THROW(n.replace_cell("missing", nn::ReLU()), ValueError);
  EXPECT_THROW(n.replace_parameter("missing", "missing", ones({1})), ValueError);
}

TEST(Dense, InitialisesLikeMindSporeAndIsSeedable) {
  Generator g1(42), g2(42);
  auto a = nn::Dense({.in = 400, .out = 300, .generator = &g1});
  auto b = nn::Dense({.in = 400, .out = 300, .generator = &g2});
  EXPECT_TRUE(a->weight.data().equal(b->weight.data()));
  EXPECT_TRUE(a->bias.data().equal(b->bias.data()));
  // HeUniform(a=√5) on fan_in 400 and the bias both draw from U(-1/20, 1/20).
  const float bound = 1.0f / 20.0f;
  double sum = 0, sumsq = 0;
  const float* w = a->weight.data().data<float>();
  const int64_t n = a->weight.data().numel();
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_LE(std::fabs(w[i]), bound);
    sum += w[i];
    sumsq += double(w[i]) * w[i];
  }
  EXPECT_NEAR(sum / n, 0.0, 1e-3);
  EXPECT_NEAR(sumsq / n, bound * bound / 3.0, 2e-5);  // variance of U(-b, b)
  for (int64_t i = 0; i < 300; ++i) ASSERT_LE(std::fabs(a->bias.data().data<float>()[i]), bound);
  auto nobias = nn::Dense(3, 2, false);
  EXPECT_FALSE(nobias->bias.defined());
  EXPECT_EQ(names_of(*nobias), std::vector<std::string>{"weight"});
  EXPECT_THROW(nn::Dense(0, 2), ValueError);
}

TEST(Dense, ComputesXWtPlusB) {
  auto d = nn::Dense(3, 2);
  d->weight.set_data(Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  d->bias.set_data(Tensor::from_vector<float>({0.5f, -1}, {2}));
  Tensor x = Tensor::from_vector<float>({1, 0, -1, 2, 2, 2}, {2, 3});
  Tensor y = (*d)(x);
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  const float want[] = {1 - 3 + 0.5f, 4 - 6 - 1, 12 + 0.5f, 30 - 1};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data<float>()[i], want[i]);
  // Rank-3 input: leading dims kept.
  Tensor y3 = (*d)(ones({2, 4, 3}));
  EXPECT_EQ(y3.shape(), (Shape{2, 4, 2}));
  EXPECT_FLOAT_EQ(y3.data<float>()[0], 6.5f);
  EXPECT_THROW((*d)(ones({2, 4})), ValueError);
}

TEST(Sequential, TutorialNetworkRunsEagerly) {
  auto net = nn::SequentialCell({nn::Flatten(), nn::Dense(784, 512), nn::ReLU(),
                                 nn::Dense(512, 512), nn::ReLU(), nn::Dense(512, 10)});
  Tensor y = (*net)(ones({1, 1, 28, 28}));
  EXPECT_EQ(y.shape(), (Shape{1, 10}));
  std::ostringstream os;
  os << y.shape();
  EXPECT_EQ(os.str(), "(1, 10)");
}
