// export_models OUT_DIR: builds the networks the ONNX and MindIR interop tests check (fixed
// seeds), exports each with cellar::export_model(..., ONNX) and (..., MINDIR) and writes, per
// network NAME:
//   OUT_DIR/NAME.onnx, OUT_DIR/NAME.mindir, OUT_DIR/NAME_input.npy (the input),
//   OUT_DIR/NAME_output.npy (cellar's eager output for it).
// Networks: the tutorial's MLP, LeNet-5, the ResNet-18-shaped net (include/cellar/models/), and
// "ops", a small net that goes through every op with an ONNX spelling, so ONNX Runtime checks
// each spelling; "pad" (every Pad mode ONNX has) and "pad_symmetric" (MindIR only).
// tests/python/test_onnx_interop.py runs it and compares with ONNX Runtime;
// tests/python/test_mindir_interop.py with MindSpore.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "cellar/cellar.h"

using namespace cellar;
namespace fs = std::filesystem;

namespace {

Tensor uniform(Generator& gen, Shape s, double lo, double hi) {
  Tensor t(DType::Float32, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = static_cast<float>(gen.uniform(lo, hi));
  return t;
}

// Every op with an ONNX spelling, in one small graph.
class OpsNet : public nn::Cell {
 public:
  explicit OpsNet(Generator& gen) : nn::Cell("OpsNet") {
    conv_w = register_parameter("conv_w", uniform(gen, {4, 2, 3, 3}, -0.5, 0.5));
    scale = register_parameter("bn_scale", uniform(gen, {4}, 0.5, 1.5));
    shift = register_parameter("bn_shift", uniform(gen, {4}, -0.2, 0.2));
    mean = register_parameter("bn_mean", uniform(gen, {4}, -0.1, 0.1), false);
    var = register_parameter("bn_var", uniform(gen, {4}, 0.5, 1.5), false);
    divisor = register_parameter("divisor", uniform(gen, {4, 3, 3}, 1.0, 2.0));
    fc_w = register_parameter("fc_w", uniform(gen, {10, 216}, -0.1, 0.1));
    fc_b = register_parameter("fc_b", uniform(gen, {10}, -0.1, 0.1));
  }
  Value construct(const std::vector<Value>& inputs) override {
    const Tensor x = inputs.at(0).tensor();  // (2, 4, 6, 6)
    const Tensor c = ops::conv2d(x, conv_w.value(), {.pad_mode = "same", .group = 2});
    const Tensor b = ops::batch_norm(c, scale.value(), shift.value(), mean.value(), var.value());
    const Tensor p = ops::avg_pool2d(b, {3, 3}, {2, 2}, "same");  // (2, 4, 3, 3)
    const Tensor q = ops::max_pool2d(b, {2, 2}, {2, 2}, "valid");
    const Tensor s = ops::add(p, ops::sigmoid(q));
    const Tensor t = ops::div(ops::sub(ops::tanh(s), ops::abs(p)), divisor.value());
    const Tensor r = ops::reshape(ops::mul(t, t), Shape{2, 36});
    const Tensor g = ops::gelu(r);
    const Tensor sm = ops::softmax(g, -1), ls = ops::log_softmax(g, 1);
    const Tensor e = ops::expand_dims(sm, 1);                              // (2, 1, 36)
    const Tensor bm = ops::batch_matmul(e, e, true, false);                // (2, 36, 36)
    const Tensor rs = ops::reduce_sum(bm, {2}, false);                     // (2, 36)
    const Tensor rm = ops::squeeze(ops::reduce_mean(bm, {1}, true), {1});  // (2, 36)
    const Tensor tr = ops::transpose(ops::expand_dims(ls, 2), {0, 2, 1});  // (2, 1, 36)
    const Tensor cat = ops::concat({rs, rm, ops::squeeze(tr)}, 1);         // (2, 108)
    const Tensor ga =
        ops::gather(cat, Tensor::from_vector(std::vector<int64_t>{1, 0}, Shape{2}), 0);
    const Tensor ti = ops::relu(ops::tile(ga, {1, 2}));  // (2, 216)
    const Tensor h =
        ops::bias_add(ops::matmul(ops::flatten(ti), fc_w.value(), false, true), fc_b.value());
    return ops::add(h, ops::reduce_mean(h, {}, false));
  }
  Parameter conv_w, scale, shift, mean, var, divisor, fc_w, fc_b;
};

// Every Pad mode and fill, each spelled its own way in MindIR (Pad, PadV3, MirrorPad) and ONNX
// (Pad's modes). Symmetric padding, which ONNX cannot express, only with `symmetric` (exported
// to MindIR alone).
class PadNet : public nn::Cell {
 public:
  explicit PadNet(bool symmetric) : nn::Cell("PadNet"), symmetric_(symmetric) {
    reflect = register_cell("reflect", nn::Pad({{0, 0}, {1, 0}, {2, 1}, {0, 3}}, "REFLECT"));
  }
  Value construct(const std::vector<Value>& inputs) override {
    const Tensor x = inputs.at(0).tensor();                         // (2, 4, 6, 6)
    Tensor y = ops::pad(x, {{0, 0}, {0, 0}, {1, 2}, {0, 1}}, 0.5);  // (2, 4, 9, 7)
    y = (*reflect)(y);                                              // (2, 5, 12, 10)
    y = ops::pad(y, {{0, 0}, {0, 0}, {2, 0}, {1, 3}}, "edge");      // (2, 5, 14, 14)
    y = ops::pad(ops::relu(y), {{1, 0}, {0, 0}, {1, 1}, {0, 0}});   // (3, 5, 16, 14)
    if (symmetric_) y = ops::pad(y, {{0, 0}, {2, 1}, {0, 0}, {3, 3}}, "symmetric");
    return ops::pad(y, {{0, 0}, {0, 0}, {0, 0}, {2, 2}}, "constant", -1.25);
  }
  std::shared_ptr<nn::PadImpl> reflect;

 private:
  bool symmetric_;
};

void write(nn::Cell& net, const Tensor& x, const fs::path& dir, const std::string& name,
           bool onnx = true) {
  net.set_train(false);
  const Tensor y = net(x);
  fs::path path;
  if (onnx) path = export_model(net, {x}, (dir / name).string(), FileFormat::ONNX);
  path = export_model(net, {x}, (dir / name).string(), FileFormat::MINDIR);
  cellar::write_npy(x, dir / (name + "_input.npy"));
  cellar::write_npy(y, dir / (name + "_output.npy"));
  std::cout << path.string() << " " << y.shape() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: export_models OUT_DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir);
  try {
    Generator data(2026);
    {
      Generator gen(1);
      auto mlp =
          nn::SequentialCell({nn::Flatten(), nn::Dense({.in = 784, .out = 512, .generator = &gen}),
                              nn::ReLU(), nn::Dense({.in = 512, .out = 512, .generator = &gen}),
                              nn::ReLU(), nn::Dense({.in = 512, .out = 10, .generator = &gen})});
      write(*mlp, uniform(data, {1, 1, 28, 28}, -1, 1), dir, "mlp");
    }
    {
      Generator gen(2);
      auto lenet = models::LeNet5({.generator = &gen});
      write(*lenet, uniform(data, {2, 1, 32, 32}, -1, 1), dir, "lenet5");
    }
    {
      Generator gen(3);
      auto resnet = models::resnet18({.num_classes = 10, .generator = &gen});
      write(*resnet, uniform(data, {1, 3, 32, 32}, -1, 1), dir, "resnet18");
    }
    {
      Generator gen(4);
      auto net = std::make_shared<OpsNet>(gen);
      write(*net, uniform(data, {2, 4, 6, 6}, -1, 1), dir, "ops");
    }
    {
      PadNet pad(false), pad_symmetric(true);
      const Tensor x = uniform(data, {2, 4, 6, 6}, -1, 1);
      write(pad, x, dir, "pad");
      write(pad_symmetric, x, dir, "pad_symmetric", /*onnx=*/false);  // ONNX has no symmetric
    }
  } catch (const std::exception& e) {
    std::cerr << "export_models: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
