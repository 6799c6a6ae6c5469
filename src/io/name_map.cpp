// NameMap: the rule syntax is in cellar/io/name_map.h.
#include "cellar/io/name_map.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <unordered_map>

#include "cellar/error.h"
#include "cellar/io/checkpoint.h"

namespace cellar {

struct NameMap::Rule {
  enum Kind { kStrip, kAdd, kReplace, kRename, kDrop } kind;
  std::string a, b;  // prefix / old, new / pattern text, replacement
  std::regex re;
};

namespace {

std::regex compile(const std::string& pattern, const std::string& where) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw ValueError(ErrorCode::kInvalidArgument,
                     where + ": invalid regular expression '" + pattern + "': " + e.what());
  }
}

}  // namespace

NameMap& NameMap::strip_prefix(std::string prefix) {
  rules_.push_back(std::make_shared<const Rule>(Rule{Rule::kStrip, std::move(prefix), {}, {}}));
  return *this;
}
NameMap& NameMap::add_prefix(std::string prefix) {
  rules_.push_back(std::make_shared<const Rule>(Rule{Rule::kAdd, std::move(prefix), {}, {}}));
  return *this;
}
NameMap& NameMap::replace(std::string from, std::string to) {
  if (from.empty())
    throw ValueError(ErrorCode::kInvalidArgument, "replace: the text to replace is empty");
  rules_.push_back(
      std::make_shared<const Rule>(Rule{Rule::kReplace, std::move(from), std::move(to), {}}));
  return *this;
}
NameMap& NameMap::rename(const std::string& regex, std::string replacement) {
  rules_.push_back(std::make_shared<const Rule>(
      Rule{Rule::kRename, regex, std::move(replacement), compile(regex, "rename")}));
  return *this;
}
NameMap& NameMap::drop(const std::string& regex) {
  rules_.push_back(
      std::make_shared<const Rule>(Rule{Rule::kDrop, regex, {}, compile(regex, "drop")}));
  return *this;
}

NameMap NameMap::parse(std::string_view text, const std::string& source) {
  NameMap m;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    if (f.empty()) continue;
    const std::string where = source + " line " + std::to_string(n);
    auto want = [&](size_t k, const char* usage) {
      if (f.size() != k)
        throw ValueError(ErrorCode::kInvalidArgument,
                         where + ": '" + f[0] + "' takes " + std::to_string(k - 1) +
                             (k == 2 ? " field" : " fields") + " (" + usage + "), got " +
                             std::to_string(f.size() - 1));
    };
    try {
      if (f[0] == "strip_prefix") {
        want(2, "strip_prefix PREFIX");
        m.strip_prefix(f[1]);
      } else if (f[0] == "add_prefix") {
        want(2, "add_prefix PREFIX");
        m.add_prefix(f[1]);
      } else if (f[0] == "replace") {
        want(3, "replace OLD NEW");
        m.replace(f[1], f[2]);
      } else if (f[0] == "rename") {
        want(3, "rename REGEX REPLACEMENT");
        m.rename(f[1], f[2]);
      } else if (f[0] == "drop") {
        want(2, "drop REGEX");
        m.drop(f[1]);
      } else {
        throw ValueError(ErrorCode::kInvalidArgument,
                         where + ": unknown rule '" + f[0] +
                             "' (strip_prefix, add_prefix, replace, rename or drop)");
      }
    } catch (const ValueError& e) {
      if (e.reason().starts_with(where)) throw;
      throw ValueError(ErrorCode::kInvalidArgument, where + ": " + e.reason());
    }
  }
  return m;
}

NameMap NameMap::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open the name map file", {path.string()});
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

std::optional<std::string> NameMap::apply(const std::string& name) const {
  std::string s = name;
  for (const auto& r : rules_) {
    switch (r->kind) {
      case Rule::kStrip:
        if (s.starts_with(r->a)) s.erase(0, r->a.size());
        break;
      case Rule::kAdd:
        s = r->a + s;
        break;
      case Rule::kReplace:
        for (size_t at = s.find(r->a); at != std::string::npos;
             at = s.find(r->a, at + r->b.size())) {
          s.replace(at, r->a.size(), r->b);
        }
        break;
      case Rule::kRename:
        s = std::regex_replace(s, r->re, r->b);
        break;
      case Rule::kDrop:
        if (std::regex_search(s, r->re)) return std::nullopt;
        break;
    }
  }
  return s;
}

ParamDict NameMap::apply(const ParamDict& params) const {
  ParamDict out;
  std::unordered_map<std::string, std::string> source;  // new name → old name
  for (const auto& [name, p] : params) {
    const std::optional<std::string> to = apply(name);
    if (!to) continue;
    if (to->empty())
      throw ValueError(ErrorCode::kInvalidArgument,
                       "the name map turns '" + name + "' into an empty name", {{}, name});
    if (const auto [it, fresh] = source.emplace(*to, name); !fresh)
      throw ValueError(
          ErrorCode::kInvalidArgument,
          "the name map turns both '" + it->second + "' and '" + name + "' into '" + *to + "'",
          {{}, name});
    out.set(*to, Parameter(p.data(), *to, p.requires_grad()));
  }
  return out;
}

}  // namespace cellar
