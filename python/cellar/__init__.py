"""cellar: MindSpore's "Save and Load" workflow on a native C++ library.

The tutorial's code runs with only its imports changed::

    import cellar as mindspore
    from cellar import nn, Tensor

Everything here is a thin layer over the C++ module ``cellar._cellar`` (include/cellar/ in the
repository): Cells, checkpoints (.ckpt, .safetensors), export to MindIR/ONNX and GraphCell
inference all run in C++. Errors are ``cellar.Error`` subclasses that are also the built-in
exception a Python caller expects (``cellar.FormatError`` is a ``ValueError``, …).
"""
import os as _os

from . import _cellar
from ._cellar import (  # noqa: F401  (re-exported API)
    AsyncSave,
    CryptoError,
    DType,
    DTypeMismatchError,
    Error,
    ExportError,
    FileAccessError,
    FormatError,
    Graph,
    InvalidArgumentError,
    NotFoundError,
    Parameter,
    ShapeMismatchError,
    Tensor,
    UnsupportedError,
    ckpt_to_safetensors,
    from_dlpack,
    load_param_into_net,
    safetensors_to_ckpt,
    set_seed,
)
from . import dtype, mint, nn, ops  # noqa: E402
from .dtype import (  # noqa: F401,E402
    bfloat16,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from ._io import safe_open  # noqa: E402

__version__ = _cellar.__version__

# MindSpore's execution modes and syntax levels. cellar has one mode: cells run eagerly on the C++
# ops, export traces them, GraphCell runs the graph; set_context records what it is told.
GRAPH_MODE = 0
PYNATIVE_MODE = 1
STRICT = 0
COMPATIBLE = 1
LAX = 2
_context = {"mode": PYNATIVE_MODE, "jit_syntax_level": LAX, "device_target": "CPU"}


def set_context(**kwargs):
    """Records MindSpore context settings (mode, jit_syntax_level, device_target, …).

    MindSpore: ``mindspore.set_context(mode=mindspore.GRAPH_MODE)``. cellar runs on the CPU
    whatever the mode; a device_target other than "CPU" is refused.
    """
    target = kwargs.get("device_target", "CPU")
    if target != "CPU":
        raise ValueError(f"device_target {target!r}: cellar runs on the CPU only")
    _context.update(kwargs)


def get_context(attr_key):
    """The value set_context recorded for ``attr_key``. MindSpore: ``mindspore.get_context``."""
    if attr_key not in _context:
        raise ValueError(f"no context attribute {attr_key!r}")
    return _context[attr_key]


def _with_suffix(name, fmt):
    name = _os.fspath(name)
    if not isinstance(name, str):
        raise TypeError("ckpt_file_name must be a str or os.PathLike")
    suffix = "." + fmt
    return name if name.endswith(suffix) else name + suffix


def save_checkpoint(save_obj, ckpt_file_name, integrated_save=True, async_save=False,
                    append_dict=None, enc_key=None, enc_mode="AES-GCM", choice_func=None,
                    crc_check=False, format="ckpt", **kwargs):
    """Saves a Cell's parameters (or a dict / list of {"name", "data"}) to a checkpoint.

    MindSpore: ``mindspore.save_checkpoint(net, "model.ckpt")`` — the same arguments and defaults.
    The file is written atomically; ".ckpt" (or ".safetensors") is appended when missing, as
    MindSpore does. ``async_save=True`` returns an AsyncSave whose ``wait()`` raises the write's
    error, if any (MindSpore returns None). ``integrated_save`` concerns parallel runs only.
    """
    return _cellar.save_checkpoint(save_obj, _with_suffix(ckpt_file_name, format),
                                   integrated_save=integrated_save, async_save=async_save,
                                   append_dict=append_dict, enc_key=enc_key, enc_mode=enc_mode,
                                   choice_func=choice_func, crc_check=crc_check, format=format,
                                   **kwargs)


def load_checkpoint(ckpt_file_name, net=None, strict_load=False, filter_prefix=None,
                    dec_key=None, dec_mode="AES-GCM", specify_prefix=None, choice_func=None,
                    crc_check=False, remove_redundancy=False, format="ckpt", *, name_map=None,
                    skip_shape_mismatch=False, **kwargs):
    """Reads a .ckpt or .safetensors file into a dict name → Parameter (str entries as str).

    MindSpore: ``param_dict = mindspore.load_checkpoint("model.ckpt")``. Tensors view the mapped
    file where their bytes are aligned (no copy). With ``net``, the parameters are also loaded
    into it (load_param_into_net, with ``strict_load``, ``name_map`` and
    ``skip_shape_mismatch`` as there; the last two are cellar's, for fine-tuning). The format is
    recognised from the file's bytes.
    """
    return _cellar.load_checkpoint(ckpt_file_name, net=net, strict_load=strict_load,
                                   filter_prefix=filter_prefix, dec_key=dec_key,
                                   dec_mode=dec_mode, specify_prefix=specify_prefix,
                                   choice_func=choice_func, crc_check=crc_check,
                                   remove_redundancy=remove_redundancy, format=format,
                                   name_map=name_map, skip_shape_mismatch=skip_shape_mismatch,
                                   **kwargs)


_EXPORT_KWARGS = {"enc_key", "enc_mode"}


def export(net, *inputs, file_name, file_format="MINDIR", **kwargs):
    """Traces ``net.construct`` on inputs shaped like ``inputs`` and writes a MindIR or ONNX file.

    MindSpore: ``mindspore.export(net, inputs, file_name="model", file_format="MINDIR")``.
    ``file_name`` gets ".mindir" / ".onnx" unless it has it. Tensor inputs become graph inputs;
    other inputs (ints, floats) are passed to a Python construct as constants. What MindIR export
    refuses is refused here too, as cellar.ExportError (a RuntimeError) naming the culprit: a
    construct returning something other than Tensors, a Parameter no Cell of ``net`` owns, a random
    op. Returns the path written (MindSpore returns None).
    """
    unknown = set(kwargs) - _EXPORT_KWARGS
    if unknown:
        raise TypeError(f"export() does not support {sorted(unknown)}; "
                        f"supported keywords: {sorted(_EXPORT_KWARGS)}")
    return _cellar.export(net, list(inputs), _os.fspath(file_name), file_format, **kwargs)


def load(file_name, **kwargs):
    """Reads a MindIR or ONNX file into a Graph for ``nn.GraphCell``.

    MindSpore: ``graph = mindspore.load("model.mindir")``; ``dec_key``/``dec_mode`` for an
    encrypted file.
    """
    unknown = set(kwargs) - {"dec_key", "dec_mode"}
    if unknown:
        raise TypeError(f"load() does not support {sorted(unknown)}")
    return _cellar.load(file_name, **kwargs)


__all__ = [
    "Tensor", "Parameter", "DType", "Graph", "nn", "ops", "mint", "dtype", "save_checkpoint",
    "load_checkpoint", "load_param_into_net", "export", "load", "ckpt_to_safetensors",
    "safetensors_to_ckpt", "safe_open", "from_dlpack", "set_seed", "set_context", "get_context",
    "GRAPH_MODE", "PYNATIVE_MODE", "STRICT", "COMPATIBLE", "LAX", "Error", "FormatError",
    "FileAccessError", "ExportError", "UnsupportedError", "InvalidArgumentError",
    "ShapeMismatchError", "DTypeMismatchError", "NotFoundError", "CryptoError", "AsyncSave",
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
    "uint16", "uint32", "uint64", "bool_", "string",
]
