// Writes the seed corpora under fuzz/corpus/ (committed): a few tiny, valid files of each format,
// written by cellar itself, so the fuzzer starts from inputs that reach deep into the readers.
// Built with the fuzz targets (target fuzz_make_seeds); run it again when a writer changes:
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus
#include <cellar/cellar.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "formats/crypto.h"

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

void safetensors(const fs::path& dir) {
  using cellar::Tensor;
  fs::create_directories(dir);
  cellar::SaveOptions st;
  st.format = cellar::CheckpointFormat::kSafetensors;
  cellar::save_checkpoint(
      cellar::ParamDict{{"w", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})}},
      dir / "one-float32.safetensors", st);
  cellar::save_checkpoint(cellar::ParamDict{{"layer.weight", cellar::ones({4}, cellar::float16)},
                                            {"step", Tensor::scalar<int32_t>(7)},
                                            {"mask", cellar::zeros({2, 2}, cellar::bool_)},
                                            {"q", cellar::ones({3}, cellar::int8)},
                                            {"bf", cellar::ones({2}, cellar::bfloat16)},
                                            {"d", cellar::ones({1}, cellar::float64)},
                                            {"u", cellar::ones({2}, cellar::uint64)},
                                            {"e", cellar::zeros({0, 3}, cellar::float32)}},
                          dir / "mixed-dtypes.safetensors", st);
  cellar::SaveOptions crc = st;
  crc.crc_check = true;
  cellar::save_checkpoint(cellar::ParamDict{{"a", cellar::ones({1, 2}, cellar::float32)},
                                            {"c", cellar::ones({2}, cellar::uint16)}},
                          dir / "crc.safetensors", crc);
}

// Seeds for fuzz_decrypt: byte 0 picks the mode and key (see fuzz_decrypt.cpp), the rest is a
// small .ckpt encrypted with that key, in blocks of 64 bytes so the seeds hold several blocks.
void encrypted(const fs::path& ckpt_dir, const fs::path& dir) {
  fs::create_directories(dir);
  struct Choice {
    cellar::formats::EncMode mode;
    size_t key_len;
    const char* name;
  };
  const Choice choices[] = {{cellar::formats::EncMode::kAesGcm, 16, "gcm16"},
                            {cellar::formats::EncMode::kAesCbc, 16, "cbc16"},
                            {cellar::formats::EncMode::kSm4Cbc, 16, "sm4"},
                            {cellar::formats::EncMode::kAesGcm, 24, "gcm24"},
                            {cellar::formats::EncMode::kAesCbc, 32, "cbc32"}};
  std::ifstream in(ckpt_dir / "mixed-dtypes.ckpt", std::ios::binary);
  const std::vector<char> plain((std::istreambuf_iterator<char>(in)), {});
  for (size_t i = 0; i < std::size(choices); ++i) {
    std::vector<std::byte> key(choices[i].key_len);
    for (size_t k = 0; k < key.size(); ++k) key[k] = static_cast<std::byte>(k);
    const auto cipher = cellar::formats::encrypt(std::as_bytes(std::span(plain)), key,
                                                 choices[i].mode, /*block_size=*/64);
    std::ofstream out(dir / (std::string(choices[i].name) + ".bin"), std::ios::binary);
    const char mode_byte = static_cast<char>(i);
    out.write(&mode_byte, 1);
    out.write(reinterpret_cast<const char*>(cipher.data()),
              static_cast<std::streamsize>(cipher.size()));
  }
}

void onnx(const fs::path& dir) {
  fs::create_directories(dir);
  cellar::Generator g(1);
  auto mlp = nn::SequentialCell({nn::Flatten(), nn::Dense({.in = 12, .out = 5, .generator = &g}),
                                 nn::ReLU(), nn::Dense({.in = 5, .out = 2, .generator = &g})});
  cellar::export_model(mlp, {cellar::ones({1, 3, 4})}, (dir / "mlp").string(),
                       cellar::FileFormat::ONNX);
  auto nobias = nn::SequentialCell(
      {nn::Dense({.in = 3, .out = 2, .has_bias = false, .generator = &g}), nn::Sigmoid()});
  cellar::export_model(nobias, {cellar::ones({1, 3})}, (dir / "nobias").string(),
                       cellar::FileFormat::ONNX);
  auto conv = nn::SequentialCell({nn::Conv2d({.in_channels = 1,
                                              .out_channels = 2,
                                              .kernel_size = {3, 3},
                                              .has_bias = true,
                                              .generator = &g}),
                                  nn::ReLU(), nn::MaxPool2d(2, 2), nn::Flatten()});
  cellar::export_model(conv, {cellar::ones({1, 1, 6, 6})}, (dir / "conv").string(),
                       cellar::FileFormat::ONNX);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_DIR   (writes "
                 "CORPUS_DIR/{ckpt,mindir,safetensors,decrypt,onnx}/*)\n";
    return 2;
  }
  try {
    checkpoints(fs::path(argv[1]) / "ckpt");
    mindir(fs::path(argv[1]) / "mindir");
    safetensors(fs::path(argv[1]) / "safetensors");
    encrypted(fs::path(argv[1]) / "ckpt", fs::path(argv[1]) / "decrypt");
    onnx(fs::path(argv[1]) / "onnx");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
