// save_checkpoint_collective across real processes: Open MPI ranks on localhost
// (`mpirun -np 4 --oversubscribe`), each saving its own tensors into one sharded checkpoint.
//
//   mpi_ranks [gtest flags]           under mpirun: the GoogleTest cases below, on every rank
//   mpi_ranks save DIR [KILL_RANK KILL_AT]
//                                     under mpirun: a collective save of DIR/model.safetensors;
//                                     with KILL_RANK, that rank SIGKILLs itself as it enters its
//                                     KILL_AT-th collective step (1-based; see collective.h)
//   mpi_ranks verify DIR              no MPI: after a killed save, DIR holds no index and every
//                                     shard-named file there is a whole checkpoint
// tests/mpi/check_killed_rank.cmake drives the last two (ctest mpi_killed_rank).
#include <gtest/gtest.h>
#include <mpi.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "cellar/cellar.h"
#include "cellar/io/collective.h"
#include "cellar/io/mpi.h"

using namespace cellar;
namespace fs = std::filesystem;

namespace {

// Rank r's tensors: "rank<r>.w<i>" for i ≤ r, (r + 1) · 4 KiB each, values that name them.
ParamDict rank_params(int r) {
  ParamDict d;
  for (int i = 0; i <= r; ++i) {
    std::vector<float> v(static_cast<size_t>(1024 * (r + 1)));
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(r * 100 + i) + k * 1e-3f;
    d.set("rank" + std::to_string(r) + ".w" + std::to_string(i),
          Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())}));
  }
  return d;
}

// The MPI communicator, with a rank that dies on entering a chosen collective step.
class DyingCommunicator final : public Communicator {
 public:
  DyingCommunicator(int kill_rank, int kill_at) : kill_rank_(kill_rank), kill_at_(kill_at) {}
  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::vector<std::string> all_gather(const std::string& mine) override {
    if (++step_ == kill_at_ && mpi_.rank() == kill_rank_) std::raise(SIGKILL);
    return mpi_.all_gather(mine);
  }

 private:
  MpiCommunicator mpi_;
  int kill_rank_, kill_at_;
  int step_ = 0;
};

fs::path shared_dir() {
  // Every rank must name the same folder: rank 0 makes it and broadcasts its name.
  std::string name(256, '\0');
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    const fs::path p = fs::temp_directory_path() / ("cellar-mpi-" + std::to_string(::getpid()) +
                                                    "-" + std::to_string(std::rand()));
    fs::create_directories(p);
    name = p.string();
    name.resize(256, '\0');
  }
  MPI_Bcast(name.data(), 256, MPI_CHAR, 0, MPI_COMM_WORLD);
  return fs::path(name.c_str());
}

TEST(MpiCollective, EveryRankSavesItsTensorsAndLoadsItsOwnShard) {
  MpiCommunicator comm;
  const fs::path dir = shared_dir();
  const fs::path index =
      save_checkpoint_collective(rank_params(comm.rank()), dir / "model.safetensors", comm);
  EXPECT_EQ(index, dir / "model.safetensors.index.json");
  ASSERT_TRUE(fs::exists(index)) << "the index exists at every rank once the call returns";
  // Each rank reads its own slice back (only its shard is opened) ...
  LoadOptions mine;
  mine.specify_prefix = {"rank" + std::to_string(comm.rank()) + "."};
  const ParamDict back = load_checkpoint(index, mine);
  const ParamDict want = rank_params(comm.rank());
  ASSERT_EQ(back.size(), want.size());
  for (const auto& [name, p] : want) EXPECT_TRUE(back.at(name).data().equal(p.data())) << name;
  // ... and the whole checkpoint is every rank's tensors.
  const ParamDict all = load_checkpoint(index);
  size_t expected = 0;
  for (int r = 0; r < comm.size(); ++r) expected += static_cast<size_t>(r + 1);
  EXPECT_EQ(all.size(), expected);
  MPI_Barrier(MPI_COMM_WORLD);
  if (comm.rank() == 0) fs::remove_all(dir);
}

TEST(MpiCollective, ANameOnTwoRanksFailsOnEveryRank) {
  MpiCommunicator comm;
  const fs::path dir = shared_dir();
  ParamDict d = rank_params(comm.rank());
  d.set("shared.bias", Tensor::scalar<float>(1));  // on every rank
  try {
    save_checkpoint_collective(d, dir / "model.ckpt", comm);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'shared.bias' is held by rank 0 and rank 1"),
              std::string::npos)
        << e.what();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_TRUE(fs::is_empty(dir));
  MPI_Barrier(MPI_COMM_WORLD);
  if (comm.rank() == 0) fs::remove_all(dir);
}

int save_mode(const fs::path& dir, int kill_rank, int kill_at) {
  DyingCommunicator comm(kill_rank, kill_at);
  save_checkpoint_collective(rank_params(comm.rank()), dir / "model.safetensors", comm);
  return 0;
}

int verify_mode(const fs::path& dir) {
  int bad = 0;
  if (fs::exists(dir / "model.safetensors.index.json")) {
    std::cerr << "an index was written although a rank died\n";
    ++bad;
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (!n.starts_with("model-") || !n.ends_with(".safetensors")) continue;
    try {
      const ParamDict d = load_checkpoint(e.path());
      std::cout << n << ": whole, " << d.size() << " tensors\n";
    } catch (const Error& err) {
      std::cerr << n << " is torn: " << err.what() << "\n";
      ++bad;
    }
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "verify" && argc == 3) return verify_mode(argv[2]);
  MPI_Init(&argc, &argv);
  int rc = 0;
  if (mode == "save" && (argc == 3 || argc == 5)) {
    rc =
        save_mode(argv[2], argc == 5 ? std::atoi(argv[3]) : -1, argc == 5 ? std::atoi(argv[4]) : 0);
  } else {
    ::testing::InitGoogleTest(&argc, argv);
    rc = RUN_ALL_TESTS();
  }
  MPI_Finalize();
  return rc;
}
