// Sharing the corruption tables with the Python package's tests. When CELLAR_CORRUPT_CASES_DIR
// is set, a table's test copies each hand-made file it refuses into that folder and describes it
// in manifest.jsonl there (one JSON object a line: file, table, what, the C++ error code, the
// load options). tests/python/test_package_bad_input.py runs the tests so and hands every file to
// the package's entry points (cellar.load_checkpoint, cellar.load, safe_open), which must raise
// the same error as a Python exception: the tables are written once, here in C++.
#pragma once

#include <cellar/error.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace cellar::testing {

// `options`: the LoadOptions the case uses, with MindSpore's keyword names (crc_check, dec_key
// as hex, dec_mode).
inline void export_corrupt_case(const std::filesystem::path& file, const std::string& table,
                                const std::string& what, ErrorCode code,
                                const nlohmann::json& options = nlohmann::json::object()) {
  const char* dir = std::getenv("CELLAR_CORRUPT_CASES_DIR");
  if (dir == nullptr || *dir == '\0') return;
  const std::filesystem::path out(dir);
  std::filesystem::create_directories(out);
  const std::string name = table + "-" + file.filename().string();
  std::filesystem::copy_file(file, out / name, std::filesystem::copy_options::overwrite_existing);
  nlohmann::json line = {{"file", name},
                         {"table", table},
                         {"what", what},
                         {"code", to_string(code)},
                         {"options", options}};
  std::ofstream(out / "manifest.jsonl", std::ios::app) << line.dump() << "\n";
}

// Hex of a key's bytes (JSON strings cannot carry arbitrary bytes).
inline std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace cellar::testing
