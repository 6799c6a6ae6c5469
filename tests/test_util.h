// Helpers shared by the tests: scratch folders and file bytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cellar::testing {

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::vector<std::byte> read_bytes(const std::filesystem::path& p);
void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes);
// The bytes of `s` (a serialized protobuf, say) as the whole file `p`.
void write_string(const std::filesystem::path& p, std::string_view s);
// ../shared/conformance/<name>
std::filesystem::path conformance(const std::string& name);
// Files in `dir` (names only), sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);

}  // namespace cellar::testing
