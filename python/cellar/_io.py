"""safe_open: a lazy, read-only view of a .ckpt or .safetensors file."""
from . import _cellar


class safe_open:  # noqa: N801  (the safetensors package's name)
    """Opens a checkpoint for reading tensors one by one, as safetensors' ``safe_open``.

    MindSpore has no such reader (load_checkpoint reads every tensor); this one takes .ckpt and
    .safetensors alike, with load_checkpoint's keywords (crc_check, dec_key, dec_mode, …).

    ``framework`` is "np" (NumPy arrays) or "ms"/"cellar" (Tensors). The file is mapped, not read:
    opening costs its header, and ``get_tensor`` returns a view of the mapped bytes where they are
    aligned (safetensors always; .ckpt when saved with aligned tensors), a copy made on first use
    otherwise. Works as a context manager; the mapping lives as long as any tensor taken from it.
    """

    def __init__(self, filename, framework="np", device="cpu", **kwargs):
        if framework not in ("np", "numpy", "ms", "mindspore", "cellar"):
            raise ValueError(f"framework {framework!r}: use 'np' or 'ms'")
        if device != "cpu":
            raise ValueError(f"device {device!r}: cellar reads into CPU memory only")
        self._framework = framework
        self._params = _cellar.load_checkpoint(filename, **kwargs)
        self._metadata = _cellar._safetensors_metadata(filename)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._params = None
        return False

    def metadata(self):
        """The .safetensors header's __metadata__ (MindSpore writes {"format": "ms"}); None for
        a .ckpt, which has none."""
        return self._metadata

    def keys(self):
        """The tensor names, in file order."""
        return list(self._params)

    def get_tensor(self, name):
        """The tensor ``name``: a NumPy array for framework "np", a Tensor otherwise."""
        try:
            value = self._params[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r}") from None
        if isinstance(value, str):
            return value
        if self._framework in ("np", "numpy"):
            return value.asnumpy()
        return value.data
