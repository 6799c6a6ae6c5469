// `cellar convert IN OUT`: checkpoints between .ckpt and .safetensors, graphs between MindIR and
// ONNX; optionally casting floating tensors, adding a CRC, encrypting or decrypting.
#include <filesystem>
#include <iostream>

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

Written convert_checkpoint(const ConvertArgs& a, FileKind to, const KeyOptions& dec,
                           const std::string& enc_key) {
  const NamedTensorList list = load_tensors(a.in, dec);
  std::optional<DType> target;
  if (!a.dtype.empty()) target = parse_dtype(a.dtype);
  Written w{a.out};
  ParamDict dict;
  for (const auto& [name, t] : list.tensors) {
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
    w.path =
        export_graph(g, a.out, to == FileKind::kOnnx ? FileFormat::ONNX : FileFormat::MINDIR, eo)
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
      "convert", "Convert between .ckpt and .safetensors, or between .mindir and .onnx");
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
  add_max_constant_option(sub, &args->max_constant_mib);
  sub->footer(
      "Examples:\n"
      "  cellar convert model.ckpt model.safetensors\n"
      "  cellar convert model.safetensors half.ckpt --dtype float16 --crc\n"
      "  cellar convert model.mindir model.onnx\n"
      "  cellar convert model.onnx secret.mindir --enc-key-file key.bin --enc-mode AES-CBC");
  return {sub, [args] { return run_convert(*args); }};
}

}  // namespace cellar::cli
