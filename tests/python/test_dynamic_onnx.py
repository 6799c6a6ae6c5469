"""ONNX models with symbolic dimensions (dim_param, or a dimension with neither value nor param),
written with onnx.helper, run by `cellar run` at several batch sizes and compared with ONNX Runtime
live; a torch-style Shape -> Gather -> Concat -> Reshape chain (what torch.onnx exports for
x.view(x.size(0), -1)) runs at every batch too, while a model that bakes its batch into a constant
cellar cannot repair is refused with a message that says why; `cellar inspect` shows the symbols.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import json

import pytest

from support import cellar, require


np = require("numpy")
onnx = require("onnx")
ort = require("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(model, path):
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _init(name, rng, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)


def mlp(path, batch_dim="batch"):
    """MatMul + Add + Relu + Gemm over an input of shape (batch_dim, 8)."""
    rng = np.random.default_rng(5)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 4])
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Add", ["h", "b1"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
    ]
    inits = [_init("w1", rng, (8, 16)), _init("b1", rng, (16,)), _init("w2", rng, (4, 16)),
             _init("b2", rng, (4,))]
    g = helper.make_graph(nodes, "mlp", [x], [y], inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def convnet(path):
    """Conv + Relu + MaxPool + Flatten + Gemm over (N, 3, 8, 8)."""
    rng = np.random.default_rng(6)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = [_init("w", rng, (4, 3, 3, 3)), _init("b", rng, (4,)), _init("fw", rng, (5, 64)),
             _init("fb", rng, (5,))]
    g = helper.make_graph(nodes, "convnet", [x], [y], inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def torch_view(path):
    """x.view(x.size(0), -1) @ w as torch.onnx writes it: Shape -> Gather -> Unsqueeze ->
    Concat -> Reshape, then MatMul."""
    rng = np.random.default_rng(7)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    consts = [
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus_one"),
        _init("w", rng, (6, 4)),
    ]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
    ]
    g = helper.make_graph(nodes, "torch_view", [x], [y], consts)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def _run_both(model, x, tmp_path, tag):
    xin = tmp_path / f"{tag}.x.npy"
    yout = tmp_path / f"{tag}.y.npy"
    np.save(xin, x)
    cellar("run", model, "--input", f"x={xin}", "--output", yout)
    got = np.load(yout)
    want = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    return got, want


@pytest.mark.parametrize("make,rest", [(mlp, (8,)), (convnet, (3, 8, 8))])
def test_symbolic_batch_matches_onnxruntime_at_every_batch(tmp_path, make, rest):
    model = make(tmp_path / "m.onnx")
    for batch in (1, 2, 5, 16):
        x = np.random.default_rng(batch).standard_normal((batch, *rest)).astype(np.float32)
        got, want = _run_both(model, x, tmp_path, f"b{batch}")
        assert got.shape == want.shape
        bound = 1e-4 * max(1.0, float(np.abs(want).max()))
        assert float(np.abs(got - want).max()) <= bound, batch


def test_unnamed_symbolic_dimension(tmp_path):
    """A dimension with neither dim_value nor dim_param is open too ('?')."""
    model = mlp(tmp_path / "m.onnx", batch_dim=None)
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    got, want = _run_both(model, x, tmp_path, "b3")
    assert float(np.abs(got - want).max()) <= 1e-4 * max(1.0, float(np.abs(want).max()))
    j = json.loads(cellar("inspect", model, "--json").stdout)
    assert j["inputs"][0]["symbols"] == ["?", ""]


def test_fixed_axis_conflict_is_refused(tmp_path):
    model = mlp(tmp_path / "m.onnx")
    xin = tmp_path / "x.npy"
    np.save(xin, np.zeros((3, 9), dtype=np.float32))
    proc = cellar("run", model, "--input", f"x={xin}", status=1)
    assert "(batch, 8)" in proc.stderr, proc.stderr


def test_torch_style_view_follows_the_batch(tmp_path):
    """cellar folds the Shape chain at load; the Reshape it feeds then takes its batch from its
    input at run time, so every batch matches ONNX Runtime."""
    model = torch_view(tmp_path / "view.onnx")
    for batch in (1, 3, 8):
        x = np.random.default_rng(batch).standard_normal((batch, 2, 3)).astype(np.float32)
        got, want = _run_both(model, x, tmp_path, f"b{batch}")
        assert got.shape == want.shape == (batch, 4)
        assert float(np.abs(got - want).max()) <= 1e-4 * max(1.0, float(np.abs(want).max()))
    j = json.loads(cellar("inspect", model, "--json").stdout)
    assert j["outputs"][0]["symbols"] == ["batch", ""]


def baked_constant(path):
    """x + ConstantOfShape(Shape(x)): folded at load into a constant of the batch it was folded
    at, which no Reshape can repair."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 3])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["c"], value=one),
        helper.make_node("Add", ["x", "c"], ["y"]),
    ]
    g = helper.make_graph(nodes, "baked", [x], [y])
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_batch_baked_into_a_constant_is_refused_with_the_reason(tmp_path):
    model = baked_constant(tmp_path / "baked.onnx")
    # ONNX Runtime runs it at any batch; cellar folds the chain at load and must not compute
    # with the batch it folded in.
    x = np.ones((3, 2, 3), dtype=np.float32)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"x": x})[0].shape == (3, 2, 3)
    np.save(tmp_path / "x.npy", x)
    proc = cellar("run", model, "--input", f"x={tmp_path / 'x.npy'}", status=1)
    assert "would compute with a wrong size" in proc.stderr, proc.stderr
    assert "(1, 2, 3)" in proc.stderr and "(7, 2, 3)" in proc.stderr, proc.stderr


def test_inspect_shows_the_symbols(tmp_path):
    model = convnet(tmp_path / "c.onnx")
    text = cellar("inspect", model).stdout
    assert "(N, 3, 8, 8)" in text, text
    assert "(N, 5)" in text, text
    j = json.loads(cellar("inspect", model, "--json").stdout)
    assert j["symbolic"] is True
    assert j["inputs"][0]["shape"] == [-1, 3, 8, 8]
    assert j["inputs"][0]["symbols"] == ["N", "", "", ""]
    assert j["outputs"][0]["shape"] == [-1, 5]
    assert j["outputs"][0]["symbols"] == ["N", ""]


def test_static_model_has_no_symbols(tmp_path):
    rng = np.random.default_rng(1)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "s", [x], [y],
                          [_init("w", rng, (8, 16))])
    model = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                  tmp_path / "s.onnx")
    j = json.loads(cellar("inspect", model, "--json").stdout)
    assert j["symbolic"] is False
    assert "symbols" not in j["inputs"][0]
