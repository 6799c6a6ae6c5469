// The C++ side of tests/python/test_safetensors_interop.py: moves tensors between cellar's
// safetensors reader/writer and plain files that Python reads and writes without cellar.
//
//   safetensors_io save MANIFEST.json OUT.safetensors
//       MANIFEST is [{"name": str, "dtype": "F32"…, "shape": [int…], "file": "raw bytes path"}…];
//       each tensor's little-endian C-order bytes are read from its file and the dict is saved
//       with cellar::save_checkpoint(format = kSafetensors), in manifest order.
//   safetensors_io load IN.safetensors OUTDIR
//       cellar::load_checkpoint(IN) (the format recognised from the bytes), then writes
//       OUTDIR/manifest.json in the same form, one OUTDIR/<index>.bin per tensor, in the order
//       the loader returns them.
//
// dtypes are spelled as the safetensors format spells them (formats/safetensors.h). Errors go to
// stderr with exit status 1.
#include <cellar/cellar.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), {}};
}

int save(const fs::path& manifest, const fs::path& out) {
  const std::vector<char> text = slurp(manifest);
  const json m = json::parse(text.begin(), text.end());
  cellar::ParamDict dict;
  for (const json& e : m) {
    const std::string dtype_name = e.at("dtype").get<std::string>();
    const auto dtype = cellar::formats::safetensors::dtype_from_name(dtype_name);
    if (!dtype) throw std::runtime_error("unknown dtype " + dtype_name);
    cellar::Tensor t(*dtype, cellar::Shape(e.at("shape").get<std::vector<int64_t>>()));
    const std::vector<char> bytes = slurp(manifest.parent_path() / e.at("file").get<std::string>());
    if (bytes.size() != t.nbytes())
      throw std::runtime_error(e.at("name").get<std::string>() + ": " +
                               std::to_string(bytes.size()) + " bytes, want " +
                               std::to_string(t.nbytes()));
    if (!bytes.empty()) std::memcpy(t.raw_data(), bytes.data(), bytes.size());
    dict.set(e.at("name").get<std::string>(), std::move(t));
  }
  cellar::SaveOptions options;
  options.format = cellar::CheckpointFormat::kSafetensors;
  cellar::save_checkpoint(dict, out, options);
  return 0;
}

int load(const fs::path& in, const fs::path& out_dir) {
  const cellar::ParamDict dict = cellar::load_checkpoint(in);
  fs::create_directories(out_dir);
  json m = json::array();
  size_t i = 0;
  for (const auto& [name, p] : dict) {
    const cellar::Tensor& t = p.data();
    const auto dtype = cellar::formats::safetensors::dtype_name(t.dtype());
    if (!dtype) throw std::runtime_error(name + ": no safetensors dtype");
    const std::string file = std::to_string(i++) + ".bin";
    std::ofstream(out_dir / file, std::ios::binary)
        .write(reinterpret_cast<const char*>(t.raw_data()),
               static_cast<std::streamsize>(t.nbytes()));
    m.push_back({{"name", name},
                 {"dtype", std::string(*dtype)},
                 {"shape", t.shape().dims()},
                 {"file", file}});
  }
  std::ofstream(out_dir / "manifest.json") << m.dump();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "save") return save(argv[2], argv[3]);
    if (argc == 4 && std::string(argv[1]) == "load") return load(argv[2], argv[3]);
    std::cerr << "usage: safetensors_io save MANIFEST.json OUT.safetensors\n"
                 "       safetensors_io load IN.safetensors OUTDIR\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "safetensors_io: " << e.what() << "\n";
    return 1;
  }
}
