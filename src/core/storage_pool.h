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

class StoragePool {
 public:
  // Requests up to a block are carved from blocks; larger ones go to Storage::allocate (which
  // gives a block of 2 MiB or more huge pages of its own). A request that does not fit the block
  // being carved starts a new block, and whichever of the two has more room left is carved next;
  // the other's tail is given back (resident with its huge page, and never handed out).
  static constexpr size_t kMaxPooledBytes = size_t{2} << 20;
  // A pool's first block keeps 4 KiB pages: a huge page is resident whole from its first touch,
  // and a file with a few small misaligned tensors (one shard of many, a small checkpoint) would
  // then hold 2 MiB for them while it is open. A pool that needs a second block is carving a
  // model's weights, where the huge pages pay (mobilenet_v2_100's first block on 4 KiB pages:
  // 1,000 more page faults, CPU time within the noise of its 15-18 ms cold start).
  static constexpr size_t kBlockBytes = size_t{2} << 20;

  // Bytes for a tensor of `nbytes`, Storage::kAlignment-aligned, not zero-filled. A block lives
  // while its tenants do; a tenant of 64 KiB or more gives its whole pages back to the system
  // when it goes (a weight the optimiser replaced must not stay resident beside its copy), a
  // smaller one with the block. Thread-safe. Throws std::bad_alloc.
  std::shared_ptr<Storage> allocate(size_t nbytes);

 private:
  std::mutex mu_;
  std::shared_ptr<std::byte> block_;  // the block being carved
  size_t used_ = 0;                   // bytes of it handed out
};

}  // namespace cellar
