#include "cellar/io/export.h"

#include <array>
#include <cstring>
#include <fstream>
#include <optional>

#include "cellar/io/external_data.h"
#include "cellar/io/inspect.h"
#include "formats/crypto.h"
#include "formats/format.h"
#include "ir/trace.h"

namespace cellar {

ir::Graph trace(nn::Cell& net, const std::vector<Tensor>& inputs) {
  ir::Tracer tracer(net);
  std::vector<Value> args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || x.dtype() == DType::String)
      throw ExportError("export input " + std::to_string(i) + " must be a numeric tensor");
    args.emplace_back(
        tracer.add_input(inputs.size() == 1 ? "x" : "x" + std::to_string(i), x.dtype(), x.shape()));
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

std::filesystem::path folder_of(const std::filesystem::path& path) {
  return path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
}

}  // namespace

std::filesystem::path export_graph(const ir::Graph& graph, const std::string& file_name,
                                   FileFormat format, const ExportOptions& options) {
  return export_graph(graph, file_name, format, options, ExternalDataOptions{.always = false});
}

std::filesystem::path export_graph(const ir::Graph& graph, const std::string& file_name,
                                   FileFormat format, const ExportOptions& options,
                                   const ExternalDataOptions& external) {
  graph.validate();
  // The writers spell some ops with the sizes they were planned at (an ONNX Reshape's target, a
  // MindIR node's recorded shape), so a symbolic graph would be written for one size only.
  for (int v : graph.inputs)
    if (graph.value(v).symbolic())
      throw ExportError("input '" + graph.value(v).name + "' has the symbolic shape " +
                            graph.value(v).shape_str() +
                            ": exporting graphs with symbolic dimensions is not supported; load "
                            "the model, resize it or export from a Cell traced at fixed sizes",
                        {.tensor = graph.value(v).name});
  const formats::GraphFormat& fmt =
      formats::format_for(format == FileFormat::ONNX ? FileKind::kOnnx : FileKind::kMindIR);
  std::filesystem::path path = file_name;
  if (path.extension() != fmt.extension()) path += std::string(fmt.extension());
  // The format refuses a cipher it cannot write (ONNX) before it writes anything.
  return fmt.write(graph, path,
                   {.external_data = external.always,
                    .enc = formats::make_cipher(options.enc_key, options.enc_mode)});
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
  // The bytes decide; a file whose bytes no format claims goes by its extension to the reader
  // that says what is wrong with it.
  const std::optional<FileKind> kind = detect(bytes, path);
  if (kind != FileKind::kMindIR && kind != FileKind::kOnnx && kind != FileKind::kEncrypted)
    throw FormatError("not a MindIR or ONNX file (unrecognised leading bytes)", {path.string()});
  // A MindIR model, plain or not, may name encrypted data files: the cipher goes to its reader.
  formats::GraphReadOptions read_options{
      .base_dir = folder_of(path), .max_load_constant_bytes = options.max_load_constant_bytes};
  if (kind != FileKind::kOnnx)
    read_options.dec = formats::make_cipher(options.dec_key, options.dec_mode);
  if (kind == FileKind::kEncrypted) {
    // MindSpore encrypts MindIR (export's enc_key) with the same block layer as checkpoints.
    const auto mode = formats::encrypted_mode(bytes);
    if (options.dec_key.empty())
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted (") + formats::to_string(*mode) +
                      "); pass dec_key and dec_mode",
                  {path.string()});
    if (read_options.dec->mode != *mode)
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted with ") + formats::to_string(*mode) +
                      ", not " + options.dec_mode,
                  {path.string()});
    const auto plain = formats::plaintext(MappedFile::open(path), read_options.dec, "the file");
    const std::span<const std::byte> plain_bytes{plain->data(), plain->size()};
    if (!formats::mindir_format().sniff(plain_bytes))
      throw Error(ErrorCode::kCrypto,
                  "decrypted bytes are not a MindIR model (wrong key or not a MindIR file)",
                  {path.string()});
    read_options.source = plain;
    ir::Graph g = formats::mindir_format().read(plain_bytes, path.string(), read_options);
    g.validate(path.string());
    return g;
  }
  const auto file = MappedFile::open(path);
  read_options.source = file;
  ir::Graph g =
      formats::format_for(*kind).read({file->data(), file->size()}, path.string(), read_options);
  g.validate(path.string());
  return g;
}

}  // namespace cellar
