// copy_checkpoint: a checkpoint into another layout in memory that does not grow with it.
//
// The load is load_checkpoint's, lazy as always (tensors view the mapped file or copy it on first
// use, which here never comes), plus where each tensor's bytes lie in its file. The output is
// written around the page cache where its file system allows O_DIRECT (formats/atomic_file.h,
// Cache::kBypass: a few 4 MiB buffers, a writer thread). The writers take every tensor's bytes
// through StreamBytes: read from the source file 8 MiB at a time into one buffer (or, if the file
// cannot be opened again, from its mapped pages, dropped from the resident set with
// MADV_DONTNEED right after they are written); or, where the output goes through the page cache
// and a tensor keeps its offset within a page, copy_file_range from the source file (page cache
// to page cache, as cp copies; nothing passes through this process). So the peak resident memory
// is the writer's buffers, the 8 MiB step and the headers: tests/io/
// test_checkpoint_stream_large.cpp measures about 20 MiB for a 3 GiB checkpoint.
#include "cellar/io/stream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "cellar/error.h"
#include "formats/atomic_file.h"
#include "io/checkpoint_internal.h"

namespace cellar {

namespace {

constexpr uint64_t kStepBytes = uint64_t{8} << 20;

class StreamBytes final : public formats::EntryBytes {
 public:
  StreamBytes(const io::Locations& where, uint64_t total,
              const std::function<void(uint64_t, uint64_t)>& progress)
      : where_(where), total_(total), progress_(progress) {}
  ~StreamBytes() override {
    for (const auto& [_, fd] : fds_)
      if (fd >= 0) ::close(fd);
  }
  StreamBytes(const StreamBytes&) = delete;
  StreamBytes& operator=(const StreamBytes&) = delete;

  void write(const Tensor& t, uint64_t begin, uint64_t n, formats::ByteSink& out,
             const Visitor* seen) const override {
    const io::Location* loc = locate(t);
    if (!loc) {
      EntryBytes::write(t, begin, n, out, seen);
      advance(n);
      return;
    }
    auto* file = dynamic_cast<formats::AtomicFile*>(&out);
    for_range(*loc, begin, n, [&](uint64_t off, uint64_t k) {
      // By the kernel when the bytes keep their offset within a page (cp's copy); otherwise read
      // into a buffer placed like the source and copied into the writer's buffer, placed like
      // the output: two aligned kernel copies and a user-space one cost less than one misaligned
      // kernel copy (formats/atomic_file.h).
      if (!seen && file && file->kernel_copy_aligned(off)) {
        const int fd = fd_for(*loc);
        if (fd >= 0 && file->copy_from(fd, off, k)) {
          kernel_ += k;
          advance(k);
          return;
        }
      }
      from_pages(*loc, off, k, [&](std::span<const std::byte> s) {
        out.write(s);
        if (seen) (*seen)(s);
      });
    });
  }

  void visit(const Tensor& t, const Visitor& seen) const override {
    const io::Location* loc = locate(t);
    if (!loc) return EntryBytes::visit(t, seen);
    // Seen, not written: no progress.
    for_range(*loc, 0, t.nbytes(),
              [&](uint64_t off, uint64_t k) { from_pages(*loc, off, k, seen, /*count=*/false); });
  }

  uint64_t copied_in_kernel() const { return kernel_; }

 private:
  // The location of t's bytes, when t is a whole located tensor.
  const io::Location* locate(const Tensor& t) const {
    if (!t.storage() || t.storage_offset() != 0) return nullptr;
    const auto it = where_.find(t.storage().get());
    if (it == where_.end()) return nullptr;
    uint64_t sum = 0;
    for (const auto& [_, n] : it->second.pieces) sum += n;
    return sum == t.nbytes() ? &it->second : nullptr;
  }

  // f(file offset, length) for the runs of the file that hold bytes [begin, begin + n).
  template <class F>
  static void for_range(const io::Location& loc, uint64_t begin, uint64_t n, F&& f) {
    for (const auto& [off, size] : loc.pieces) {
      if (n == 0) return;
      if (begin >= size) {
        begin -= size;
        continue;
      }
      const uint64_t k = std::min(size - begin, n);
      f(off + begin, k);
      n -= k;
      begin = 0;
    }
  }

  // Hands `use` the file's bytes [off, off + k) a step at a time: read with pread(2) into one
  // reused buffer (no page faults, nothing left resident), or where the file cannot be opened,
  // from the mapping, whose whole pages are dropped after each step. The mapping is the file's
  // own (located files are never private copies) and nothing writes it: dropped pages read back
  // from the page cache.
  template <class F>
  void from_pages(const io::Location& loc, uint64_t off, uint64_t k, F&& use,
                  bool count = true) const {
    static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::byte* base = loc.file->data();
    const int fd = fd_for(loc);
    for (uint64_t at = off; at < off + k;) {
      const uint64_t m = std::min(kStepBytes, off + k - at);
      const std::byte* read = fd >= 0 ? read_step(fd, at, m) : nullptr;
      if (read) {
        use(std::span<const std::byte>(read, m));
        at += m;
        if (count) advance(m);
        continue;
      }
      use(std::span<const std::byte>(base + at, m));
      const auto lo = (reinterpret_cast<uintptr_t>(base + at) + page - 1) / page * page;
      const auto hi = reinterpret_cast<uintptr_t>(base + at + m) / page * page;
      if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
      at += m;
      if (count) advance(m);
    }
  }

  // Bytes [at, at + m) of `fd` into buffer_, at an address with the offset within a page that
  // `at` has (the kernel's copy is then aligned); returns where they start, or null when the file
  // no longer has them (the mapping, checked when loaded, is used instead).
  const std::byte* read_step(int fd, uint64_t at, uint64_t m) const {
    constexpr uint64_t kPage = 4096;
    buffer_.resize(kStepBytes + kPage);
    const auto base = reinterpret_cast<uintptr_t>(buffer_.data());
    std::byte* to = buffer_.data() + (at - base) % kPage;
    uint64_t got = 0;
    while (got < m) {
      const ssize_t r = ::pread(fd, to + got, m - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return nullptr;
      got += static_cast<uint64_t>(r);
    }
    return to;
  }

  // The source file opened for copy_file_range and pread, once per file; -1 when it cannot be, or
  // when the file at its path is no longer the size of the mapping (then the mapped bytes are
  // written).
  int fd_for(const io::Location& loc) const {
    const auto it = fds_.find(loc.file.get());
    if (it != fds_.end()) return it->second;
    const int fd = io::reopen_mapped(*loc.file);
    fds_.emplace(loc.file.get(), fd);
    return fd;
  }

  void advance(uint64_t n) const {
    done_ += n;
    if (progress_) progress_(done_, total_);
  }

  const io::Locations& where_;
  uint64_t total_;
  const std::function<void(uint64_t, uint64_t)>& progress_;
  mutable std::unordered_map<const MappedFile*, int> fds_;
  mutable uint64_t done_ = 0;
  mutable uint64_t kernel_ = 0;
  mutable std::vector<std::byte> buffer_;
};

}  // namespace

int io::reopen_mapped(const MappedFile& mapped) {
  int fd = ::open(mapped.path().c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
                  static_cast<uint64_t>(st.st_size) != mapped.size())) {
    ::close(fd);
    fd = -1;
  }
  if (fd >= 0) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

CopyCheckpointReport copy_checkpoint(const std::filesystem::path& src,
                                     const std::filesystem::path& dst,
                                     const CopyCheckpointOptions& options,
                                     const LoadOptions& load) {
  io::Locations where;
  ParamDict dict = io::load_checkpoint_located(src, load, &where);
  if (!options.name_map.empty()) {
    dict = options.name_map.apply(dict);
    if (dict.empty())
      throw Error(ErrorCode::kNotFound, "the name map leaves no entries to write", {src.string()});
  }
  formats::NamedTensors entries;
  entries.reserve(dict.size());
  CopyCheckpointReport report;
  for (const auto& [name, p] : dict) {
    entries.emplace_back(name, p.data());
    report.tensor_bytes += p.data().dtype() == DType::String ? 0 : p.data().nbytes();
  }
  dict = ParamDict();
  report.tensors = entries.size();
  SaveOptions o;
  o.format = options.format;
  o.max_shard_size = options.max_shard_size;
  o.crc_check = options.crc_check;
  o.enc_key = options.enc_key;
  o.enc_mode = options.enc_mode;
  const StreamBytes bytes(where, report.tensor_bytes, options.progress);
  io::write_checkpoint_entries(entries, dst, o, bytes);
  report.copied_in_kernel = bytes.copied_in_kernel();
  return report;
}

}  // namespace cellar
