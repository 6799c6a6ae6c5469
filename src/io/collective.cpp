// save_checkpoint_collective: the protocol is described in cellar/io/collective.h.
#include "cellar/io/collective.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cellar/error.h"
#include "formats/atomic_file.h"
#include "io/sharded.h"

namespace cellar {

namespace {

using json = nlohmann::json;

// A step's outcome at one rank: empty when it went well, else the reason.
using Report = std::string;

std::string failure_of(const std::exception& e) {
  const std::string what = e.what();
  return what.empty() ? "failed" : what;
}

// Every rank's report of one step; throws the same Error at every rank when any failed.
void agree(Communicator& comm, const Report& mine, const std::string& step,
           const std::filesystem::path& path) {
  const std::vector<std::string> all = comm.all_gather(mine);
  std::string failed;
  ErrorCode code = ErrorCode::kIo;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    // A report starts with the error code's letter ('A' argument, 'I' I/O): the first decides.
    if (failed.empty() && all[r][0] == 'A') code = ErrorCode::kInvalidArgument;
    failed +=
        (failed.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": ") + all[r].substr(1);
  }
  if (!failed.empty())
    throw Error(code, "collective save failed while " + step + " (no index written): " + failed,
                {path.string()});
}

Report report(ErrorCode code, const std::string& reason) {
  return (code == ErrorCode::kInvalidArgument ? "A" : "I") + reason;
}

}  // namespace

std::filesystem::path save_checkpoint_collective(const ParamDict& mine,
                                                 const std::filesystem::path& path,
                                                 Communicator& comm, const SaveOptions& options) {
  const int me = comm.rank(), ranks = comm.size();
  if (ranks < 1 || me < 0 || me >= ranks)
    throw ValueError(
        ErrorCode::kInvalidArgument,
        "a communicator of " + std::to_string(ranks) + " ranks has no rank " + std::to_string(me),
        {path.string()});
  const std::filesystem::path index = path.string() + ".index.json";

  // 1. Who holds what: names, bytes and the path, from every rank; checked alike everywhere.
  json j;
  j["path"] = path.string();
  j["tensors"] = json::array();
  for (const auto& [name, p] : mine) j["tensors"].push_back({name, p.data().nbytes()});
  if (options.max_shard_size != 0 || options.async_save) j["bad_options"] = true;
  const std::vector<std::string> all = comm.all_gather(j.dump());
  std::map<std::string, int> owner;                          // tensor → rank
  std::vector<int> shard_of(static_cast<size_t>(ranks), 0);  // rank → k (1-based), 0: no shard
  uint64_t total = 0;
  int shards = 0;
  std::string problem;
  const std::string first = json::parse(all[0]).at("path").get<std::string>();
  for (int r = 0; r < ranks; ++r) {
    const json m = json::parse(all[static_cast<size_t>(r)]);
    if (m.at("path").get<std::string>() != first && problem.empty())
      problem = "rank " + std::to_string(r) + " saves to '" + m.at("path").get<std::string>() +
                "', rank 0 to '" + first + "'";
    if (m.contains("bad_options") && problem.empty())
      problem = "rank " + std::to_string(r) +
                " set max_shard_size or async_save, which a collective save does not take";
    for (const auto& t : m.at("tensors")) {
      const std::string name = t.at(0).get<std::string>();
      if (const auto [it, fresh] = owner.emplace(name, r); !fresh && problem.empty())
        problem = "the tensor '" + name + "' is held by rank " + std::to_string(it->second) +
                  " and rank " + std::to_string(r);
      total += t.at(1).get<uint64_t>();
    }
    if (!m.at("tensors").empty()) shard_of[static_cast<size_t>(r)] = ++shards;
  }
  if (!problem.empty()) throw ValueError(ErrorCode::kInvalidArgument, problem, {path.string()});
  if (shards == 0)
    throw ValueError(ErrorCode::kInvalidArgument, "no rank holds a tensor", {path.string()});
  const auto name_of = [&](int r) {
    return io::shard_name(path, static_cast<size_t>(shard_of[static_cast<size_t>(r)]),
                          static_cast<size_t>(shards));
  };

  // Rank 0 takes away an earlier save's index before any shard is replaced, so that no reader
  // ever finds an index naming a mix of old and new shards.
  Report step = "";
  if (me == 0) {
    std::error_code ec;
    std::filesystem::remove(index, ec);
    if (ec) step = report(ErrorCode::kIo, "cannot remove the earlier index: " + ec.message());
  }
  agree(comm, step, "removing the earlier index", index);

  // 2. Each rank its own shard, atomically.
  step.clear();
  if (shard_of[static_cast<size_t>(me)] != 0) {
    try {
      SaveOptions one = options;
      one.max_shard_size = 0;
      one.async_save = false;
      save_checkpoint(mine, path.parent_path() / name_of(me), one).get();
    } catch (const Error& e) {
      step = report(e.code() == ErrorCode::kIo ? ErrorCode::kIo : ErrorCode::kInvalidArgument,
                    failure_of(e));
    } catch (const std::exception& e) {
      step = report(ErrorCode::kIo, failure_of(e));
    }
  }
  // 3. Every shard committed: only then the index, written by rank 0 alone.
  agree(comm, step, "writing the shards", path);
  step.clear();
  if (me == 0) {
    try {
      std::vector<std::pair<std::string, std::string>> weight_map;
      std::set<std::string> names;
      for (const auto& [tensor, r] : owner) weight_map.emplace_back(tensor, name_of(r));
      for (int r = 0; r < ranks; ++r)
        if (shard_of[static_cast<size_t>(r)] != 0) names.insert(name_of(r));
      formats::AtomicFile out(index);
      const std::string text = io::index_json(weight_map, total);
      out.write(text.data(), text.size());
      out.commit();
      std::error_code ec;
      std::filesystem::remove(path, ec);  // a single-file save at the same path is stale now
      for (const auto& s : io::stale_shards(path, names)) std::filesystem::remove(s, ec);
    } catch (const std::exception& e) {
      step = report(ErrorCode::kIo, failure_of(e));
    }
  }
  // 4. Everyone returns once the index exists (or throws with rank 0's reason).
  agree(comm, step, "writing the index", index);
  return index;
}

}  // namespace cellar
