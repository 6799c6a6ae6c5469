// Renaming checkpoint entries by rules: for conversions (`cellar convert --name-map FILE`), and
// for loading a checkpoint whose names differ from a network's (a PyTorch state dict's
// "module." prefix, a backbone saved under another name).
//
// Rule files: one rule per line; '#' starts a comment; blank lines are ignored; a rule's fields
// are separated by spaces or tabs (so names and patterns cannot contain them):
//
//   strip_prefix PREFIX         a name that starts with PREFIX loses it; others are unchanged
//   add_prefix PREFIX           every name gets PREFIX in front
//   replace OLD NEW             every occurrence of the literal text OLD becomes NEW
//   rename REGEX REPLACEMENT    every match of REGEX (ECMAScript, std::regex; searched anywhere
//                               in the name, anchor with ^ and $) is replaced by REPLACEMENT, in
//                               which $1, $2 … are the groups and $& the whole match
//   drop REGEX                  names in which REGEX finds a match are left out
//
// Rules apply in file order, each to the name the previous ones made. Example (torchvision's
// ResNet state dict saved from DataParallel, loaded into a net named backbone.*):
//
//   strip_prefix module.
//   drop num_batches_tracked$
//   rename ^fc\. head.
//   add_prefix backbone.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

class ParamDict;  // cellar/io/checkpoint.h

class NameMap {
 public:
  NameMap() = default;
  // Parses rule text; ValueError kInvalidArgument naming `source` and the line for an unknown
  // rule, a wrong number of fields or an invalid regular expression.
  static NameMap parse(std::string_view text, const std::string& source = "name map");
  // The rule file at `path` (IoError when it cannot be read).
  static NameMap from_file(const std::filesystem::path& path);

  NameMap& strip_prefix(std::string prefix);
  NameMap& add_prefix(std::string prefix);
  NameMap& replace(std::string from, std::string to);
  NameMap& rename(const std::string& regex,
                  std::string replacement);  // kInvalidArgument: bad regex
  NameMap& drop(const std::string& regex);

  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }
  // The name `name` becomes; nullopt when a drop rule leaves it out.
  std::optional<std::string> apply(const std::string& name) const;
  // Every entry of `params` under its new name, in order; dropped ones left out. Two names that
  // become one are a ValueError kInvalidArgument naming both (nothing is silently overwritten);
  // so is a name that becomes empty.
  ParamDict apply(const ParamDict& params) const;

 private:
  struct Rule;
  std::vector<std::shared_ptr<const Rule>> rules_;
};

}  // namespace cellar

CELLAR_API_END
