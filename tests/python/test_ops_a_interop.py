"""The ONNX and MindIR spellings of the ops mindcv's networks need (issue 12), checked by peers.

MindSpore 2.10 wrote tests/fixtures/mindspore/2.10/mindir/ops_a_*.mindir (make_ops_a_fixtures.py
there: StridedSlice with every mask and negative strides, Muls, Divs, AddExt, SubExt,
InplaceAddExt, MatMulExt, SumExt, BroadcastTo, CumSum, Cos, Sin, FloorDiv, Stack, Split,
SplitWithSize, Unstack, UnstackExtView, Identity, ArgMaxWithValue, LogicalNot, Argmax). cellar
converts each to ONNX (tests/tools/convert_graph: load + export_graph, what `cellar convert`
does); the file must pass onnx.checker and run in ONNX Runtime (PyPI) within 1e-5 of the
recorded output (MindSpore's, or NumPy's for ops_a_reverse, see the script). Then the ONNX file is
converted back to MindIR by cellar and that must give the same numbers in ONNX Runtime again, so
the ONNX import rules of Slice, Expand, Split, CumSum, ArgMax, Not, Cos, Sin, Floor are exercised
on real exports. Live, with MindSpore (CELLAR_MINDSPORE_PYTHON names a python that has it): the
MindIR cellar writes for each net is loaded by MindSpore's own `mindspore.load` + `nn.GraphCell`
and gives MindSpore's recorded output (ops_a_reverse excepted: MindSpore's negative-stride bug
makes it differ from NumPy's recorded output, and it must differ from it exactly as MindSpore's
own export did). A missing peer or tool fails, saying what is missing.
"""
import os
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mindspore" / "2.10" / "mindir"
NETS = ["ops_a_slice", "ops_a_reverse", "ops_a_arith", "ops_a_tuple", "ops_a_argmax"]
TOLERANCE = 1e-5


def _require(module):
    try:
        return __import__(module)
    except ImportError as e:
        pytest.fail(f"the interop test needs '{module}' from PyPI (./dev setup installs it): {e}")


def _tool():
    explicit = os.environ.get("CELLAR_CONVERT_GRAPH")
    if explicit:
        return Path(explicit)
    build = os.environ.get("CELLAR_BUILD_DIR")
    if not build:
        pytest.fail("CELLAR_BUILD_DIR is not set (./dev test sets it to the build folder)")
    tool = Path(build) / "tests" / "tools" / "convert_graph"
    if not tool.is_file():
        pytest.fail(f"{tool} does not exist: build the tests (tests/tools/CMakeLists.txt)")
    return tool


def _convert(src, dst):
    proc = subprocess.run([str(_tool()), str(src), str(dst)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"convert {src} -> {dst} failed:\n{proc.stdout}\n{proc.stderr}"


def _run_ort(np, ort, path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (got,) = session.run(None, {inp.name: x})
    return got


def _diff(np, got, want):
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0))


@pytest.mark.parametrize("name", NETS)
def test_ops_a_onnx_export_runs_in_onnxruntime(tmp_path, name):
    np = _require("numpy")
    onnx = _require("onnx")
    ort = _require("onnxruntime")
    x = np.load(FIXTURES / f"{name}.input.npy")
    want = np.load(FIXTURES / f"{name}.output.npy")
    exported = tmp_path / f"{name}.onnx"
    _convert(FIXTURES / f"{name}.mindir", exported)
    onnx.checker.check_model(onnx.load(str(exported)), full_check=True)
    diff = _diff(np, _run_ort(np, ort, exported, x), want)
    assert diff <= TOLERANCE, f"{name}: max |onnxruntime - recorded| = {diff}"

    # ONNX -> MindIR -> ONNX: cellar's ONNX import of its own export keeps the numbers.
    mindir, again = tmp_path / f"{name}.back.mindir", tmp_path / f"{name}.again.onnx"
    _convert(exported, mindir)
    _convert(mindir, again)
    onnx.checker.check_model(onnx.load(str(again)), full_check=True)
    diff = _diff(np, _run_ort(np, ort, again, x), want)
    assert diff <= TOLERANCE, f"{name} after ONNX -> MindIR -> ONNX: max diff = {diff}"


_MS_RUN = """
import sys, numpy as np, mindspore as ms
from mindspore import nn
ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
mindir, x, want = sys.argv[1:]
got = nn.GraphCell(ms.load(mindir))(ms.Tensor(np.load(x))).asnumpy()
print("MAXDIFF", float(np.max(np.abs(got.astype(np.float64) - np.load(want)))))
"""


@pytest.mark.parametrize("name", NETS)
def test_ops_a_cellar_mindir_runs_in_mindspore(tmp_path, name):
    python = os.environ.get("CELLAR_MINDSPORE_PYTHON")
    if not python:
        pytest.skip("LIVE MINDSPORE CHECK NOT RUN: set CELLAR_MINDSPORE_PYTHON to a python with "
                    "mindspore")
    mindir = tmp_path / f"{name}.mindir"
    _convert(FIXTURES / f"{name}.mindir", mindir)
    # MindSpore's own output where it differs from NumPy's (ops_a_reverse), else the recorded one.
    want = FIXTURES / f"{name}.mindspore.npy"
    if not want.exists():
        want = FIXTURES / f"{name}.output.npy"
    proc = subprocess.run([python, "-c", _MS_RUN, str(mindir), str(FIXTURES / f"{name}.input.npy"),
                           str(want)], capture_output=True, text=True, timeout=300)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("MAXDIFF")]
    assert proc.returncode == 0 and lines, f"MindSpore failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    diff = float(lines[0].split()[1])
    assert diff <= TOLERANCE, f"{name}: max |MindSpore on cellar's MindIR - MindSpore| = {diff}"
