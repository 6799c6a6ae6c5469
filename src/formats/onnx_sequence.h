// ONNX sequence values at load time (private to src/formats): SequenceEmpty, SequenceConstruct,
// SequenceInsert, SequenceAt, SequenceErase, SequenceLength, SplitToSequence and
// ConcatFromSequence. cellar's graphs carry tensors only, so a sequence is resolved while the
// file is read: it is the list of the cellar values it holds, each op on it picks, adds or
// removes values, and what leaves the sequence (SequenceAt, SequenceLength, ConcatFromSequence)
// is an ordinary value again. That needs every position and split size to be a constant (an
// initializer or a folded value), except that split sizes known only at run time still give the
// sequence's length; a position known only at run time, a sequence that is a graph input or
// output, or one made inside control flow is refused as unsupported, saying so.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ops/onnx_spelling.h"

namespace cellar::formats {

// A sequence: its element values, in order, and their dtype (set once an element or
// SequenceEmpty's dtype fixes it).
// A sequence whose elements' shapes depend on values known only at run time (SplitToSequence by
// split sizes that are a graph input) is *opaque*: only its length is known, which is all
// SequenceLength needs; every other op refuses it.
struct OnnxSequence {
  std::vector<int> values;
  std::optional<DType> dtype;
  std::optional<int64_t> opaque_length;
};
using OnnxSequences = std::unordered_map<std::string, OnnxSequence>;

// Whether `op_type` (default domain) is one of the sequence ops above.
bool is_onnx_sequence_op(const std::string& op_type);

// Imports the importer's current node, a sequence op whose inputs and outputs are named
// `inputs` and `outputs` (as in the file, "" for an omitted one): sequence inputs are looked up
// in `seqs`, sequence outputs added to it, tensor outputs bound through m.set_output.
void import_onnx_sequence_op(ops::OnnxImporter& m, const std::vector<std::string>& inputs,
                             const std::vector<std::string>& outputs, OnnxSequences& seqs);

}  // namespace cellar::formats
