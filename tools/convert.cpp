// `cellar convert IN OUT`: checkpoints between .ckpt and .safetensors, graphs between MindIR and
// ONNX; optionally casting floating tensors, adding a CRC, encrypting or decrypting.
#include <filesystem>
#include <iostream>

#include "cellar/io/external_data.h"
#include "cellar/io/stream.h"
#include "cli.h"
#include "progress.h"

namespace cellar::cli {

namespace {

struct ConvertArgs {
  std::string in, out;
  std::string to;
  std::string dtype;
  bool crc = false;
  std::string enc_key_file, enc_mode = "AES-GCM";
  std::string dec_key_file, dec_mode;
  bool json = false;
  uint64_t max_constant_mib = 0;
  std::string name_map;  // a rule file (cellar/io/name_map.h)
  uint64_t max_shard_mib = 0;
  bool external_data = false;
};

DType parse_dtype(const std::string& s) {
  if (s == "float16") return DType::Float16;
  if (s == "bfloat16") return DType::BFloat16;
  if (s == "float32") return DType::Float32;
  throw UsageError("--dtype " + s + ": expected float16, bfloat16 or float32");
}

struct Written {
  std::string path;
  size_t tensors = 0;
  uint64_t tensor_bytes = 0;
  size_t cast = 0;
};

// Without a cast, the checkpoint is streamed (copy_checkpoint: memory does not grow with it).
Written stream_checkpoint(const ConvertArgs& a, FileKind to, const KeyOptions& dec,
                          const std::string& enc_key) {
  CopyCheckpointOptions o;
  o.format =
      to == FileKind::kSafetensors ? CheckpointFormat::kSafetensors : CheckpointFormat::kCkpt;
  o.max_shard_size = a.max_shard_mib << 20;
  o.crc_check = a.crc;
  if (!enc_key.empty()) {
    if (to != FileKind::kCheckpoint)
      throw UsageError("only .ckpt checkpoints can be encrypted (MindSpore refuses safetensors)");
    o.enc_key = enc_key;
    o.enc_mode = a.enc_mode;
  }
  if (!a.name_map.empty()) o.name_map = NameMap::from_file(a.name_map);
  LoadOptions lo;
  if (!dec.key.empty()) {
    lo.dec_key = dec.key;
    lo.dec_mode =
        is_sharded(a.in) ? (dec.mode.empty() ? "AES-GCM" : dec.mode) : dec_mode_for(a.in, dec);
  }
  std::unique_ptr<Progress> bar;
  o.progress = [&](uint64_t done, uint64_t total) {
    if (!bar) bar = std::make_unique<Progress>("writing " + a.out, total);
    bar->update(done);
  };
  const CopyCheckpointReport r = copy_checkpoint(a.in, a.out, o, lo);
  if (bar) bar->finish();
  Written w{a.out};
  w.tensors = r.tensors;
  w.tensor_bytes = r.tensor_bytes;
  return w;
}

Written convert_checkpoint(const ConvertArgs& a, FileKind to, const KeyOptions& dec,
                           const std::string& enc_key) {
  if (a.external_data)
    throw UsageError(
        "--external-data is for graphs (MindIR, ONNX); checkpoints hold their "
        "tensors themselves");
  if (a.dtype.empty()) return stream_checkpoint(a, to, dec, enc_key);
  const NamedTensorList list = load_tensors(a.in, dec);
  std::optional<DType> target;
  if (!a.dtype.empty()) target = parse_dtype(a.dtype);
  Written w{a.out};
  ParamDict read;
  for (const auto& [name, t] : list.tensors) read.set(name, t);
  if (!a.name_map.empty()) read = NameMap::from_file(a.name_map).apply(read);
  if (read.empty())
    throw Error(ErrorCode::kNotFound, "the name map leaves no entries to write", {a.name_map});
  ParamDict dict;
  for (const auto& [name, p] : read) {
    const Tensor& t = p.data();
    Tensor x = t;
    if (target && is_floating(t.dtype()) && t.dtype() != *target) {
      x = t.to(*target);
      ++w.cast;
    }
    w.tensor_bytes += x.nbytes();
    dict.set(name, std::move(x));
  }
  w.tensors = dict.size();
  SaveOptions o;
  o.crc_check = a.crc;
  o.max_shard_size = a.max_shard_mib << 20;
  o.format =
      to == FileKind::kSafetensors ? CheckpointFormat::kSafetensors : CheckpointFormat::kCkpt;
  if (!enc_key.empty()) {
    if (to != FileKind::kCheckpoint)
      throw UsageError("only .ckpt checkpoints can be encrypted (MindSpore refuses safetensors)");
    o.enc_key = enc_key;
    o.enc_mode = a.enc_mode;
  }
  with_write_progress("writing " + a.out, w.tensor_bytes, [&] { save_checkpoint(dict, a.out, o); });
  return w;
}

Written convert_graph(const ConvertArgs& a, FileKind to, const KeyOptions& dec,
                      const std::string& enc_key) {
  if (!a.dtype.empty())
    throw UsageError("--dtype casts checkpoint tensors; graphs are converted as they are");
  if (a.crc) throw UsageError("--crc is for checkpoints; MindIR and ONNX have no CRC");
  if (!a.name_map.empty())
    throw UsageError("--name-map renames checkpoint entries; graphs are converted as they are");
  if (a.max_shard_mib)
    throw UsageError("--max-shard-mib shards checkpoints; graphs are converted as they are");
  const ir::Graph g = load_graph(a.in, dec, mib_to_bytes(a.max_constant_mib));
  Written w;
  for (const ir::Initializer& init : g.initializers)
    if (init.is_parameter && init.data.defined()) {
      ++w.tensors;
      w.tensor_bytes += init.data.nbytes();
    }
  if (!enc_key.empty() && to != FileKind::kMindIR)
    throw UsageError("only MindIR files can be encrypted, not ONNX");
  // export_graph encrypts as MindSpore's export(enc_key=...) does, external-data files included.
  const ExportOptions eo{.enc_key = enc_key, .enc_mode = a.enc_mode};
  with_write_progress("writing " + a.out, w.tensor_bytes, [&] {
    w.path = export_graph(g, a.out, to == FileKind::kOnnx ? FileFormat::ONNX : FileFormat::MINDIR,
                          eo, ExternalDataOptions{.always = a.external_data})
                 .string();
  });
  return w;
}

int run_convert(const ConvertArgs& a) {
  FileKind to;
  if (!a.to.empty()) {
    to = kind_from_name(a.to);
  } else if (auto k = kind_from_extension(a.out)) {
    to = *k;
  } else {
    throw UsageError(a.out +
                     ": cannot tell the output format from its name; add --to "
                     "ckpt|safetensors|mindir|onnx");
  }
  if (to == FileKind::kPyTorch)
    throw UsageError(a.out +
                     ": cellar reads PyTorch files but does not write them; write .ckpt or "
                     ".safetensors");
  const KeyOptions dec{a.dec_key_file.empty() ? "" : read_key_file(a.dec_key_file), a.dec_mode};
  const std::string enc_key = a.enc_key_file.empty() ? "" : read_key_file(a.enc_key_file);
  if (!enc_key.empty()) {
    // Check key and mode before any work (kInvalidArgument names what is wrong).
    check_key(enc_key, a.enc_mode);
  }
  FileKind from = detect(a.in);
  if (from == FileKind::kEncrypted) {
    if (dec.key.empty())
      throw Error(ErrorCode::kCrypto, "the file is encrypted; pass --dec-key-file", {a.in});
    from = encrypted_content(a.in, dec);
  }
  if (is_graph(from) != is_graph(to))
    throw UsageError(std::string("cannot convert ") +
                     (is_graph(from) ? "a graph" : "a checkpoint") + " (" + kind_name(from) +
                     ") to " + kind_name(to) +
                     ": convert between ckpt and safetensors, or between mindir and onnx");
  const Written w =
      is_graph(to) ? convert_graph(a, to, dec, enc_key) : convert_checkpoint(a, to, dec, enc_key);
  if (a.json) {
    print_json(json{{"in", a.in},
                    {"out", w.path},
                    {"from", kind_name(from)},
                    {"to", kind_name(to)},
                    {"tensors", w.tensors},
                    {"tensor_bytes", w.tensor_bytes},
                    {"cast", w.cast},
                    {"dtype", a.dtype.empty() ? json() : json(a.dtype)},
                    {"crc", a.crc},
                    {"encrypted", enc_key.empty() ? json(false) : json{{"mode", a.enc_mode}}}});
  } else {
    std::cout << "wrote " << w.path << " (" << kind_name(to) << ", " << w.tensors << " tensors, "
              << human_bytes(w.tensor_bytes);
    if (w.cast) std::cout << ", " << w.cast << " cast to " << a.dtype;
    if (a.crc) std::cout << ", with CRC";
    if (!enc_key.empty()) std::cout << ", encrypted " << a.enc_mode;
    std::cout << ")\n";
  }
  return kExitOk;
}

}  // namespace

Command add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* sub = app.add_subcommand(
      "convert",
      "Convert between .ckpt and .safetensors (or from a PyTorch .pt/.pth), or between .mindir "
      "and .onnx");
  sub->add_option("IN", args->in, "the file to read (its format is recognised from its bytes)")
      ->required();
  sub->add_option("OUT", args->out, "the file to write (atomically)")->required();
  sub->add_option("--to", args->to, "ckpt, safetensors, mindir or onnx (default: OUT's suffix)");
  sub->add_option("--dtype", args->dtype,
                  "cast every floating tensor to float16, bfloat16 or float32 (checkpoints)");
  sub->add_flag("--crc", args->crc, "add MindSpore's CRC-32 (checkpoints)");
  sub->add_option("--enc-key-file", args->enc_key_file,
                  "encrypt OUT with this key (the file's bytes: 16, 24 or 32)");
  sub->add_option("--enc-mode", args->enc_mode, "AES-GCM (default), AES-CBC or SM4-CBC");
  sub->add_option("--dec-key-file", args->dec_key_file, "key of an encrypted IN");
  sub->add_option("--dec-mode", args->dec_mode, "IN's mode (default: the one IN's bytes name)");
  sub->add_flag("--json", args->json, "print one JSON object instead of text");
  sub->add_option("--name-map", args->name_map,
                  "rename checkpoint entries by the rules in this file (strip_prefix, "
                  "add_prefix, replace, rename REGEX REPLACEMENT, drop REGEX; see the footer)");
  sub->add_option("--max-shard-mib", args->max_shard_mib,
                  "split the checkpoint written into shards of at most this many MiB, with an "
                  "OUT.index.json (Hugging Face's layout; IN may be such an index or a folder)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  sub->add_flag("--external-data", args->external_data,
                "graphs: write the weights to external data even when small (ONNX: OUT.data "
                "beside OUT; MindIR: OUT_graph.mindir and OUT_variables/), as happens by itself "
                "past 2 GiB (ONNX) or 1 GiB of parameters (MindIR)");
  add_max_constant_option(sub, &args->max_constant_mib);
  sub->footer(
      "Examples:\n"
      "  cellar convert model.ckpt model.safetensors\n"
      "  cellar convert model.safetensors half.ckpt --dtype float16 --crc\n"
      "  cellar convert resnet.pt resnet.ckpt --name-map rules.txt   (PyTorch: read only)\n"
      "  cellar convert hf_model/ model.safetensors --max-shard-mib 2048\n"
      "  cellar convert model.mindir model.onnx\n"
      "  cellar convert model.onnx secret.mindir --enc-key-file key.bin --enc-mode AES-CBC\n\n"
      "Name map files: one rule per line, '#' comments, applied in order to every name:\n"
      "  strip_prefix module.        drop the prefix where a name has it\n"
      "  add_prefix backbone.        prefix every name\n"
      "  replace .bn. .norm.         replace literal text everywhere\n"
      "  rename ^fc\\.(.*) head.$1   regex (ECMAScript) and replacement ($1 groups)\n"
      "  drop num_batches_tracked$   leave out the names the regex finds");
  return {sub, [args] { return run_convert(*args); }};
}

}  // namespace cellar::cli
