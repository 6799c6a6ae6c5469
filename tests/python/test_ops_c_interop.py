"""The ONNX spellings of the element-wise ops beyond mindcv (issue 12 item 4: trigonometric,
comparison and logical ops, rounding, ReverseV2), checked by ONNX Runtime.

MindSpore 2.10 wrote tests/fixtures/mindspore/2.10/mindir/ops_c_*.mindir
(make_ops_c_fixtures.py there). ops_c_compare, ops_c_reduce and ops_c_clamp convert to ONNX (what `cellar convert` does) and
must run in ONNX Runtime within 1e-5 of MindSpore's output, also after ONNX -> MindIR -> ONNX;
ops_c_unary holds ops ONNX has no spelling for (Log1p, Expm1, Erfc, Atan2), so its conversion must
be refused naming one of them. ONNX files written with the onnx package, one per op these rows
import, run in cellar like in ONNX Runtime.
"""
import subprocess

import pytest

from support import cellar_cli, convert_graph, require
from test_ops_a_interop import FIXTURES, TOLERANCE, _diff, check_fixture_through_onnx


@pytest.mark.parametrize("name", ["ops_c_compare", "ops_c_reduce", "ops_c_clamp"])
def test_ops_c_onnx_export_runs_in_onnxruntime(tmp_path, name):
    check_fixture_through_onnx(tmp_path, name)


def test_ops_c_unary_onnx_export_names_the_op_onnx_lacks(tmp_path):
    proc = subprocess.run([str(convert_graph()), str(FIXTURES / "ops_c_unary.mindir"),
                           str(tmp_path / "u.onnx")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert any(op in proc.stderr + proc.stdout for op in ("Log1p", "Expm1", "Erfc", "Atan2")), \
        proc.stderr
    assert not (tmp_path / "u.onnx").exists()


def _cellar_and_onnxruntime(np, ort, path, x, tmp_path):
    """`cellar run`'s and ONNX Runtime's output of the one-input ("x"), one-output model at
    `path` on `x`, after checking cellar ran and both agree on shape and dtype."""
    np.save(tmp_path / "x.npy", x)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    out = tmp_path / "y.npy"
    proc = subprocess.run([str(cellar_cli()), "run", str(path), "-i", str(tmp_path / "x.npy"),
                           "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"cellar run {path.name}:\n{proc.stdout}\n{proc.stderr}"
    got = np.load(out)
    assert got.shape == want.shape and got.dtype == want.dtype, \
        (got.shape, got.dtype, want.shape, want.dtype)
    return got, want


UNARY = ["Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Ceil", "Sign",
         "Round"]
BINARY = ["GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor"]
REDUCE = ["ReduceMin", "ReduceProd", "ArgMin"]


@pytest.mark.parametrize("op", REDUCE)
def test_ops_c_onnx_reduce_import_runs_like_onnxruntime(tmp_path, op):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    from onnx import TensorProto, helper

    x = np.random.default_rng(37).uniform(0.5, 1.5, [2, 3, 4]).astype(np.float32)
    attrs = {"axis": 1, "keepdims": 0} if op == "ArgMin" else {"axes": [0, 2], "keepdims": 1}
    out_type = TensorProto.INT64 if op == "ArgMin" else TensorProto.FLOAT
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], **attrs)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", out_type, None)])
    m = onnx.shape_inference.infer_shapes(
        helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), strict_mode=True)
    path = tmp_path / f"{op}.onnx"
    onnx.save(m, str(path))
    got, want = _cellar_and_onnxruntime(np, ort, path, x, tmp_path)
    assert _diff(np, got, want) <= TOLERANCE


@pytest.mark.parametrize("op", UNARY + BINARY)
def test_ops_c_onnx_import_runs_like_onnxruntime(tmp_path, op):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    from onnx import TensorProto, helper

    rng = np.random.default_rng(31)
    shape = [2, 3, 4]
    if op in UNARY:
        lo, hi = {"Acosh": (1.0, 4.0), "Asin": (-0.99, 0.99), "Acos": (-0.99, 0.99),
                  "Atanh": (-0.99, 0.99)}.get(op, (-3.0, 3.0))
        x = rng.uniform(lo, hi, shape).astype(np.float32)
        if op == "Round":
            x.reshape(-1)[:4] = [0.5, 1.5, 2.5, -2.5]
        nodes = [helper.make_node(op, ["x"], ["y"])]
        out_type = TensorProto.FLOAT
    else:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        if op in ("And", "Or", "Xor"):
            nodes = [helper.make_node("Greater", ["x", "zero"], ["a"]),
                     helper.make_node("Less", ["x", "half"], ["b"]),
                     helper.make_node(op, ["a", "b"], ["y"])]
        else:
            nodes = [helper.make_node(op, ["x", "half"], ["y"])]
        out_type = TensorProto.BOOL
    inits = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("half", TensorProto.FLOAT, [4], [0.5, -0.5, 0.0, 0.25])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", out_type, shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    path = tmp_path / f"{op}.onnx"
    onnx.save(m, str(path))
    got, want = _cellar_and_onnxruntime(np, ort, path, x, tmp_path)
    diff = _diff(np, got.astype(np.float32), want.astype(np.float32))
    assert diff <= TOLERANCE * max(1.0, float(np.max(np.abs(want)))), f"{op}: max diff {diff}"
