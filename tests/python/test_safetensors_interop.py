"""safetensors interop against the `safetensors` package from PyPI (and numpy).

Both directions, for every dtype both sides support (BOOL U8 I8 I16 U16 I32 U32 I64 U64 F16 BF16
F32 F64), with scalars, empty tensors and non-ASCII names:

- files cellar writes load in `safetensors.numpy.load_file` with numpy-equal contents (BF16,
  which numpy lacks, through the package's own `safetensors.deserialize`, as raw bytes);
- files the package writes (`safetensors.numpy.save_file`, and `safetensors.serialize` for BF16)
  load in cellar with equal contents.

The C++ side is tests/tools/safetensors_io (built with the tests; found in
$CELLAR_BUILD_DIR/tests/tools/ or at $CELLAR_SAFETENSORS_IO), which saves tensors given as raw
bytes with cellar::save_checkpoint(format=kSafetensors) and dumps what cellar::load_checkpoint
reads. A missing peer or tool fails loudly; nothing is skipped.
"""
import json
import subprocess

import pytest

from support import build_program, require

np = pytest.importorskip("numpy", reason="numpy from PyPI is required (./dev setup)")

# safetensors dtype → numpy dtype (BF16: raw 16-bit words, numpy has no bfloat16).
NUMPY_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16",
    "I32": "int32", "U32": "uint32", "I64": "int64", "U64": "uint64",
    "F16": "float16", "F32": "float32", "F64": "float64",
}


def _run(*args):
    proc = subprocess.run([str(build_program("tests/tools/safetensors_io", env="CELLAR_SAFETENSORS_IO")), *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"safetensors_io {args} failed:\n{proc.stdout}\n{proc.stderr}"


def _values(dtype, shape, rng):
    """Values that exercise the dtype's whole range (extremes, negatives, NaN/inf for floats)."""
    n = int(np.prod(shape)) if shape else 1
    if dtype == "BOOL":
        a = rng.integers(0, 2, n).astype(bool)
    elif dtype in ("F16", "F32", "F64"):
        t = np.dtype(NUMPY_DTYPES[dtype])
        info = np.finfo(t)
        special = np.array([0.0, -0.0, 1.0, -1.5, info.max, info.min, info.tiny, np.inf,
                            -np.inf], dtype=t)
        a = rng.standard_normal(n).astype(t) * t.type(100)
        a[: min(n, special.size)] = special[: min(n, special.size)]
    elif dtype == "BF16":
        a = rng.integers(0, 1 << 16, n, dtype=np.uint16)  # every bit pattern is a bfloat16
    else:
        t = np.dtype(NUMPY_DTYPES[dtype])
        info = np.iinfo(t)
        a = rng.integers(info.min, info.max, n, dtype=t, endpoint=True)
        a[: min(n, 2)] = [info.min, info.max][: min(n, 2)]
    return a.reshape(shape)


def _cases():
    """(name, safetensors dtype, shape) for every dtype: a matrix, a scalar, an empty tensor."""
    cases = []
    for dtype in list(NUMPY_DTYPES) + ["BF16"]:
        lower = dtype.lower()
        cases.append((f"layer.{lower}.weight", dtype, (3, 5)))
        cases.append((f"{lower}.scalar", dtype, ()))
        cases.append((f"{lower}.empty", dtype, (0, 4)))
    cases.append(("größe.gewicht", "F32", (2, 2)))      # Latin with diacritics
    cases.append(("层.权重", "I32", (3,)))               # CJK
    cases.append(("emoji.🚀.bias", "F64", (1, 1, 2)))   # outside the BMP
    cases.append(('quote"back\\slash', "U8", (4,)))     # escaped in the JSON header
    return cases


@pytest.fixture(scope="module")
def tensors():
    rng = np.random.default_rng(20240611)
    return {name: (dtype, _values(dtype, shape, rng)) for name, dtype, shape in _cases()}


def _raw(arr):
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _write_manifest(folder, tensors):
    manifest = []
    for i, (name, (dtype, arr)) in enumerate(tensors.items()):
        (folder / f"{i}.bin").write_bytes(_raw(arr))
        manifest.append({"name": name, "dtype": dtype, "shape": list(arr.shape),
                         "file": f"{i}.bin"})
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder / "manifest.json"


def _cellar_load(path, out):
    _run("load", path, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {e["name"]: (e["dtype"], tuple(e["shape"]), (out / e["file"]).read_bytes())
            for e in manifest}


def test_package_reads_what_cellar_writes(tmp_path, tensors):
    st_numpy = require("safetensors.numpy")
    safetensors = require("safetensors")
    # numpy has no bfloat16, so safetensors.numpy refuses any file holding one: every other
    # dtype goes through load_file, and all of them (BF16 included) through deserialize.
    numeric = {k: v for k, v in tensors.items() if v[0] != "BF16"}
    (tmp_path / "numeric").mkdir()
    out = tmp_path / "numeric.safetensors"
    _run("save", _write_manifest(tmp_path / "numeric", numeric), out)
    loaded = st_numpy.load_file(str(out))
    assert set(loaded) == set(numeric)
    for name, (dtype, want) in numeric.items():
        got = loaded[name]
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        # Bitwise: -0.0 and infinities must survive too.
        assert got.tobytes() == want.tobytes(), name
        np.testing.assert_array_equal(got, want, err_msg=name)

    (tmp_path / "all").mkdir()
    out = tmp_path / "all.safetensors"
    _run("save", _write_manifest(tmp_path / "all", tensors), out)
    entries = dict(safetensors.deserialize(out.read_bytes()))
    assert set(entries) == set(tensors)
    for name, (dtype, want) in tensors.items():
        e = entries[name]
        assert e["dtype"] == dtype, name
        assert tuple(e["shape"]) == want.shape, name
        assert bytes(e["data"]) == _raw(want), name


def test_package_reads_cellar_bf16_as_words(tmp_path, tensors):
    """The BF16 bytes cellar writes are exactly the 16-bit words it was given (no rounding)."""
    safetensors = require("safetensors")
    bf16 = {k: v for k, v in tensors.items() if v[0] == "BF16"}
    _run("save", _write_manifest(tmp_path, bf16), tmp_path / "bf16.safetensors")
    entries = dict(safetensors.deserialize((tmp_path / "bf16.safetensors").read_bytes()))
    for name, (_, words) in bf16.items():
        got = np.frombuffer(bytes(entries[name]["data"]), dtype="<u2").reshape(words.shape)
        np.testing.assert_array_equal(got, words, err_msg=name)


def test_cellar_reads_what_the_package_writes(tmp_path, tensors):
    st_numpy = require("safetensors.numpy")
    numeric = {name: arr for name, (dtype, arr) in tensors.items() if dtype != "BF16"}
    path = tmp_path / "package.safetensors"
    st_numpy.save_file(numeric, str(path), metadata={"origin": "safetensors.numpy"})
    got = _cellar_load(path, tmp_path / "dump")
    assert set(got) == set(numeric)
    for name, arr in numeric.items():
        dtype, shape, data = got[name]
        assert dtype == tensors[name][0], name
        assert shape == arr.shape, name
        assert data == _raw(arr), name


def test_cellar_reads_bf16_the_package_serializes(tmp_path, tensors):
    """BF16 written by the package's own serializer (safetensors.serialize with TensorSpec, the
    call safetensors.numpy.save_file makes), beside F64 so its alignment-ordered layout shows."""
    safetensors = require("safetensors")
    arrays = {name: arr for name, (dtype, arr) in tensors.items() if dtype == "BF16"}
    arrays["f64.neighbour"] = np.array([1.0, -2.0, 3.5], "<f8")
    keep = {name: np.ascontiguousarray(arr) for name, arr in arrays.items()}
    specs = {name: safetensors.TensorSpec(dtype="float64" if arr.dtype == np.float64 else "bfloat16",
                                          shape=list(arr.shape), data_ptr=arr.ctypes.data,
                                          data_len=arr.nbytes)
             for name, arr in keep.items()}
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(bytes(safetensors.serialize(specs)))
    got = _cellar_load(path, tmp_path / "dump")
    assert set(got) == set(arrays)
    for name, arr in keep.items():
        dtype, shape, data = got[name]
        assert dtype == ("F64" if arr.dtype == np.float64 else "BF16"), name
        assert shape == arr.shape, name
        assert data == _raw(arr), name


def test_round_trip_package_cellar_package(tmp_path, tensors):
    """The package's file → cellar load → cellar save → the package: the same arrays."""
    st_numpy = require("safetensors.numpy")
    numeric = {name: arr for name, (dtype, arr) in tensors.items() if dtype != "BF16"}
    src = tmp_path / "src.safetensors"
    st_numpy.save_file(numeric, str(src))
    dump = tmp_path / "dump"
    _run("load", src, dump)
    out = tmp_path / "again.safetensors"
    _run("save", dump / "manifest.json", out)
    back = st_numpy.load_file(str(out))
    assert set(back) == set(numeric)
    for name, arr in numeric.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape, name
        assert back[name].tobytes() == arr.tobytes(), name


def test_cellar_writes_the_packages_bytes(tmp_path, tensors):
    """Without metadata differences, cellar's layout is the package's: same data section, and the
    same header apart from cellar's `__metadata__ {"format": "ms"}` (MindSpore's)."""
    st_numpy = require("safetensors.numpy")
    numeric = {name: arr for name, (dtype, arr) in tensors.items() if dtype != "BF16"}
    ours = tmp_path / "ours.safetensors"
    _run("save", _write_manifest(tmp_path, {k: tensors[k] for k in numeric}), ours)
    theirs = tmp_path / "theirs.safetensors"
    st_numpy.save_file(numeric, str(theirs), metadata={"format": "ms"})
    assert ours.read_bytes() == theirs.read_bytes()
