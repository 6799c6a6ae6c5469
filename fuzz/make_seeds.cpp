// Writes the seed corpora under fuzz/corpus/ (committed): a few tiny, valid files of each format,
// written by cellar itself, so the fuzzer starts from inputs that reach deep into the readers.
// Built with the fuzz targets (target fuzz_make_seeds); run it again when a writer changes:
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus
#include <cellar/cellar.h>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;
namespace nn = cellar::nn;

namespace {

void checkpoints(const fs::path& dir) {
  using cellar::Tensor;
  fs::create_directories(dir);
  cellar::save_checkpoint(
      cellar::ParamDict{{"w", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})}},
      dir / "one-float32.ckpt");
  cellar::save_checkpoint(cellar::ParamDict{{"layer.weight", cellar::ones({4}, cellar::float16)},
                                            {"step", Tensor::scalar<int32_t>(7)},
                                            {"mask", cellar::zeros({2, 2}, cellar::bool_)},
                                            {"q", cellar::ones({3}, cellar::int8)},
                                            {"bf", cellar::ones({2}, cellar::bfloat16)}},
                          dir / "mixed-dtypes.ckpt");
  cellar::SaveOptions append;
  append.append_dict = {{"epoch", int64_t{3}}, {"lr", 0.01}, {"done", true}, {"note", "hi"}};
  cellar::save_checkpoint(cellar::ParamDict{{"b", cellar::zeros({2}, cellar::float64)}},
                          dir / "append-dict.ckpt", append);
  cellar::SaveOptions crc;
  crc.crc_check = true;
  cellar::save_checkpoint(cellar::ParamDict{{"a", cellar::ones({1, 2}, cellar::float32)},
                                            {"c", cellar::ones({2}, cellar::uint16)}},
                          dir / "crc.ckpt", crc);
}

void mindir(const fs::path& dir) {
  fs::create_directories(dir);
  cellar::Generator g(1);
  auto dense = nn::Dense({.in = 4, .out = 3, .generator = &g});
  cellar::export_model(dense, {cellar::ones({2, 4})}, (dir / "dense").string(),
                       cellar::FileFormat::MINDIR);
  auto mlp = nn::SequentialCell({nn::Flatten(), nn::Dense({.in = 12, .out = 5, .generator = &g}),
                                 nn::ReLU(), nn::Dense({.in = 5, .out = 2, .generator = &g})});
  cellar::export_model(mlp, {cellar::ones({1, 3, 4})}, (dir / "mlp").string(),
                       cellar::FileFormat::MINDIR);
  auto nobias = nn::SequentialCell(
      {nn::Dense({.in = 3, .out = 2, .has_bias = false, .generator = &g}), nn::ReLU()});
  cellar::export_model(nobias, {cellar::ones({1, 3})}, (dir / "nobias").string(),
                       cellar::FileFormat::MINDIR);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_DIR   (writes CORPUS_DIR/{ckpt,mindir}/*)\n";
    return 2;
  }
  try {
    checkpoints(fs::path(argv[1]) / "ckpt");
    mindir(fs::path(argv[1]) / "mindir");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
