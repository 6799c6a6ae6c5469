// StoragePool: heap memory for the many small tensors a load makes at once (one file's deferred
// copies, one optimiser run's rewritten weights), carved out of 2 MiB blocks that ask for
// transparent huge pages from the second block on.
//
// Why by hand: every small weight from Storage::allocate is its own malloc block of fresh 4 KiB
// pages, and on this VM each first touch of such a page costs ~3 µs in the kernel: 4K page faults
// were ~20% of mobilenet_v2_100's cold start (docs/benchmarks.md, Session 11). One huge-page
// fault per 2 MiB block instead of 512 small ones; no allocator in Debian's packages offers
// "THP-backed and freed with its last tenant" for a handful of blocks.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

#include "cellar/storage.h"

namespace cellar {

// Gives the pages lying wholly inside [p, p + n) back to the system (MADV_DONTNEED): anonymous
// memory reads back as zeros, a private file mapping refaults from the page cache. For bytes
// nothing will read again; the partial pages at either end stay (they hold someone else's).
void give_back_pages(const std::byte* p, size_t n);
// Maps the pages of [p, p + n) (a file mapping about to be read through) into the process in one
// system call (MADV_POPULATE_READ) instead of a page fault every 64 KiB as a read walks them: ~8 µs
// each on this VM, 13 ms of reading convnext_tiny's 110 MB file, 10.5 ms populated. Best effort
// (a kernel before 5.14 refuses it: the read then faults as before); only bytes about to be read
// in full, since the pages become resident. True when the system mapped them.
bool populate_pages(const std::byte* p, size_t n);

class StoragePool {
 public:
  // Requests up to a block are carved from blocks; larger ones go to Storage::allocate (which
  // gives a block of 2 MiB or more huge pages of its own). A request that does not fit the block
  // being carved starts a new block, and whichever of the two has more room left is carved next;
  // the other's tail is given back (resident with its huge page, and never handed out).
  static constexpr size_t kMaxPooledBytes = size_t{2} << 20;
  // A pool expecting less than a block (a small file) makes its first block on 4 KiB pages: a huge
  // page is resident whole from its first touch, so a file with a few small misaligned tensors
  // would hold 2 MiB for them while it is open. Every other block asks for huge pages.
  static constexpr size_t kBlockBytes = size_t{2} << 20;

  // `expected_bytes`: about how much the pool will hand out (a file's size; the weights an
  // optimiser run rewrites).
  explicit StoragePool(size_t expected_bytes) : small_(expected_bytes < kBlockBytes) {}

  // Bytes for a tensor of `nbytes`, Storage::kAlignment-aligned, not zero-filled. A block lives
  // while its tenants do; a tenant of 64 KiB or more gives its whole pages back to the system
  // when it goes (a weight the optimiser replaced must not stay resident beside its copy), a
  // smaller one with the block. Thread-safe. Throws std::bad_alloc.
  std::shared_ptr<Storage> allocate(size_t nbytes);

  // A deferred copy not yet made (Storage::deferred_copy), of one piece of its file: the file's
  // bytes it would copy into a pool, where they lie (at an address their dtype's typed access may
  // not allow: read them as bytes or by unaligned loads), without making the copy. For a reader
  // that rewrites the bytes into a layout of its own anyway (the optimiser packing a weight),
  // which would otherwise write them twice. nullptr for any other storage, or once the copy is
  // made. Making the copy (which any holder of the storage may do, at any time) gives back the
  // source's pages as it passes them: a file mapping's refault unchanged, but a file read into
  // memory (MappedFile::read) then reads zeros there. So for such a file the bytes are shown only
  // to the storage's `sole_holder`, who keeps the copy from being made while it reads.
  static const std::byte* pending_source(const Storage& st, bool sole_holder);

 private:
  const bool small_;  // first block on 4 KiB pages
  std::mutex mu_;
  std::shared_ptr<std::byte> block_;  // the block being carved
  size_t used_ = 0;                   // bytes of it handed out
};

}  // namespace cellar
