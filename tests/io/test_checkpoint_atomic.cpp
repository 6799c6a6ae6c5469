// Atomic saves under SIGKILL: a child process saves a 12 MiB checkpoint over an existing file and
// is killed at moments spread over the save (before it starts, while it writes, around the
// rename, after it ends). A kill during fsync waits for the fsync to end (the process is in the
// kernel), so each step costs about one fsync: some 3 s in all. The target must always be
// byte-identical to the old file or to the complete new one, and leftovers must be the hidden
// temporary files only, never the target. And (where strace can run) the system calls of a save:
// fsync of the data, rename, then fsync of the folder.
#include <cellar/cellar.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "test_util.h"

namespace {

using cellar::DType;
using cellar::ParamDict;
using cellar::Tensor;
using cellar::testing::list_dir;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Tensor dense(DType dtype, cellar::Shape shape, uint32_t seed) {
  Tensor t(dtype, std::move(shape));
  auto* p = t.raw_data();
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < t.nbytes(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<std::byte>(x >> 24);
  }
  return t;
}

// Forks a child that saves `params` to `path` and exits; returns its pid.
pid_t spawn_save(const ParamDict& params, const fs::path& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      cellar::save_checkpoint(params, path);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  return pid;
}

TEST(CheckpointAtomic, AKilledSaveLeavesTheOldFileOrTheNewOneNeverATornOne) {
  TempDir dir;
  ParamDict old_params, new_params;
  old_params.set("a", dense(DType::Float32, {256, 1024}, 1));  // 1 MiB
  for (int i = 0; i < 6; ++i)                                  // 12 MiB
    new_params.set("layer" + std::to_string(i) + ".weight",
                   dense(DType::Float32, {512, 1024}, 10 + i));
  const fs::path target = dir / "model.ckpt";
  cellar::save_checkpoint(old_params, dir / "old.ref");
  cellar::save_checkpoint(new_params, dir / "new.ref");
  const auto old_bytes = read_bytes(dir / "old.ref");
  const auto new_bytes = read_bytes(dir / "new.ref");
  fs::remove(dir / "old.ref");
  fs::remove(dir / "new.ref");

  // How long a whole save takes in a child, fork to exit.
  cellar::save_checkpoint(old_params, target);
  auto t0 = Clock::now();
  int status = 0;
  pid_t pid = spawn_save(new_params, target);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto full = Clock::now() - t0;
  ASSERT_EQ(read_bytes(target), new_bytes);

  const std::regex temp_name(R"(\.model\.ckpt\.tmp-[A-Za-z0-9]{6})");
  int saw_old = 0, saw_new = 0, saw_temp = 0;
  auto has_temp = [&] {
    for (const auto& name : list_dir(dir.path()))
      if (std::regex_match(name, temp_name)) return true;
    return false;
  };
  // Kill moments: 0 to 1.1 × the measured save time in 12 steps, up to eight rounds (timing on a
  // busy machine varies; every outcome is checked, and the spread must hit all three cases). Three
  // steps are anchored to what the child has done rather than to the clock, because on a loaded
  // machine a child may run several times slower than the measured save: step 0 kills at once,
  // step 6 as soon as the temporary file appears, step 12 once the child has exited (or after
  // 20 × the measured time).
  for (int round = 0; round < 8; ++round) {
    for (int k = 0; k <= 12; ++k) {
      SCOPED_TRACE("round " + std::to_string(round) + ", step " + std::to_string(k));
      cellar::testing::write_bytes(target, old_bytes);  // no fsync needed to set the scene
      pid = spawn_save(new_params, target);
      ASSERT_GT(pid, 0);
      const auto deadline = Clock::now() + full * 20;
      bool reaped = false;
      if (k == 6) {
        while (!has_temp() && Clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else if (k == 12) {
        while (!(reaped = ::waitpid(pid, &status, WNOHANG) == pid) && Clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else if (k > 0) {
        std::this_thread::sleep_for(full * k * 11 / 120);
      }
      if (!reaped) {  // a reaped pid may already belong to another process: never signal it
        ::kill(pid, SIGKILL);
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      }

      const auto now = read_bytes(target);
      const bool is_old = now == old_bytes, is_new = now == new_bytes;
      ASSERT_TRUE(is_old || is_new) << "torn target: " << now.size() << " bytes";
      saw_old += is_old;
      saw_new += is_new;
      // The target loads; anything else in the folder is a hidden temporary file of this save.
      EXPECT_EQ(cellar::load_checkpoint(target).size(), is_old ? 1u : 6u);
      for (const auto& name : list_dir(dir.path())) {
        if (name == "model.ckpt") continue;
        EXPECT_TRUE(std::regex_match(name, temp_name)) << name;
        ++saw_temp;
        fs::remove(dir / name);
      }
    }
    if (saw_old && saw_new && saw_temp) break;
  }
  std::cerr << "[ info ] save of 12 MiB takes "
            << std::chrono::duration<double, std::milli>(full).count() << " ms; kills left the old "
            << "file " << saw_old << "×, the new one " << saw_new << "×, a stray temporary file "
            << saw_temp << "×\n";
  EXPECT_GT(saw_old, 0);
  EXPECT_GT(saw_new, 0);
  EXPECT_GT(saw_temp, 0) << "no kill landed while the child was writing";
  // A later save over the same target works as usual.
  cellar::save_checkpoint(new_params, target);
  EXPECT_EQ(read_bytes(target), new_bytes);
}

// Leftovers of killed saves do not pile up: a save removes the temporary files of earlier saves to
// the same target whose writer is gone, and leaves alone those of a save still running (its
// writer holds a lock on it) and anything that is not such a temporary file.
TEST(CheckpointAtomic, ASaveRemovesTheTemporaryFilesOfDeadSavesOnly) {
  TempDir dir;
  ParamDict params;
  params.set("w", dense(DType::Float32, {4, 4}, 3));
  const fs::path target = dir / "model.ckpt";
  const std::vector<std::string> stale = {".model.ckpt.tmp-a1B2c3", ".model.ckpt.tmp-ZZZZZZ"};
  const std::vector<std::string> kept = {".model.ckpt.tmp-abc",      // not mkostemp's suffix
                                         ".model.ckpt.tmp-abcdefg",  // nor this
                                         ".other.ckpt.tmp-a1B2c3",   // another target's
                                         "model.ckpt.tmp-a1B2c3"};   // not hidden
  for (const auto& n : stale) cellar::testing::write_bytes(dir / n, {std::byte{1}});
  for (const auto& n : kept) cellar::testing::write_bytes(dir / n, {std::byte{1}});
  // A save in progress elsewhere: its temporary file is locked.
  const fs::path live = dir / ".model.ckpt.tmp-L1v3ee";
  cellar::testing::write_bytes(live, {std::byte{1}});
  const int live_fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);
  // A folder with a temporary file's name is not a file: left alone.
  fs::create_directory(dir / ".model.ckpt.tmp-D1rect");

  cellar::save_checkpoint(params, target);
  for (const auto& n : stale) EXPECT_FALSE(fs::exists(dir / n)) << n;
  for (const auto& n : kept) EXPECT_TRUE(fs::exists(dir / n)) << n;
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::is_directory(dir / ".model.ckpt.tmp-D1rect"));
  EXPECT_EQ(cellar::load_checkpoint(target).size(), 1u);

  // Once the other save is gone (its lock with it), the next save removes its leftover too.
  ::close(live_fd);
  cellar::save_checkpoint(params, target);
  EXPECT_FALSE(fs::exists(live));
}

// A save killed with SIGKILL leaves a temporary file behind; the next save to the target
// removes it.
TEST(CheckpointAtomic, TheNextSaveRemovesWhatAKilledSaveLeft) {
  TempDir dir;
  ParamDict params;
  for (int i = 0; i < 8; ++i)
    params.set("p" + std::to_string(i), dense(DType::Float32, {512, 1024}, 40 + i));
  const fs::path target = dir / "model.ckpt";
  const std::regex temp_name(R"(\.model\.ckpt\.tmp-[A-Za-z0-9]{6})");
  auto temps = [&] {
    int n = 0;
    for (const auto& name : list_dir(dir.path())) n += std::regex_match(name, temp_name);
    return n;
  };
  // Kill children until one dies mid-save (its temporary file exists and is not renamed yet):
  // each is killed as soon as its temporary file shows, not after a guessed delay.
  for (int tries = 0; tries < 50 && temps() == 0; ++tries) {
    const pid_t pid = spawn_save(params, target);
    ASSERT_GT(pid, 0);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (temps() == 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  }
  ASSERT_GT(temps(), 0) << "no kill landed while the child was writing";
  cellar::save_checkpoint(params, target);
  EXPECT_EQ(temps(), 0);
  EXPECT_EQ(cellar::load_checkpoint(target).size(), 8u);
}

// The system calls of a save, as strace records them: the temporary file is fsynced before it is
// renamed over the target, and the folder is opened and fsynced after the rename.
TEST(CheckpointAtomic, FsyncsTheDataThenRenamesThenFsyncsTheFolder) {
  if (std::system("strace -V > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "FOLDER-FSYNC CHECK NOT RUN: strace is not installed";
  TempDir dir;
  const fs::path log = dir / "strace.log";
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  // (LeakSanitizer cannot run under ptrace: off in the traced child of a sanitized build.)
  const std::string cmd = "ASAN_OPTIONS=detect_leaks=0 CELLAR_ATOMIC_SAVE_ONCE='" +
                          (dir / "m.ckpt").string() + "' strace -f -o '" + log.string() +
                          "' -e trace=openat,fsync,fdatasync,rename,renameat,renameat2,close '" +
                          self + "' --gtest_filter=CheckpointAtomic.SaveOnce > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0)
    GTEST_SKIP() << "FOLDER-FSYNC CHECK NOT RUN: strace cannot trace here (ptrace refused?)";
  std::ifstream in(log);
  std::string line;
  // Follow the temporary file's descriptor and the folder's.
  std::string tmp_fd, dir_fd;
  enum { kOpen, kDataSynced, kRenamed, kDirOpened, kDirSynced } state = kOpen;
  const std::regex open_tmp(R"(openat\(.*\.m\.ckpt\.tmp-\w+", .*\) = (\d+))");
  const std::string dir_open = "openat(AT_FDCWD, \"" + dir.path().string() + "\", ";
  const std::regex result(R"(\) = (\d+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, open_tmp)) tmp_fd = m[1];
    if (state == kOpen && !tmp_fd.empty() &&
        line.find("fsync(" + tmp_fd + ")") != std::string::npos)
      state = kDataSynced;
    if (state == kDataSynced && line.find("rename") != std::string::npos &&
        line.find("m.ckpt\"") != std::string::npos)
      state = kRenamed;
    if (state == kRenamed && line.find(dir_open) != std::string::npos &&
        line.find("O_DIRECTORY") != std::string::npos && std::regex_search(line, m, result)) {
      dir_fd = m[1];
      state = kDirOpened;
    }
    if (state == kDirOpened && line.find("fsync(" + dir_fd + ")") != std::string::npos)
      state = kDirSynced;
  }
  EXPECT_EQ(state, kDirSynced) << "the strace log (" << log << ") lacks the fsync → rename → "
                               << "folder fsync sequence";
  EXPECT_TRUE(fs::exists(dir / "m.ckpt"));
}

// Helper for the test above (run under strace in a child); does nothing otherwise.
TEST(CheckpointAtomic, SaveOnce) {
  const char* path = std::getenv("CELLAR_ATOMIC_SAVE_ONCE");
  if (path == nullptr) GTEST_SKIP() << "helper of FsyncsTheDataThenRenamesThenFsyncsTheFolder";
  ParamDict p;
  p.set("w", Tensor::scalar<float>(1.f));
  cellar::save_checkpoint(p, path);
}

}  // namespace
