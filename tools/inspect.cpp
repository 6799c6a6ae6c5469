// `cellar inspect FILE`: what a .ckpt, .safetensors, .mindir or .onnx file holds.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>

#include "cli.h"
#include "model_header.h"
#include "progress.h"
#include "stats.h"

namespace cellar::cli {

namespace {

struct InspectArgs {
  std::string file;
  bool json = false;
  bool stats = false;
  std::string dec_key_file;
  std::string dec_mode;
  uint64_t max_constant_mib = 0;
};

struct Row {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t bytes = 0;
  bool with_bytes = true;
  std::optional<TensorStats> stats;
  // A graph value's symbolic dimensions (ir::ValueInfo::symbols): printed by name, "-1" in JSON.
  std::vector<std::string> symbols = {};
  std::string shape_str() const {
    ir::ValueInfo v;
    v.shape = shape;
    v.symbols = symbols;
    return v.shape_str();
  }
  bool open(size_t d) const { return d < symbols.size() && !symbols[d].empty(); }
};

Row make_row(const std::string& name, const Tensor& t, bool stats, Progress* bar, uint64_t* done) {
  Row r{name, t.dtype(), t.shape(), t.nbytes()};
  if (stats) {
    r.stats = tensor_stats(t);
    *done += t.nbytes();
    if (bar) bar->update(*done);
  }
  return r;
}

std::vector<Row> tensor_rows(const std::vector<std::pair<std::string, Tensor>>& tensors,
                             bool stats) {
  uint64_t total = 0, done = 0;
  for (const auto& [n, t] : tensors) total += t.nbytes();
  Progress bar("statistics", stats ? total : 0);
  std::vector<Row> rows;
  rows.reserve(tensors.size());
  for (const auto& [name, t] : tensors) rows.push_back(make_row(name, t, stats, &bar, &done));
  return rows;
}

void print_rows(const std::vector<Row>& rows) {
  const bool any_stats =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.stats.has_value(); });
  std::vector<std::vector<std::string>> cells;
  if (any_stats) cells.push_back({"name", "dtype", "shape", "bytes", "min", "max", "mean", "nan"});
  for (const Row& r : rows) {
    std::vector<std::string> c{r.name, dtype_str(r.dtype), r.shape_str()};
    if (r.with_bytes) c.push_back(std::to_string(r.bytes));
    if (r.stats && r.stats->numeric) {
      const TensorStats& s = *r.stats;
      const bool any = s.count > 0;
      c.insert(c.end(), {any ? fmt_num(s.min) : "-", any ? fmt_num(s.max) : "-",
                         any ? fmt_num(s.mean) : "-", std::to_string(s.nan_count)});
    }
    cells.push_back(std::move(c));
  }
  print_table(std::cout, cells, "  ");
}

json json_rows(const std::vector<Row>& rows) {
  json a = json::array();
  for (const Row& r : rows) {
    json j = {{"name", r.name}, {"dtype", dtype_str(r.dtype)}, {"shape", r.shape.dims()}};
    if (!r.symbols.empty()) {
      for (size_t d = 0; d < r.shape.rank(); ++d)
        if (r.open(d)) j["shape"][d] = -1;
      j["symbols"] = r.symbols;
    }
    if (r.with_bytes) j["bytes"] = r.bytes;
    if (r.stats && r.stats->numeric) {
      const TensorStats& s = *r.stats;
      const bool any = s.count > 0;
      j["stats"] = {{"min", any ? json_num(s.min) : json(nullptr)},
                    {"max", any ? json_num(s.max) : json(nullptr)},
                    {"mean", any ? json_num(s.mean) : json(nullptr)},
                    {"nan_count", s.nan_count}};
    }
    a.push_back(std::move(j));
  }
  return a;
}

uint64_t total_bytes(const std::vector<Row>& rows) {
  uint64_t n = 0;
  for (const Row& r : rows) n += r.bytes;
  return n;
}

// ---- checkpoints ---------------------------------------------------------------------------

// MindSpore's .ckpt trailer, checked with a progress bar.
CrcCheck ckpt_crc(std::span<const std::byte> f) {
  std::optional<Progress> bar;  // only once a trailer was found
  return checkpoint_crc(f, [&](uint64_t done) {
    if (!bar) bar.emplace("checking CRC", f.size());
    bar->update(done);
  });
}

// A scalar or str entry's value (MindSpore's append_dict writes those), for the metadata list.
json scalar_value(const Tensor& t) {
  if (t.dtype() == DType::String) return t.string_value();
  const auto v = first_values(t, 1);
  if (v.empty()) return nullptr;
  if (t.dtype() == DType::Bool) return v[0] != 0;
  return json_num(v[0]);
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number()) return fmt_num(v.get<double>());
  return v.dump();
}

int inspect_checkpoint(const InspectArgs& a, FileKind kind, const KeyOptions& key,
                       const std::string& enc_mode) {
  // A sharded checkpoint (an index or a folder): its tensors over every shard, the shards named.
  const bool sharded = is_sharded(a.file);
  std::vector<std::filesystem::path> shards;
  std::shared_ptr<MappedFile> file;
  uint64_t file_bytes = 0;
  if (sharded) {
    shards = checkpoint_files(a.file);
    for (const auto& s : shards) file_bytes += std::filesystem::file_size(s);
  } else {
    file = MappedFile::open(a.file);
    file_bytes = file->size();
  }
  const NamedTensorList list = load_tensors(a.file, key);
  const std::vector<Row> rows = tensor_rows(list.tensors, a.stats);

  CrcCheck crc;
  std::vector<std::pair<std::string, std::string>> metadata;  // safetensors __metadata__
  if (sharded) {
    // Per-file CRCs and metadata: `cellar inspect SHARD` shows them.
  } else if (kind == FileKind::kCheckpoint && !enc_mode.empty()) {
    // The trailer is inside the plaintext (MindSpore 2.10's outer one, written with a CRC of 0,
    // is dropped by decryption).
    const auto plain = read_plaintext(a.file, key.key, enc_mode);
    crc = ckpt_crc({plain->data(), plain->size()});
  } else if (kind == FileKind::kCheckpoint) {
    crc = ckpt_crc({file->data(), file->size()});
  } else if (kind == FileKind::kSafetensors) {
    SafetensorsInfo info = inspect_safetensors({file->data(), file->size()}, a.file, list.tensors);
    metadata = std::move(info.metadata);
    crc = info.crc;
  }
  json scalars = json::object();
  for (const auto& [name, t] : list.tensors)
    if (t.rank() == 0 || t.dtype() == DType::String) scalars[name] = scalar_value(t);

  if (a.json) {
    json j{{"file", a.file},
           {"format", kind_name(kind)},
           {"file_bytes", file_bytes},
           {"tensor_count", rows.size()},
           {"tensor_bytes", total_bytes(rows)},
           {"tensors", json_rows(rows)},
           {"scalars", scalars},
           {"crc", {{"present", crc.present}, {"valid", crc.present ? json(crc.valid) : json()}}},
           {"encrypted", enc_mode.empty() ? json(false) : json{{"mode", enc_mode}}}};
    if (kind == FileKind::kSafetensors) {
      json m = json::object();
      for (const auto& [k, v] : metadata) m[k] = v;
      j["metadata"] = m;
    }
    if (sharded) {
      json names = json::array();
      for (const auto& s : shards) names.push_back(s.filename().string());
      j["shards"] = names;
    }
    print_json(j);
    return kExitOk;
  }
  std::cout << "format: " << kind_name(kind)
            << (enc_mode.empty() ? "" : " (encrypted, " + enc_mode + ")")
            << (sharded ? " (sharded: " + std::to_string(shards.size()) + " files)" : "") << '\n';
  std::cout << "tensors: " << rows.size() << " (" << total_bytes(rows) << " bytes, "
            << human_bytes(total_bytes(rows)) << ")\n";
  print_rows(rows);
  if (sharded) {
    for (const auto& s : shards) std::cout << "  shard " << s.filename().string() << '\n';
  }
  if (kind == FileKind::kSafetensors && !sharded) {
    std::cout << "metadata: " << metadata.size() << '\n';
    for (const auto& [k, v] : metadata)
      std::cout << "  " << printable(k) << " = " << printable(v) << '\n';
  }
  if (!scalars.empty()) {
    std::cout << "scalars: " << scalars.size() << '\n';
    for (const auto& [k, v] : scalars.items())
      std::cout << "  " << printable(k) << " = " << printable(scalar_text(v)) << '\n';
  }
  std::cout << "crc: "
            << (!crc.present ? "absent"
                : crc.valid  ? "present, valid"
                             : "present, INVALID")
            << '\n';
  return kExitOk;
}

// ---- graphs --------------------------------------------------------------------------------

// Graphs: the header and the op census come from the file's protobuf alone, so they are shown
// (and the command exits 0) even when cellar cannot load the model; the rest needs the load.
int inspect_graph(const InspectArgs& a, FileKind kind, const KeyOptions& key,
                  const std::string& enc_mode) {
  ModelHeader h;
  std::vector<OpCount> census;
  {
    const auto plain =
        enc_mode.empty() ? MappedFile::open(a.file) : read_plaintext(a.file, key.key, enc_mode);
    const std::span<const std::byte> bytes{plain->data(), plain->size()};
    h = read_model_header(bytes, kind == FileKind::kOnnx);
    census = graph_op_census(bytes, kind, a.file);
  }
  std::optional<ir::Graph> loaded;
  std::string load_error;
  try {
    loaded = load_graph(a.file, key, mib_to_bytes(a.max_constant_mib));
  } catch (const Error& e) {
    load_error = e.what();
  }
  std::vector<std::string> unknown;
  for (const OpCount& c : census)
    if (!c.supported) unknown.push_back(c.op);

  auto io_rows = [&](const std::vector<int>& ids) {
    std::vector<Row> rows;
    for (int id : ids) {
      const ir::ValueInfo& v = loaded->value(id);
      rows.push_back({v.name, v.dtype, v.shape, 0, false, std::nullopt, v.symbols});
    }
    return rows;
  };
  std::vector<Row> inputs, outputs, prows;
  std::vector<std::pair<std::string, size_t>> ops;
  std::vector<std::string> control_flow;
  if (loaded) {
    const ir::Graph& g = *loaded;
    inputs = io_rows(g.inputs);
    outputs = io_rows(g.outputs);
    std::vector<std::pair<std::string, Tensor>> params;
    for (const ir::Initializer& init : g.initializers)
      if (init.is_parameter && init.data.defined())
        params.emplace_back(g.value(init.value).name, init.data);
    prows = tensor_rows(params, a.stats);
    std::map<std::string, size_t> hist;
    for (const ir::Node& n : g.nodes) ++hist[n.op];
    // MindIR loops load as WhileLoop nodes that hold a report of the model's sub-graphs.
    for (const ir::Node& n : g.nodes) {
      if (n.op != "WhileLoop") continue;
      std::string line = "node '" + n.name + "' (WhileLoop, does not run)";
      if (auto it = n.attrs.find("report"); it != n.attrs.end())
        if (const auto* r = std::get_if<std::string>(&it->second)) line += ": " + *r;
      control_flow.push_back(std::move(line));
    }
    ops.assign(hist.begin(), hist.end());
    std::stable_sort(ops.begin(), ops.end(),
                     [](const auto& x, const auto& y) { return x.second > y.second; });
  }

  if (a.json) {
    json j{{"file", a.file},
           {"format", kind_name(kind)},
           {"producer", {{"name", h.producer_name}, {"version", h.producer_version}}},
           {"ir_version", h.ir_version},
           {"model_version", h.model_version}};
    if (kind == FileKind::kOnnx) {
      json o = json::array();
      for (const auto& [d, v] : h.opsets) o.push_back({{"domain", d}, {"version", v}});
      j["opsets"] = o;
    } else {
      j["mind_ir_version"] = h.mind_ir_version;
    }
    j["encrypted"] = enc_mode.empty() ? json(false) : json{{"mode", enc_mode}};
    json jc = json::array();
    for (const OpCount& c : census)
      jc.push_back({{"op", c.op}, {"nodes", c.nodes}, {"supported", c.supported}});
    j["census"] = jc;
    j["unknown_ops"] = unknown;
    j["loads"] = loaded.has_value();
    j["load_error"] = loaded ? json(nullptr) : json(load_error);
    if (loaded) {
      j["symbolic"] = loaded->symbolic();
      json jops = json::object();
      for (const auto& [op, n] : ops) jops[op] = n;
      j["inputs"] = json_rows(inputs);
      j["outputs"] = json_rows(outputs);
      j["parameter_count"] = prows.size();
      j["parameter_bytes"] = total_bytes(prows);
      j["parameters"] = json_rows(prows);
      j["node_count"] = loaded->nodes.size();
      j["ops"] = jops;
      j["control_flow"] = control_flow;
    }
    print_json(j);
    return kExitOk;
  }
  std::cout << "format: " << kind_name(kind)
            << (enc_mode.empty() ? "" : " (encrypted, " + enc_mode + ")") << '\n';
  std::cout << "producer: " << (h.producer_name.empty() ? "(none)" : h.producer_name)
            << (h.producer_version.empty() ? "" : " " + h.producer_version) << '\n';
  std::cout << "ir_version: " << h.ir_version;
  if (kind == FileKind::kOnnx) {
    std::cout << "  opset:";
    for (const auto& [d, v] : h.opsets) std::cout << ' ' << (d.empty() ? "ai.onnx" : d) << '=' << v;
  } else {
    std::cout << "  model_version: " << h.model_version;
  }
  std::cout << '\n';
  if (loaded) {
    std::cout << "inputs: " << inputs.size() << '\n';
    print_rows(inputs);
    std::cout << "outputs: " << outputs.size() << '\n';
    print_rows(outputs);
    std::cout << "parameters: " << prows.size() << " (" << total_bytes(prows) << " bytes, "
              << human_bytes(total_bytes(prows)) << ")\n";
    print_rows(prows);
    std::cout << "nodes: " << loaded->nodes.size() << '\n';
    std::vector<std::vector<std::string>> cells;
    for (const auto& [op, n] : ops) cells.push_back({op, std::to_string(n)});
    print_table(std::cout, cells, "  ");
    for (const std::string& c : control_flow) std::cout << "control flow: " << c << '\n';
  }
  int64_t file_nodes = 0;
  for (const OpCount& c : census) file_nodes += c.nodes;
  std::cout << "file ops: " << census.size() << " types, " << file_nodes << " nodes";
  if (!unknown.empty()) std::cout << " (" << unknown.size() << " unsupported: marked *)";
  std::cout << '\n';
  std::vector<std::vector<std::string>> cells;
  for (const OpCount& c : census)
    cells.push_back({c.op + (c.supported ? "" : " *"), std::to_string(c.nodes)});
  print_table(std::cout, cells, "  ");
  if (!loaded) std::cout << "loads: no: " << load_error << '\n';
  return kExitOk;
}

// ---- encrypted files -----------------------------------------------------------------------

int inspect_encrypted(const InspectArgs& a, const KeyOptions& key) {
  const std::string mode_name = *encryption_mode(read_head(a.file));
  if (key.key.empty()) {
    // Without a key, what can be said: that it is encrypted, and how.
    if (a.json) {
      print_json(json{{"file", a.file},
                      {"format", kind_name(FileKind::kEncrypted)},
                      {"encrypted", {{"mode", mode_name}}}});
    } else {
      std::cout << "format: encrypted (" << mode_name
                << "): a .ckpt or .mindir; pass --dec-key-file to see inside\n";
    }
    return kExitOk;
  }
  const FileKind inner = encrypted_content(a.file, key);
  if (inner == FileKind::kMindIR) return inspect_graph(a, inner, key, mode_name);
  return inspect_checkpoint(a, inner, key, mode_name);
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub =
      app.add_subcommand("inspect", "Show what a .ckpt, .safetensors, .mindir or .onnx file holds");
  sub->add_option("FILE", args->file, "the file (its format is recognised from its bytes)")
      ->required();
  sub->add_flag("--json", args->json, "print one JSON object instead of text");
  sub->add_flag("--stats", args->stats,
                "per tensor: min, max, mean (over non-NaN values) and NaN count");
  sub->add_option("--dec-key-file", args->dec_key_file,
                  "key of an encrypted file (the file's bytes: 16, 24 or 32)");
  sub->add_option("--dec-mode", args->dec_mode,
                  "AES-GCM, AES-CBC or SM4-CBC (default: the mode the file names)");
  add_max_constant_option(sub, &args->max_constant_mib);
  sub->footer(
      "Checkpoints: one line per tensor (name, dtype, shape, bytes), scalar and str entries\n"
      "(MindSpore's append_dict) with their values, safetensors __metadata__, and whether a CRC\n"
      "is present and valid. Graphs: producer, IR and opset versions, inputs, outputs,\n"
      "parameters (count, bytes, one line each), a histogram of the ops (cellar's op names) and\n"
      "the file's op census (its own op names, those cellar lacks marked *); a model cellar\n"
      "cannot load still gets its header and census, with the reason, and exit status 0.\n"
      "An encrypted file without a key: its encryption mode.\n\n"
      "Examples:\n"
      "  cellar inspect model.ckpt\n"
      "  cellar inspect model.safetensors --stats\n"
      "  cellar inspect model.mindir --json\n"
      "  cellar inspect secret.ckpt --dec-key-file key.bin");
  return {sub, [args] {
            KeyOptions key;
            if (!args->dec_key_file.empty()) key.key = read_key_file(args->dec_key_file);
            key.mode = args->dec_mode;
            const FileKind kind = detect(args->file);
            switch (kind) {
              case FileKind::kEncrypted:
                return inspect_encrypted(*args, key);
              case FileKind::kMindIR:
              case FileKind::kOnnx:
                return inspect_graph(*args, kind, key, "");
              default:
                return inspect_checkpoint(*args, kind, key, "");
            }
          }};
}

}  // namespace cellar::cli
