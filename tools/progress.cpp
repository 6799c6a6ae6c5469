#include "progress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <future>
#include <optional>
#include <vector>

#include "cli.h"

namespace cellar::cli {

namespace {

constexpr int kBarWidth = 24;

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void write_stderr(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a terminal that went away: the bar is not worth an error
    off += static_cast<size_t>(n);
  }
}

// Bytes this process has passed to write(2) and friends so far; nullopt without /proc.
std::optional<uint64_t> written_so_far() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value)
    if (key == "wchar:") return value;
  return std::nullopt;
}

}  // namespace

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(total > kProgressThreshold && stderr_is_terminal()) {}

void Progress::update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total_) return;
  last_ = now;
  draw(done);
}

void Progress::draw(uint64_t done) {
  if (done > total_) done = total_;
  const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * kBarWidth);
  std::string bar =
      "\r" + label_ + "  [" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]";
  char pct[16];
  std::snprintf(pct, sizeof pct, " %3d%%  ", static_cast<int>(frac * 100));
  bar += pct + human_bytes(done) + " / " + human_bytes(total_) + "\033[K";
  write_stderr(bar);
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  write_stderr("\r\033[K");  // erase the line: the result is the command's output, not the bar
  drawn_ = false;
  enabled_ = false;
}

void read_ahead_with_progress(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // the loader will say why
  Progress bar("reading " + path, static_cast<uint64_t>(st.st_size));
  if (!bar.enabled()) return;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(size_t{8} << 20);
  uint64_t done = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<uint64_t>(n);
    bar.update(done);
  }
  ::close(fd);
}

void with_write_progress(const std::string& label, uint64_t expected_bytes,
                         const std::function<void()>& write) {
  Progress bar(label, expected_bytes);
  const std::optional<uint64_t> base = bar.enabled() ? written_so_far() : std::nullopt;
  if (!base) {
    write();
    return;
  }
  auto job = std::async(std::launch::async, write);
  while (job.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (auto now = written_so_far()) bar.update(*now - *base);
  }
  bar.finish();
  job.get();  // rethrows what the write threw
}

}  // namespace cellar::cli
