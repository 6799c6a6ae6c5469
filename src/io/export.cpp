#include "cellar/io/export.h"

#include <array>
#include <fstream>

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
  const formats::GraphFormat& fmt = formats::mindir_format();
  (void)format;  // MINDIR is the only format so far
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
  const formats::GraphFormat& fmt = formats::mindir_format();
  if (!fmt.sniff({reinterpret_cast<const std::byte*>(head.data()), n}))
    throw FormatError("not a MindIR file (unrecognised leading bytes)", {path.string()});
  ir::Graph g = fmt.read(path);
  g.validate(path.string());
  return g;
}

}  // namespace cellar
