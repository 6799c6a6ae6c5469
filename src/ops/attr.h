// The attribute readers of every op (private to src/ops): one family, one error style
// (ValueError kInvalidArgument "<op>: attribute '<key>' <why>"). MindSpore writes the same
// attribute in several forms across versions and across "attr" vs "constant input" spellings
// (an int or a tuple, a tuple or a 1-D tensor, pad_mode as "same"/"SAME" or the PadMode enum),
// so each reader accepts every form MindSpore uses and throws ValueError naming op and key.
#pragma once

#include <string>
#include <vector>

#include "ops/op_table.h"

namespace cellar::ops {

bool has_attr(const ir::Attrs& a, const std::string& key);
// The forms without a default throw when the attribute is absent.
// An int, a list of ints, or an integer tensor of rank ≤ 1, as a list.
std::vector<int64_t> attr_ints(const ir::Attrs& a, const std::string& op, const std::string& key);
std::vector<int64_t> attr_ints(const ir::Attrs& a, const std::string& op, const std::string& key,
                               std::vector<int64_t> dflt);
// An int, a one-element list, or a one-element integer tensor.
int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key);
int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key, int64_t dflt);
// A bool, or an int (non-zero is true).
bool attr_bool(const ir::Attrs& a, const std::string& op, const std::string& key, bool dflt);
// A float (or int), or a one-element float tensor.
double attr_double(const ir::Attrs& a, const std::string& op, const std::string& key, double dflt);
// A window/stride/dilation attribute: an int, 2 ints (h, w) or 4 ints (NCHW: the last two).
// Returns {h, w}, each ≥ 1.
std::pair<int64_t, int64_t> attr_hw(const ir::Attrs& a, const std::string& op,
                                    const std::string& key, int64_t dflt);
// pad_mode as "same", "valid" or "pad" (lower case): accepts any case and MindSpore's PadMode
// enum (PAD = 0, SAME = 1, VALID = 2, mindspore/core/mindapi/base/types.h).
std::string attr_pad_mode(const ir::Attrs& a, const std::string& op, const std::string& dflt);
// data_format must be NCHW (the string, or MindSpore's Format enum NCHW = 0) when present.
void require_nchw(const ir::Attrs& a, const std::string& op);
// axis in [-rank, rank) → [0, rank).
int64_t normalize_axis(const std::string& op, int64_t axis, int64_t rank);

}  // namespace cellar::ops
