// MindSpore's "Save and Load" walkthrough in C++: build a network, save its weights, load them
// into a fresh network, export network and weights to MindIR, load that file and run it.
// Then the same with a checkpoint MindSpore itself wrote.
//
// usage: save_load [--out DIR] [--shared DIR]
//   --out     where model.ckpt and model.mindir are written (default: the current folder)
//   --shared  the folder holding conformance/mindspore-mlp-tutorial.ckpt (default: ../shared)
#include <cellar/cellar.h>

#include <cstring>
#include <filesystem>
#include <iostream>

namespace nn = cellar::nn;
namespace fs = std::filesystem;

auto network() {
  return nn::SequentialCell({nn::Flatten(), nn::Dense(28 * 28, 512), nn::ReLU(),
                             nn::Dense(512, 512), nn::ReLU(), nn::Dense(512, 10)});
}

// The quick-start tutorial's class: a Cell holding `flatten` and `dense_relu_sequential`, whose
// parameter names are those of the checkpoint MindSpore wrote.
class Network : public nn::Cell {
 public:
  Network() : Cell("Network") {
    flatten_ = register_cell("flatten", nn::Flatten());
    dense_relu_sequential_ =
        register_cell("dense_relu_sequential",
                      nn::SequentialCell({nn::Dense(28 * 28, 512), nn::ReLU(), nn::Dense(512, 512),
                                          nn::ReLU(), nn::Dense(512, 10)}));
  }
  cellar::Value construct(const std::vector<cellar::Value>& inputs) override {
    cellar::Tensor x = (*flatten_)(inputs.at(0).tensor());
    return (*dense_relu_sequential_)(x);
  }

 private:
  std::shared_ptr<nn::FlattenImpl> flatten_;
  std::shared_ptr<nn::SequentialCellImpl> dense_relu_sequential_;
};

int main(int argc, char** argv) {
  fs::path out = ".", shared = "../shared";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else if (!std::strcmp(argv[i], "--shared") && i + 1 < argc)
      shared = argv[++i];
    else {
      std::cerr << "usage: save_load [--out DIR] [--shared DIR]\n";
      return 2;
    }
  }
  try {
    fs::create_directories(out);
    out = fs::canonical(out);

    // 1. Save the weights of a freshly initialised network.
    auto model = network();
    cellar::save_checkpoint(model, out / "model.ckpt");

    // 2. Load them into a fresh network: nothing is missing.
    auto model2 = network();
    auto param_dict = cellar::load_checkpoint(out / "model.ckpt");
    auto [param_not_load, ckpt_not_load] = cellar::load_param_into_net(model2, param_dict);
    std::cout << param_not_load << "\n";

    // 3. Export network and weights to MindIR for a 1×1×28×28 input, load the file, run it.
    auto inputs = cellar::ones({1, 1, 28, 28}, cellar::float32);
    cellar::export_model(model2, {inputs}, (out / "model").string(), cellar::FileFormat::MINDIR);
    auto graph = cellar::load(out / "model.mindir");
    nn::GraphCell cell(graph);
    std::cout << cell(inputs).shape() << "\n";

    // 4. A checkpoint MindSpore wrote (the quick-start tutorial's trained MLP).
    const fs::path ms_ckpt = shared / "conformance" / "mindspore-mlp-tutorial.ckpt";
    auto trained = std::make_shared<Network>();
    auto ms_params = cellar::load_checkpoint(ms_ckpt);
    auto [not_loaded, unused] = cellar::load_param_into_net(trained, ms_params);
    std::cout << not_loaded << "\n";
    cellar::export_model(trained, {inputs}, (out / "mindspore-mlp").string(),
                         cellar::FileFormat::MINDIR);
    nn::GraphCell trained_cell(cellar::load(out / "mindspore-mlp.mindir"));
    cellar::Tensor logits = trained_cell(inputs);
    cellar::Tensor eager = (*trained)(inputs);
    double max_diff = 0;
    for (int64_t i = 0; i < logits.numel(); ++i)
      max_diff =
          std::max(max_diff, double(std::abs(logits.data<float>()[i] - eager.data<float>()[i])));
    std::cout << "MindSpore's trained MLP from " << ms_ckpt.filename().string() << ": output "
              << logits.shape() << ", " << logits << ", GraphCell vs eager max |diff| " << max_diff
              << "\n";
    std::cout << "files: " << (out / "model.ckpt").string() << ", "
              << (out / "model.mindir").string() << ", " << (out / "mindspore-mlp.mindir").string()
              << "\n";
  } catch (const cellar::Error& e) {
    std::cerr << "save_load: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
