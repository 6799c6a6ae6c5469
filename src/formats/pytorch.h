// PyTorch checkpoints (torch.save files, .pt / .pth / pytorch_model.bin), read without Python.
//
// Byte layouts. torch.save (PyTorch ≥ 1.6) writes a ZIP archive (zip.h) of stored entries, all
// under one folder named after the file (`archive/` here):
//
//   archive/data.pkl          the pickled object (protocol 2 unless pickle_protocol says
//                             otherwise), in which each tensor is
//                             torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
//                             stride, requires_grad, backward_hooks[, metadata]) (v3 adds the
//                             dtype, for dtypes without a legacy storage class such as uint16), and
//                             each storage a persistent id ('storage', torch.FloatStorage, key,
//                             location, numel)
//   archive/data/<key>        the storage's numel × itemsize raw bytes; torch aligns each one to
//                             64 bytes in the file (padding in the local header's extra field)
//   archive/byteorder         "little" or "big" (the writer's; absent before 1.12: little)
//   archive/version, archive/.data/version, .format_version, .storage_alignment,
//   .data/serialization_id    bookkeeping, not needed to read
//
// The legacy layout (_use_new_zipfile_serialization=False, and every file before 1.6) is five
// pickles and the storages back to back:
//
//   pickle(0x1950a86a20f9469cfc6c)  the magic number; pickle(1001)  the protocol version;
//   pickle(sys_info dict);  pickle(obj)  persistent ids ('storage', type, key, location, numel,
//   view_metadata=None);  pickle([key, …])  the storages' keys in file order;
//   then per key: numel as u64 little-endian, numel × itemsize bytes (little-endian).
//
// The unpickler (pickle.h) calls nothing by name. The globals allowed are those a state dict
// needs, as torch.load(weights_only=True) allows them: collections.OrderedDict;
// torch._utils._rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
// _rebuild_parameter_with_state (the parameter's Python state is ignored); the storage classes
// torch.{Double,Float,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage and
// torch.UntypedStorage (torch.storage.UntypedStorage; the classes also under torch.cuda); the
// dtypes torch.float32 … torch.uint64 (v3's argument); torch.Size; _codecs.encode (how protocol 2
// spells a bytes object). Every other global (os.system, builtins.eval, a model's class,
// torch.nn.Module subclasses, a TorchScript archive's __torch__ classes) is refused with an Error
// kUnsupported naming it, when the GLOBAL opcode is read: nothing after it runs. Complex, quantized
// and float8 storages are refused as kUnsupported naming the tensor.
//
// What a load gives: the unpickled object flattened into named entries in pickle order. A
// dict's keys (str or int) and a list's or tuple's indices are joined with '.', as module names
// are: {"model": {"fc.weight": t}, "epoch": 3, "history": [0.5]} gives model.fc.weight, epoch,
// history.0. Leaves: tensors; int → Int64 scalar; float → Float64 scalar; bool → Bool scalar;
// str → str. Leaves with no tensor form are skipped: None, bytes, sets, integers wider than 64
// bits, dtypes and bare storages. A file that holds a single tensor gives one entry named after
// the file's stem. Two entries flattening to one name are refused.
//
// Zero copy: a contiguous tensor of a stored entry in a little-endian file is a Storage::view of
// the mapped file when its address is aligned for its dtype (always, in torch's own zip files),
// a deferred copy otherwise (legacy files pack storages at any offset). Tensors sharing a storage
// (tied weights, slices) view the same bytes. A non-contiguous tensor (a transposed or expanded
// view saved as such) is materialised into fresh memory in C order; so are tensors of a
// big-endian file (byte-swapped) and of deflate-compressed entries (inflated once per storage).
// The bytes materialised per load are capped at kMaterialiseBaseBytes plus twice the file's
// size, so a stride-0 view cannot make a small file expand without bound; the unpickled objects
// (what the policy keeps for each storage and tensor included), and then the flattened entries
// and their names, at kPickleBaseBytes plus 16 times the file's size each, so a pickle of
// one-byte opcodes, a deflated data.pkl of a few KiB, or long keys repeated through shared
// containers cannot make it allocate gigabytes.
//
// Refused, each a FormatError naming the file, the tensor where known, and the byte offset: a
// malformed archive (zip.h's checks); no data.pkl; a byteorder record other than little or big;
// a persistent id that is not a storage (a pickled class: 'module'); a storage whose record is
// missing or whose size differs from numel × itemsize; one key used with two dtypes or sizes;
// negative sizes, strides or offsets; a view reaching past the end of its storage (checked
// arithmetic); conjugate or negative bits; legacy files with a bad magic number or protocol
// version, storage views (view_metadata), a storage key list that names an unknown key, a
// storage length prefix that disagrees with the pickle, bytes after the last storage; nesting
// deeper than kMaxDepth (a cycle); more than kMaxEntries flattened entries (a DAG bomb); and
// every error of the unpickler (pickle.h). TorchScript archives (torch.jit.save) are kUnsupported.
//
// Writing PyTorch files is not supported (kUnsupported): convert to .ckpt or .safetensors.
#pragma once

#include <cstdint>
#include <span>

#include "formats/format.h"

namespace cellar::formats {

namespace pytorch {

inline constexpr int kMaxDepth = 64;
inline constexpr size_t kMaxEntries = size_t{1} << 22;
inline constexpr uint64_t kMaterialiseBaseBytes = uint64_t{1} << 30;
// A data.pkl (or legacy pickle) longer than this is refused before it is read.
inline constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 30;
// The memory the unpickled objects of one load may take (pickle.h), data.pkl itself included
// when it must be inflated: kPickleBaseBytes plus kPickleBytesPerFileByte times the file's size.
// A state dict's pickle takes about 10 bytes of objects per pickle byte and is a small part of
// its file; a hostile one of one-byte opcodes ~100 per byte, or more from a deflated data.pkl.
inline constexpr uint64_t kPickleBaseBytes = uint64_t{64} << 20;
inline constexpr uint64_t kPickleBytesPerFileByte = 16;

// The first bytes of a legacy file: PROTO 2, LONG1 10, the magic number's ten bytes.
bool is_legacy(std::span<const std::byte> head);

}  // namespace pytorch

const CheckpointFormat& pytorch_format();

}  // namespace cellar::formats
