// cellar's Communicator over an MPI communicator, for save_checkpoint_collective
// (cellar/io/collective.h). Header-only: include it in a program built with MPI (mpicxx, or CMake's
// MPI::MPI_CXX); libcellar itself does not link MPI. MPI_Init must have been called.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cellar/io/collective.h"
#include "cellar/visibility.h"

// Inline, header-only: the markers only keep the installed-headers check uniform.
CELLAR_API_BEGIN

namespace cellar {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Two steps: the lengths (MPI_Allgather), then the bytes (MPI_Allgatherv). A rank's part is
  // limited to INT_MAX bytes by MPI's counts; what cellar sends is names and short reports.
  std::vector<std::string> all_gather(const std::string& mine) override {
    if (mine.size() > static_cast<size_t>(INT32_MAX))
      throw std::length_error("MpiCommunicator::all_gather: more than INT_MAX bytes");
    const int len = static_cast<int>(mine.size());
    std::vector<int> lens(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      if (total > INT32_MAX) throw std::length_error("MpiCommunicator::all_gather: too many bytes");
      offsets[static_cast<size_t>(r)] = static_cast<int>(total);
      total += lens[static_cast<size_t>(r)];
    }
    if (total > INT32_MAX) throw std::length_error("MpiCommunicator::all_gather: too many bytes");
    std::string all(static_cast<size_t>(total), '\0');
    check(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(),
                         MPI_CHAR, comm_),
          "MPI_Allgatherv");
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r)
      out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                               static_cast<size_t>(lens[static_cast<size_t>(r)])));
    return out;
  }

 private:
  static void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw std::runtime_error(std::string(what) + " failed");
  }
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace cellar

CELLAR_API_END
