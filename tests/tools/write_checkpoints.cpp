// Writes the checkpoints tests/python/test_mindspore_interop.py hands to MindSpore's
// load_checkpoint (through tests/fixtures/mindspore/2.10/variants/make_fixtures.py --verify), and a
// manifest.json saying, per file, the names it holds, its append_dict, its encryption and CRC:
//
//   write_checkpoints OUTDIR
//
// The entries are make_fixtures.py's SPECS (same names, dtypes, shapes and values). Files: plain,
// CRC, choice_func, append_dict (+CRC), async_save .ckpt; encrypted .ckpt with append_dict in
// AES-GCM and AES-CBC with 16/24/32-byte keys and SM4-CBC, two of them with crc_check; and
// .safetensors plain, CRC, choice_func and append_dict. Errors go to stderr, exit status 1.
#include <cellar/cellar.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "mindspore_variant_specs.h"

namespace fs = std::filesystem;
using namespace cellar;
using nlohmann::json;
using namespace cellar::testing::variants;

namespace {

json append_json(const std::vector<std::pair<std::string, AppendValue>>& a) {
  json j = json::object();
  for (const auto& [k, v] : a) std::visit([&, &k = k](const auto& x) { j[k] = x; }, v);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_checkpoints OUTDIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    fs::create_directories(out);
    json manifest = json::array();
    auto write = [&](const std::string& file, bool with_bf16, SaveOptions o,
                     json extra = json::object()) {
      const ParamDict params = entries(with_bf16);
      save_checkpoint(params, out / file, o).get();
      json names = json::array();
      for (const auto& [name, p] : params)
        if (!o.choice_func || o.choice_func(name)) names.push_back(name);
      json item = {{"file", file}, {"names", names}, {"crc", o.crc_check}};
      if (!o.append_dict.empty()) item["append"] = append_json(o.append_dict);
      if (extra.is_object()) item.update(extra);
      manifest.push_back(item);
    };
    auto not_u = [](const std::string& n) { return n.rfind("u.", 0) != 0; };
    write("plain.ckpt", true, {});
    write("crc.ckpt", true, {.crc_check = true});
    write("choice.ckpt", true, {.choice_func = not_u});
    write("append.ckpt", true, {.append_dict = append(true)});
    write("append_crc.ckpt", true, {.append_dict = append(true), .crc_check = true});
    struct Enc {
      const char* file;
      const char* mode;
      size_t key_len;
      bool crc;
    };
    const std::string keys[] = {"cellar-aes-key16", "cellar-aes-key-24-bytes!",
                                "cellar-aes-key-32-bytes-long-ok!"};
    for (const Enc& e :
         {Enc{"gcm16.ckpt", "AES-GCM", 16, false}, Enc{"gcm24.ckpt", "AES-GCM", 24, false},
          Enc{"gcm32.ckpt", "AES-GCM", 32, false}, Enc{"cbc16.ckpt", "AES-CBC", 16, false},
          Enc{"cbc24.ckpt", "AES-CBC", 24, false}, Enc{"cbc32.ckpt", "AES-CBC", 32, false},
          Enc{"sm4.ckpt", "SM4-CBC", 16, false}, Enc{"gcm16_crc.ckpt", "AES-GCM", 16, true},
          Enc{"sm4_crc.ckpt", "SM4-CBC", 16, true}}) {
      SaveOptions o;
      o.append_dict = append(true);
      o.crc_check = e.crc;
      o.enc_key = keys[e.key_len / 8 - 2];
      o.enc_mode = e.mode;
      write(e.file, true, o, {{"mode", e.mode}, {"key_len", e.key_len}});
    }
    SaveOptions async;
    async.async_save = true;
    write("async.ckpt", true, async);
    const SaveOptions st{.format = CheckpointFormat::kSafetensors};
    write("plain.safetensors", false, st);
    SaveOptions o = st;
    o.crc_check = true;
    write("crc.safetensors", false, o);
    o = st;
    o.choice_func = not_u;
    write("choice.safetensors", false, o);
    o = st;
    o.append_dict = append(false);
    write("append.safetensors", false, o);
    std::ofstream(out / "manifest.json") << manifest.dump(1);
  } catch (const std::exception& e) {
    std::cerr << "write_checkpoints: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
