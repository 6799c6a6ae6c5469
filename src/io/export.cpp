#include "cellar/io/export.h"

#include <array>
#include <cstring>
#include <fstream>
#include <optional>

#include "core/gcc_false_positives.h"
#include "formats/crypto.h"
#include "formats/format.h"
#include "formats/mindir.h"
#include "formats/onnx.h"
#include "ir/trace.h"

namespace cellar {

ir::Graph trace(nn::Cell& net, const std::vector<Tensor>& inputs) {
  ir::Tracer tracer(net);
  std::vector<Value> args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || x.dtype() == DType::String)
      throw ExportError("export input " + std::to_string(i) + " must be a numeric tensor");
    CELLAR_GCC_IGNORE("-Wrestrict")  // gcc 12 PR105329: "x" + std::string
    args.emplace_back(
        tracer.add_input(inputs.size() == 1 ? "x" : "x" + std::to_string(i), x.dtype(), x.shape()));
    CELLAR_GCC_IGNORE_END
  }
  const Value result = net.construct(args);
  tracer.set_outputs(result, net.cls_name());
  ir::Graph g = tracer.finish();
  g.name = net.cls_name();
  g.validate();
  return g;
}

std::filesystem::path export_model(nn::Cell& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format) {
  return export_model(net, inputs, file_name, format, ExportOptions{});
}

std::filesystem::path export_model(nn::Cell& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format,
                                   const ExportOptions& options) {
  // Trace fully before touching the file system: a refused export writes nothing.
  return export_graph(trace(net, inputs), file_name, format, options);
}

namespace {

std::optional<formats::MindIRCipher> cipher(const std::string& key, const std::string& mode) {
  if (key.empty()) return std::nullopt;
  formats::MindIRCipher c;
  c.mode = formats::parse_enc_mode(mode);
  c.key.resize(key.size());
  std::memcpy(c.key.data(), key.data(), key.size());
  formats::check_key(c.key, c.mode);
  return c;
}

std::filesystem::path folder_of(const std::filesystem::path& path) {
  return path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
}

}  // namespace

std::filesystem::path export_graph(const ir::Graph& graph, const std::string& file_name,
                                   FileFormat format, const ExportOptions& options) {
  graph.validate();
  if (format == FileFormat::MINDIR) {
    std::filesystem::path stem = file_name;
    if (stem.extension() == ".mindir") stem.replace_extension();
    return formats::save_mindir(graph, stem, {.enc = cipher(options.enc_key, options.enc_mode)});
  }
  if (!options.enc_key.empty())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "enc_key: only MindIR files are encrypted (MindSpore encrypts ONNX only with "
                     "a custom function)");
  const formats::GraphFormat& fmt =
      format == FileFormat::ONNX ? formats::onnx_format() : formats::mindir_format();
  std::filesystem::path path = file_name;
  if (path.extension() != fmt.extension()) path += std::string(fmt.extension());
  formats::AtomicFile out(path);
  fmt.write(graph, out);
  out.commit();
  return path;
}

ir::Graph load(const std::filesystem::path& path) { return load(path, GraphLoadOptions{}); }

ir::Graph load(const std::filesystem::path& path, const GraphLoadOptions& options) {
  std::array<char, 64> head{};
  size_t head_n = 0;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw IoError("cannot open", {path.string()});
    f.read(head.data(), head.size());
    head_n = static_cast<size_t>(f.gcount());
  }
  const std::span<const std::byte> bytes{reinterpret_cast<const std::byte*>(head.data()), head_n};
  if (formats::is_encrypted(bytes)) {
    // MindSpore encrypts MindIR (export's enc_key) with the same block layer as checkpoints.
    const auto mode = formats::encrypted_mode(bytes);
    if (options.dec_key.empty())
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted (") + formats::to_string(*mode) +
                      "); pass dec_key and dec_mode",
                  {path.string()});
    auto dec = cipher(options.dec_key, options.dec_mode);
    if (dec->mode != *mode)
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted with ") + formats::to_string(*mode) +
                      ", not " + options.dec_mode,
                  {path.string()});
    const auto file = MappedFile::open(path);
    const std::vector<std::byte> plain =
        formats::decrypt({file->data(), file->size()}, dec->key, dec->mode, path.string());
    if (!formats::mindir_format().sniff(plain))
      throw Error(ErrorCode::kCrypto,
                  "decrypted bytes are not a MindIR model (wrong key or not a MindIR file)",
                  {path.string()});
    ir::Graph g = formats::read_mindir(plain, path.string(),
                                       {.base_dir = folder_of(path), .dec = std::move(dec)});
    g.validate(path.string());
    return g;
  }
  // ONNX files start with ir_version (a varint), MindIR files with a string field; a file named
  // .onnx goes to the ONNX reader, which says what is wrong with it.
  const formats::GraphFormat* fmt = nullptr;
  if (formats::onnx_format().sniff(bytes) || path.extension() == ".onnx")
    fmt = &formats::onnx_format();
  else if (formats::mindir_format().sniff(bytes)) {
    // Read here rather than through the format: a plain model may name encrypted data files.
    const auto file = MappedFile::open(path);
    ir::Graph g = formats::read_mindir(
        {file->data(), file->size()}, path.string(),
        {.base_dir = folder_of(path), .dec = cipher(options.dec_key, options.dec_mode)});
    g.validate(path.string());
    return g;
  } else
    throw FormatError("not a MindIR or ONNX file (unrecognised leading bytes)", {path.string()});
  ir::Graph g = fmt->read(path);
  g.validate(path.string());
  return g;
}

}  // namespace cellar
