// LeNet-5 and the ResNet-18-shaped network: MindSpore's parameter names, eager runs, checkpoint
// round trips, trace → Executor equal to eager, MindIR export and load back through GraphCell;
// and the layer cells' own contracts (BatchNorm2d and Dropout in training mode, export refusals).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::TempDir;

namespace {
using cellar::testing::max_abs_diff;

Tensor rnd(Shape s, uint64_t seed) {
  Generator g(seed);
  return ops::uniform(s, -1, 1, g);
}

std::vector<std::string> names_of(const nn::Cell& c) {
  std::vector<std::string> out;
  for (const auto& [n, _] : c.parameters_and_names()) out.push_back(n);
  return out;
}

// Gives every BatchNorm2d non-trivial statistics, so eval-mode normalisation is exercised.
void randomise_bn(nn::Cell& net, uint64_t seed) {
  Generator g(seed);
  for (const auto& [name, p] : net.parameters_and_names()) {
    const auto dot = name.rfind('.');
    const std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    const Shape s = p.data().shape();
    if (leaf == "moving_mean" || leaf == "beta")
      const_cast<Parameter&>(p).set_data(ops::uniform(s, -0.2, 0.2, g));
    if (leaf == "moving_variance" || leaf == "gamma")
      const_cast<Parameter&>(p).set_data(ops::uniform(s, 0.5, 1.5, g));
  }
}

// Save, load into a fresh network, compare every tensor and the outputs; then trace → Executor
// and MindIR export → load → GraphCell, each equal to eager within 1e-5.
template <class Net>
void round_trips(const std::shared_ptr<Net>& net, const std::shared_ptr<Net>& fresh,
                 const Tensor& x) {
  TempDir dir;
  const Tensor eager = (*net)(x);

  save_checkpoint(net, dir / "net.ckpt");
  const ParamDict dict = load_checkpoint(dir / "net.ckpt");
  EXPECT_EQ(dict.keys(), names_of(*net));
  const auto [param_not_load, ckpt_not_load] = load_param_into_net(fresh, dict);
  EXPECT_TRUE(param_not_load.empty()) << param_not_load;
  EXPECT_TRUE(ckpt_not_load.empty()) << ckpt_not_load;
  for (const auto& [name, p] : fresh->parameters_and_names())
    EXPECT_TRUE(p.data().equal(dict.at(name).data())) << name;
  EXPECT_EQ(max_abs_diff((*fresh)(x), eager), 0.0);

  runtime::Executor ex(trace(*fresh, {x}));
  const auto traced = ex.run(std::vector<Tensor>{x});
  ASSERT_EQ(traced.size(), 1u);
  EXPECT_LE(max_abs_diff(traced[0], eager), 1e-5);

  const auto path = export_model(fresh, {x}, (dir / "net").string(), FileFormat::MINDIR);
  nn::GraphCell cell(load(path));
  EXPECT_LE(max_abs_diff(cell(x), eager), 1e-5);
}

}  // namespace

// ---------------------------------------------------------------- LeNet-5

TEST(Models, LeNet5HasTheZoosNamesAndShapes) {
  Generator g(1);
  auto net = models::LeNet5({.generator = &g});
  const std::vector<std::string> expected = {"conv1.weight", "conv2.weight", "fc1.weight",
                                             "fc1.bias",     "fc2.weight",   "fc2.bias",
                                             "fc3.weight",   "fc3.bias"};
  EXPECT_EQ(names_of(*net), expected);
  EXPECT_EQ(net->conv1->weight.data().shape(), (Shape{6, 1, 5, 5}));
  EXPECT_EQ(net->conv2->weight.data().shape(), (Shape{16, 6, 5, 5}));
  EXPECT_EQ(net->fc1->weight.data().shape(), (Shape{120, 400}));
  EXPECT_EQ(net->fc3->weight.data().shape(), (Shape{10, 84}));
  EXPECT_EQ((*net)(rnd({2, 1, 32, 32}, 2)).shape(), (Shape{2, 10}));
  auto headless = models::LeNet5({.num_channel = 3, .include_top = false});
  EXPECT_EQ(names_of(*headless), (std::vector<std::string>{"conv1.weight", "conv2.weight"}));
  EXPECT_EQ((*headless)(rnd({1, 3, 32, 32}, 3)).shape(), (Shape{1, 16, 5, 5}));
  EXPECT_THROW((*net)(rnd({1, 3, 32, 32}, 4)), ValueError);
}

TEST(Models, LeNet5RoundTrips) {
  Generator g1(10), g2(11);
  round_trips(models::LeNet5({.generator = &g1}), models::LeNet5({.generator = &g2}),
              rnd({2, 1, 32, 32}, 12));
}

// ---------------------------------------------------------------- ResNet-18

TEST(Models, ResNet18HasTheZoosNames) {
  Generator g(20);
  auto net = models::resnet18({.generator = &g});
  const auto names = names_of(*net);
  // 20 convolutions, 20 BatchNorm2d (4 parameters each), the Dense.
  EXPECT_EQ(names.size(), 20u + 20u * 4u + 2u);
  const std::set<std::string> have(names.begin(), names.end());
  for (const char* n :
       {"conv1.weight", "bn1.moving_mean", "bn1.moving_variance", "bn1.gamma", "bn1.beta",
        "layer1.0.conv1.weight", "layer1.0.bn1d.gamma", "layer1.1.bn2d.moving_variance",
        "layer2.0.down_sample_layer.0.weight", "layer2.0.down_sample_layer.1.moving_mean",
        "layer4.1.conv2.weight", "end_point.weight", "end_point.bias"})
    EXPECT_TRUE(have.count(n)) << n;
  EXPECT_FALSE(have.count("layer1.0.down_sample_layer.0.weight"));  // stride 1, same channels
  EXPECT_EQ(names.front(), "conv1.weight");
  // MindSpore's order inside a BatchNorm2d: moving statistics first.
  EXPECT_EQ(names[1], "bn1.moving_mean");
  EXPECT_EQ(names[4], "bn1.beta");
  EXPECT_EQ(net->conv1->weight.data().shape(), (Shape{64, 3, 7, 7}));
  EXPECT_FALSE(net->bn1->moving_mean.requires_grad());
  EXPECT_TRUE(net->bn1->gamma.requires_grad());
  EXPECT_EQ(net->end_point->weight.data().shape(), (Shape{10, 512}));
}

TEST(Models, ResNet18RoundTrips) {
  Generator g1(30), g2(31);
  auto net = models::resnet18({.generator = &g1});
  randomise_bn(*net, 32);
  const Tensor x = rnd({1, 3, 32, 32}, 33);
  EXPECT_EQ((*net)(x).shape(), (Shape{1, 10}));
  round_trips(net, models::resnet18({.generator = &g2}), x);
}

// ---------------------------------------------------------------- layer cells

TEST(Models, Conv2dCellDefaultsAndBias) {
  Generator g(40);
  auto c = nn::Conv2d({.in_channels = 4,
                       .out_channels = 6,
                       .kernel_size = {3, 3},
                       .group = 2,
                       .has_bias = true,
                       .generator = &g});
  EXPECT_EQ(names_of(*c), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(c->weight.data().shape(), (Shape{6, 2, 3, 3}));
  // HeUniform(√5) over fan_in = 2·3·3: |w| ≤ 1/√18.
  const double bound = 1 / std::sqrt(18.0);
  const Tensor w = c->weight.data();
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_LE(std::fabs(w.data<float>()[i]), bound);
  const Tensor x = rnd({1, 4, 5, 5}, 41);
  const Tensor y = (*c)(x);
  EXPECT_EQ(y.shape(), (Shape{1, 6, 5, 5}));  // pad_mode "same" by default
  const Tensor no_bias = ops::conv2d(x, w, {.pad_mode = "same", .group = 2});
  EXPECT_TRUE(y.equal(ops::bias_add(no_bias, c->bias.data())));
  EXPECT_FALSE(nn::Conv2d(3, 8, 3)->bias.defined());  // has_bias false by default (MindSpore 2.x)
  EXPECT_THROW(nn::Conv2d({.in_channels = 3, .out_channels = 4, .group = 2}), ValueError);
  EXPECT_THROW(nn::Conv2d({.in_channels = 3, .out_channels = 4, .padding = {1, 1, 1, 1}}),
               ValueError);
  EXPECT_THROW(nn::Conv2d({.in_channels = 3, .out_channels = 4, .pad_mode = "reflect"}),
               ValueError);
}

TEST(Models, PoolingAndActivationCells) {
  const Tensor x = rnd({1, 2, 6, 6}, 50);
  EXPECT_TRUE((*nn::MaxPool2d(2, 2))(x).equal(ops::max_pool2d(x, {2, 2}, {2, 2})));
  EXPECT_TRUE((*nn::AvgPool2d(3, 2, "same"))(x).equal(ops::avg_pool2d(x, {3, 3}, {2, 2}, "same")));
  EXPECT_THROW(nn::MaxPool2d(2, 2, "pad"), ValueError);
  EXPECT_TRUE((*nn::Softmax(1))(x).equal(ops::softmax(x, 1)));
  EXPECT_TRUE((*nn::LogSoftmax())(x).equal(ops::log_softmax(x, -1)));
  EXPECT_TRUE((*nn::Sigmoid())(x).equal(ops::sigmoid(x)));
  EXPECT_TRUE((*nn::Tanh())(x).equal(ops::tanh(x)));
  EXPECT_TRUE((*nn::GELU())(x).equal(ops::gelu(x)));
  // The exact form against erf directly.
  const Tensor exact = (*nn::GELU(false))(x);
  const Tensor xd = x.to(DType::Float64);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = xd.data<double>()[i];
    EXPECT_NEAR(exact.to(DType::Float64).data<double>()[i],
                0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
  }
  EXPECT_TRUE(names_of(*nn::Softmax()).empty());
}

TEST(Models, BatchNorm2dTrainingUsesBatchStatisticsAndRefusesExport) {
  auto bn = nn::BatchNorm2d({.num_features = 2, .eps = 1e-5, .momentum = 0.9});
  EXPECT_EQ(names_of(*bn),
            (std::vector<std::string>{"moving_mean", "moving_variance", "gamma", "beta"}));
  const Tensor x = rnd({4, 2, 3, 3}, 60);
  // Eval (the default): moving statistics 0 and 1 → y = x / √(1 + ε).
  const Tensor y_eval = (*bn)(x);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_NEAR(y_eval.data<float>()[i], x.data<float>()[i] / std::sqrt(1 + 1e-5), 1e-6);
  bn->set_train(true);
  const Tensor y = (*bn)(x);
  // Each channel of the output has mean ≈ 0 and (biased) variance ≈ 1.
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, sq = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t k = 0; k < 9; ++k) {
        const double v = y.data<float>()[(n * 2 + c) * 9 + k];
        s += v;
        sq += v * v;
      }
    EXPECT_NEAR(s / 36, 0, 1e-5);
    EXPECT_NEAR(sq / 36, 1, 1e-3);
  }
  // moving = 0.9·moving + 0.1·batch.
  double batch_mean0 = 0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t k = 0; k < 9; ++k) batch_mean0 += x.data<float>()[n * 18 + k];
  EXPECT_NEAR(bn->moving_mean.data().data<float>()[0], 0.1 * batch_mean0 / 36, 1e-6);
  EXPECT_THROW(trace(*bn, {x}), ExportError);
  bn->set_train(false);
  EXPECT_NO_THROW(trace(*bn, {x}));
}

TEST(Models, DropoutIsIdentityInEvalAndRefusedInTrainingExport) {
  Generator g(70);
  auto net = nn::SequentialCell({nn::Dense(8, 4), nn::Dropout({.p = 0.5, .generator = &g})});
  const Tensor x = rnd({16, 8}, 71);
  const Tensor y = (*net)(x);
  EXPECT_TRUE(y.equal((*net->operator[](0))(x)));
  // Eval mode records no op for Dropout: the graph is Dense's alone.
  const ir::Graph eval_graph = trace(*net, {x});
  for (const auto& node : eval_graph.nodes) EXPECT_NE(node.op, "Dropout");
  net->set_train(true);
  const Tensor d = (*net)(x);
  int zeros = 0;
  for (int64_t i = 0; i < d.numel(); ++i) {
    const float v = d.data<float>()[i], ref = y.data<float>()[i];
    if (v == 0)
      ++zeros;
    else
      ASSERT_NEAR(v, 2 * ref, 1e-5);
  }
  EXPECT_GT(zeros, 10);
  EXPECT_LT(zeros, 54);
  TempDir dir;
  EXPECT_THROW(export_model(net, {x}, (dir / "drop").string(), FileFormat::MINDIR), ExportError);
  EXPECT_TRUE(cellar::testing::list_dir(dir.path()).empty());
  EXPECT_THROW(nn::Dropout(1.0), ValueError);
}
