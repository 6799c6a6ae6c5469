#include "cellar/io/export.h"

#include <array>
#include <fstream>

#include "formats/format.h"
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
    args.emplace_back(tracer.add_input(inputs.size() == 1 ? "x" : "x" + std::to_string(i), x.dtype(), x.shape()));
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
  // Trace fully before touching the file system: a refused export writes nothing.
  const ir::Graph graph = trace(net, inputs);
  const formats::GraphFormat& fmt =
      format == FileFormat::ONNX ? formats::onnx_format() : formats::mindir_format();
  std::filesystem::path path = file_name;
  if (path.extension() != fmt.extension()) path += std::string(fmt.extension());
  formats::AtomicFile out(path);
  fmt.write(graph, out);
  out.commit();
  return path;
}

ir::Graph load(const std::filesystem::path& path) {
  std::array<char, 64> head{};
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open", {path.string()});
  f.read(head.data(), head.size());
  const auto n = static_cast<size_t>(f.gcount());
  const std::span<const std::byte> bytes{reinterpret_cast<const std::byte*>(head.data()), n};
  // ONNX files start with ir_version (a varint), MindIR files with a string field; a file named
  // .onnx goes to the ONNX reader, which says what is wrong with it.
  const formats::GraphFormat* fmt = nullptr;
  if (formats::onnx_format().sniff(bytes) || path.extension() == ".onnx")
    fmt = &formats::onnx_format();
  else if (formats::mindir_format().sniff(bytes))
    fmt = &formats::mindir_format();
  else
    throw FormatError("not a MindIR or ONNX file (unrecognised leading bytes)", {path.string()});
  ir::Graph g = fmt->read(path);
  g.validate(path.string());
  return g;
}

}  // namespace cellar
