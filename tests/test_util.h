// Helpers shared by the tests: scratch folders, file bytes, child processes.
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
// The whole file as text (bytes unchanged); empty when it cannot be read.
std::string read_text(const std::filesystem::path& p);
void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes);
// The bytes of `s` (a serialized protobuf, say) as the whole file `p`.
void write_string(const std::filesystem::path& p, std::string_view s);
// ../shared/conformance/<name>
std::filesystem::path conformance(const std::string& name);
// Files in `dir` (names only), sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);

// What a child process did: its exit status (-1 when it did not exit normally or could not be
// started, `err` then saying why) and everything it wrote to stdout and stderr.
struct ProcessResult {
  int status = -1;
  std::string out, err;
};

// Runs `program` with `args` in a fresh process (its peak RSS its own) with the test's
// environment, stdout and stderr captured in files (no pipe to drain), and waits for it.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args);

}  // namespace cellar::testing
