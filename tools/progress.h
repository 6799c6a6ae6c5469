// A progress bar on stderr for long work: reading or writing a file over 256 MiB. It is drawn
// only when stderr is a terminal; otherwise (pipes, files, CI logs) nothing at all is printed.
//
//   reading model.ckpt  [##########----------]  48%  1.2 GiB / 2.5 GiB
//
// The line is redrawn in place ("\r") at most ten times a second and erased when the work ends,
// so the command's own output (on stdout) is never interleaved with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cellar::cli {

// Work on fewer bytes than this finishes in well under a second: no bar.
inline constexpr uint64_t kProgressThreshold = uint64_t{256} << 20;

class Progress {
 public:
  // Enabled when `total` exceeds kProgressThreshold and stderr is a terminal.
  Progress(std::string label, uint64_t total);
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  void update(uint64_t done);
  // Erases the bar (idempotent).
  void finish();

 private:
  void draw(uint64_t done);
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Reads `path` once from start to end with a bar, so that the loader that maps it next finds it in
// the page cache: the slow part of loading a large file is this I/O, and this is where the user
// can watch it. Does nothing (no read at all) when the bar would not be shown.
void read_ahead_with_progress(const std::string& path);

// Runs `write` (which writes about `expected_bytes` to a file) while a bar follows the bytes this
// process hands to write(2), as counted by the kernel in /proc/self/io (wchar). Without a bar,
// or where /proc/self/io is unavailable, it simply runs `write`. Exceptions propagate.
void with_write_progress(const std::string& label, uint64_t expected_bytes,
                         const std::function<void()>& write);

}  // namespace cellar::cli
