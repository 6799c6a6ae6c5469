// MindSpore's "Save and Load" walk in C++, as a program outside cellar's tree would write it:
// build a network, save its weights, load them into a fresh network, export to MindIR, load the
// file and run it. Prints [] (no parameter left unloaded) and (1, 10) (the output's shape).
// model.ckpt and model.mindir are written to the current folder.
#include <cellar/cellar.h>

#include <iostream>

namespace nn = cellar::nn;

auto network() {
  return nn::SequentialCell({nn::Flatten(), nn::Dense(28 * 28, 512), nn::ReLU(),
                             nn::Dense(512, 512), nn::ReLU(), nn::Dense(512, 10)});
}

int main() {
  try {
    auto model = network();
    cellar::save_checkpoint(model, "model.ckpt");

    auto model2 = network();
    auto param_dict = cellar::load_checkpoint("model.ckpt");
    auto [param_not_load, ckpt_not_load] = cellar::load_param_into_net(model2, param_dict);
    std::cout << param_not_load << "\n";  // []

    auto inputs = cellar::ones({1, 1, 28, 28}, cellar::float32);
    cellar::export_model(model2, {inputs}, "model", cellar::FileFormat::MINDIR);  // model.mindir
    auto graph = cellar::load("model.mindir");
    nn::GraphCell cell(graph);
    std::cout << cell(inputs).shape() << "\n";  // (1, 10)
  } catch (const cellar::Error& e) {
    std::cerr << "tutorial: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
