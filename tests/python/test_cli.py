"""The `cellar` binary against the PyPI peers: files the `safetensors` package and NumPy write go
in, files `cellar` writes are read back by the `safetensors` package, NumPy and ONNX Runtime; and
the progress bar, which only a terminal sees, is checked through a pseudo-terminal.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI. A
missing peer or binary is a failure that says what is missing, never a silent skip.
"""
import json
import os
import pty
import select
import subprocess
from pathlib import Path

import pytest

from support import CONFORMANCE, FIXTURES, cellar, cellar_cli, cellar_json, require

# ---- safetensors: the package writes, cellar reads and converts, the package reads back --------


def test_safetensors_package_round_trip_through_ckpt(tmp_path):
    np = require("numpy")
    st = require("safetensors.numpy")
    rng = np.random.default_rng(5)
    tensors = {
        "layer.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "layer.bias": rng.standard_normal(8).astype(np.float64),
        "emb": rng.standard_normal((4, 3)).astype(np.float16),
        "ids": np.arange(-3, 3, dtype=np.int64),
        "mask": np.array([True, False]),
    }
    src = tmp_path / "src.safetensors"
    st.save_file(tensors, str(src), metadata={"who": "the safetensors package"})
    info = cellar_json("inspect", src, "--stats")
    assert info["format"] == "safetensors"
    assert info["metadata"] == {"who": "the safetensors package"}
    by = {t["name"]: t for t in info["tensors"]}
    assert by["layer.weight"]["shape"] == [16, 8]
    w = tensors["layer.weight"]
    assert by["layer.weight"]["stats"]["min"] == pytest.approx(float(w.min()))
    assert by["layer.weight"]["stats"]["max"] == pytest.approx(float(w.max()))
    assert by["layer.weight"]["stats"]["mean"] == pytest.approx(float(w.astype(np.float64).mean()))

    cellar("convert", src, tmp_path / "mid.ckpt")
    cellar("convert", tmp_path / "mid.ckpt", tmp_path / "back.safetensors")
    back = st.load_file(str(tmp_path / "back.safetensors"))
    assert sorted(back) == sorted(tensors)
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype, name
        np.testing.assert_array_equal(back[name], value)
    assert cellar("diff", src, tmp_path / "mid.ckpt").returncode == 0


def test_conformance_checkpoint_to_safetensors_cast(tmp_path):
    np = require("numpy")
    st = require("safetensors.numpy")
    src = CONFORMANCE / "mindspore-mlp-tutorial.ckpt"
    full = tmp_path / "full.safetensors"
    half = tmp_path / "half.safetensors"
    cellar("convert", src, full)
    out = cellar_json("convert", src, half, "--dtype", "float16")
    assert out["cast"] == 6
    a, b = st.load_file(str(full)), st.load_file(str(half))
    for name in a:
        assert a[name].dtype == np.float32 and b[name].dtype == np.float16
        np.testing.assert_array_equal(a[name].astype(np.float16), b[name])
    # The package's own view of the stats agrees with cellar's on the cast file.
    info = cellar_json("inspect", half, "--stats")
    for t in info["tensors"]:
        v = b[t["name"]].astype(np.float64)
        assert t["stats"]["max"] == pytest.approx(float(v.max()))


# ---- NumPy .npy in and out; ONNX Runtime on what convert writes --------------------------------


def test_run_npy_inputs_and_outputs_match_onnxruntime(tmp_path):
    np = require("numpy")
    ort = require("onnxruntime")
    model = tmp_path / "mlp.onnx"
    cellar("convert", FIXTURES / "mindspore" / "2.10" / "mindir" / "mlp.mindir", model)
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28))  # float64: cellar converts
    np.save(tmp_path / "x.npy", x)
    cellar("run", model, "--input", f"x={tmp_path / 'x.npy'}", "--output", tmp_path / "y.npy")
    y = np.load(tmp_path / "y.npy")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]
    assert y.dtype == np.float32 and y.shape == want.shape
    np.testing.assert_allclose(y, want, atol=1e-5, rtol=0)


def test_npy_versions_and_refusals(tmp_path):
    np = require("numpy")
    model = FIXTURES / "torch" / "mlp_opset17.onnx"
    x = np.load(FIXTURES / "torch" / "mlp_input.npy")
    want = np.load(FIXTURES / "torch" / "mlp_output.npy")
    # NumPy's format version 2.0 and 3.0 headers.
    for version in [(1, 0), (2, 0), (3, 0)]:
        p = tmp_path / f"x{version[0]}.npy"
        with open(p, "wb") as f:
            np.lib.format.write_array(f, x, version=version)
        cellar("run", model, "-i", p, "-o", tmp_path / "y.npy")
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, atol=1e-5, rtol=0)
    # Fortran order is refused with a clear error naming the file.
    f = tmp_path / "fortran.npy"
    np.save(f, np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
    proc = cellar("run", model, "-i", f, status=1)
    assert str(f) in proc.stderr and "fortran_order" in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""
    # Big-endian data and object arrays.
    be = tmp_path / "be.npy"
    np.save(be, x.astype(">f4"))
    assert "big-endian" in cellar("run", model, "-i", be, status=1).stderr
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([1, "a"], dtype=object), allow_pickle=True)
    assert "unsupported dtype" in cellar("run", model, "-i", obj, status=1).stderr


def test_run_outputs_are_numpy_readable(tmp_path):
    np = require("numpy")
    out = tmp_path / "out"
    cellar("run", FIXTURES / "mindspore" / "2.10" / "mindir" / "tuple.mindir", "--random", "--seed", "3",
           "--output-dir", out)
    files = sorted(out.iterdir())
    assert len(files) == 2
    for f in files:
        a = np.load(f)
        assert a.dtype == np.float32 and a.shape == (2, 3)


# ---- the progress bar: on a terminal only -------------------------------------------------------

def _big_safetensors(path, mib=300):
    n = mib << 20
    header = json.dumps({"big": {"dtype": "F32", "shape": [n // 4], "data_offsets": [0, n]}})
    header += " " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header.encode())
        f.truncate(8 + len(header) + n)  # sparse: zeros cost no disk
    return path


def _run_with_stderr_on_a_pty(args):
    """Runs cellar with stderr on a pseudo-terminal and stdout on a pipe; returns both."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(cellar_cli()), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read().decode()
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out, err.decode(errors="replace")


def test_progress_bar_on_a_terminal(tmp_path):
    big = _big_safetensors(tmp_path / "big.safetensors")
    status, out, err = _run_with_stderr_on_a_pty(["inspect", big])
    assert status == 0, err
    assert f"reading {big}" in err and "%" in err and "300.0 MiB" in err
    assert err.endswith("\r\x1b[K")  # the bar erases itself
    assert "big  Float32  (78643200,)  314572800" in out  # stdout is untouched by the bar

    # A small file on the same terminal: no bar.
    status, out, err = _run_with_stderr_on_a_pty(["inspect", FIXTURES / "mindspore" / "2.10" / "ckpt" / "crc.ckpt"])
    assert status == 0 and err == ""


def test_no_progress_bar_off_a_terminal(tmp_path):
    big = _big_safetensors(tmp_path / "big.safetensors")
    proc = cellar("inspect", big)
    assert proc.stderr == ""
    assert "big  Float32  (78643200,)  314572800" in proc.stdout


def test_progress_bar_while_converting(tmp_path):
    big = _big_safetensors(tmp_path / "big.safetensors")
    out = tmp_path / "big.ckpt"
    status, stdout, err = _run_with_stderr_on_a_pty(["convert", big, out])
    assert status == 0, err
    # One bar: the checkpoint is streamed (copy_checkpoint), each byte read once as it is
    # written, so there is no read-ahead pass of its own.
    assert f"reading {big}" not in err
    assert f"writing {out}" in err and "100%  300.0 MiB / 300.0 MiB" in err
    assert err.endswith("\r\x1b[K")
    assert stdout == f"wrote {out} (ckpt, 1 tensors, 300.0 MiB)\n"
    assert out.stat().st_size > 300 << 20
    out.unlink()


# ---- load limits ---------------------------------------------------------------------------


def test_max_constant_mib_names_the_limit_and_the_option():
    """ONNX's light VGG-19 makes its 548 MiB of weights with ConstantOfShape: the default limit
    (2 GiB) reads it, a lower --max-constant-mib refuses it saying which limit and option."""
    onnx = require("onnx")
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_vgg19.onnx"
    # inspect still shows what it can of a model it cannot load (exit 0, "loads: no: <why>")
    proc = cellar("inspect", model, "--max-constant-mib", "64")
    assert "limit of 64 MiB" in proc.stdout and "--max-constant-mib" in proc.stdout, proc.stdout
    limited = cellar_json("inspect", model, "--max-constant-mib", "64")
    assert limited["loads"] is False and "limit of 64 MiB" in limited["load_error"]
    out = cellar_json("inspect", model)
    assert out["loads"] is True
    assert out["opsets"] == [{"domain": "", "version": 9}]
    assert out["outputs"] == [{"name": "prob_1", "dtype": "Float32", "shape": [1, 1000]}]
