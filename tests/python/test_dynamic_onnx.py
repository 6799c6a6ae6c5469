"""ONNX models with symbolic dimensions (dim_param, or a dimension with neither value nor param),
written with onnx.helper, run by `cellar run` at several batch sizes and compared with ONNX Runtime
live; a torch-style Shape -> Gather -> Concat -> Reshape chain (what torch.onnx exports for
x.view(x.size(0), -1)) runs at every batch too, as do shapes computed at run time (ConstantOfShape
of the input's shape, and a real PyTorch export with dynamic axes, tests/fixtures/torch/
make_dynamic_fixture.py, against its recorded outputs), while a model needing at load a size that
follows the batch is refused with a message that says why; `cellar inspect` shows the symbols.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import json
from pathlib import Path

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


def _cellar_and_ort(model, sess, feeds, out):
    """`cellar run` of `model` and the ONNX Runtime session `sess` on the same feeds (input name
    -> array): both sets of outputs, as dicts by output name (cellar's written into folder `out`)."""
    args = []
    for name, value in feeds.items():
        path = out.parent / f"{out.name}.{name}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    cellar("run", model, *args, "--output-dir", out)
    names = [o.name for o in sess.get_outputs()]
    return ({n: np.load(out / f"{n}.npy") for n in names},
            dict(zip(names, sess.run(None, feeds))))


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


def new_ones(path):
    """x + ConstantOfShape(Shape(x)) (torch's x + x.new_ones(x.shape)): the shape changes with the
    batch, so cellar computes it at run time (FillV2 planned with the shape's values)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 3])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["c"], value=one),
        helper.make_node("Add", ["x", "c"], ["y"]),
    ]
    g = helper.make_graph(nodes, "new_ones", [x], [y])
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_shape_read_from_the_batch_is_computed_at_run_time(tmp_path):
    model = new_ones(tmp_path / "new_ones.onnx")
    for batch in (1, 3, 6):
        x = np.random.default_rng(batch).standard_normal((batch, 2, 3)).astype(np.float32)
        got, want = _run_both(model, x, tmp_path, f"b{batch}")
        assert got.shape == want.shape == (batch, 2, 3)
        assert float(np.abs(got - want).max()) <= 1e-6


def topk_and_pad_of_length(path):
    """TopK(x, k) with k = L // 2 and Pad(x, pads) with pads (0, 0, 0, L), both read from x's
    open second dimension L (torch's x.topk(x.size(1) // 2), F.pad(x, (0, x.size(1)))): cellar
    computes them at run time."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "k"])
    i = helper.make_tensor_value_info("i", TensorProto.INT64, ["batch", "k"])
    p = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", "n2"])
    consts = [numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
              numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
              numpy_helper.from_array(np.array([0, 0, 0], dtype=np.int64), "zeros3")]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "one", "two"], ["len"]),
        helper.make_node("Div", ["len", "two"], ["k"]),
        helper.make_node("TopK", ["x", "k"], ["y", "i"]),
        helper.make_node("Concat", ["zeros3", "len"], ["pads"], axis=0),
        helper.make_node("Pad", ["x", "pads"], ["p"]),
    ]
    g = helper.make_graph(nodes, "topk_pad", [x], [y, i, p], consts)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_topk_and_pad_read_from_the_shape_match_onnxruntime(tmp_path):
    model = topk_and_pad_of_length(tmp_path / "topk_pad.onnx")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for n, length in ((2, 6), (3, 9), (1, 1), (2, 6)):
        x = np.random.default_rng(length).standard_normal((n, length)).astype(np.float32)
        outs, want = _cellar_and_ort(model, sess, {"x": x}, tmp_path / f"out{n}x{length}")
        for name in ("y", "i", "p"):
            got, ref = outs[name], want[name]
            assert got.shape == ref.shape, (name, n, length)
            assert np.array_equal(got, ref), (name, n, length)


def resize_to_shape_of(path, mode, ctm, nearest_mode="floor"):
    """Resize(x, sizes) with sizes = (N, C) of x and (H, W) of y, both inputs with open
    dimensions (torch's F.interpolate(x, size=y.shape[-2:]) in a feature pyramid): the sizes are
    computed at run time."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1, "H", "W"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 3, "H", "W"])
    consts = [numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
              numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
              numpy_helper.from_array(np.array([4], dtype=np.int64), "four")]
    nodes = [
        helper.make_node("Shape", ["x"], ["sx"]),
        helper.make_node("Shape", ["y"], ["sy"]),
        helper.make_node("Slice", ["sx", "zero", "two"], ["nc"]),
        helper.make_node("Slice", ["sy", "two", "four"], ["hw"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["r"], mode=mode,
                         coordinate_transformation_mode=ctm, nearest_mode=nearest_mode),
        helper.make_node("Add", ["r", "y"], ["z"]),
    ]
    g = helper.make_graph(nodes, "resize_to", [x, y], [z], consts)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize("mode,ctm", [("linear", "pytorch_half_pixel"), ("linear", "align_corners"),
                                      ("nearest", "asymmetric")])
def test_resize_to_a_size_read_from_another_input_matches_onnxruntime(tmp_path, mode, ctm):
    model = resize_to_shape_of(tmp_path / "resize.onnx", mode, ctm)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    for n, hw, HW in ((1, (4, 5), (8, 10)), (2, (3, 3), (7, 5)), (1, (6, 4), (1, 1)), (1, (4, 5), (8, 10))):
        x = rng.standard_normal((n, 3, *hw)).astype(np.float32)
        y = rng.standard_normal((n, 1, *HW)).astype(np.float32)
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y)
        out = tmp_path / "z.npy"
        cellar("run", model, "--input", f"x={tmp_path / 'x.npy'}", "--input", f"y={tmp_path / 'y.npy'}",
               "--output", out)
        got, want = np.load(out), sess.run(None, {"x": x, "y": y})[0]
        assert got.shape == want.shape == (n, 3, *HW)
        assert float(np.abs(got - want).max()) <= 1e-5, (n, hw, HW)


def split_of_length(path):
    """Split(x, split) with split = (1, L - 1) read from x's open second dimension (torch's
    x.split([1, x.size(1) - 1], 1)): the sizes are computed at run time."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 1])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", "m"])
    consts = [numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
              numpy_helper.from_array(np.array([2], dtype=np.int64), "two")]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "one", "two"], ["len"]),
        helper.make_node("Sub", ["len", "one"], ["rest"]),
        helper.make_node("Concat", ["one", "rest"], ["split"], axis=0),
        helper.make_node("Split", ["x", "split"], ["a", "b"], axis=1),
    ]
    g = helper.make_graph(nodes, "split", [x], [a, b], consts)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_split_sizes_read_from_the_shape_match_onnxruntime(tmp_path):
    model = split_of_length(tmp_path / "split.onnx")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for n, length in ((2, 6), (3, 1), (1, 4), (2, 6)):
        x = np.random.default_rng(length).standard_normal((n, length)).astype(np.float32)
        outs, want = _cellar_and_ort(model, sess, {"x": x}, tmp_path / f"out{n}x{length}")
        for name in ("a", "b"):
            got, ref = outs[name], want[name]
            assert got.shape == ref.shape, (name, n, length)
            assert np.array_equal(got, ref), (name, n, length)


def one_hot_of_length(path):
    """OneHot(indices, depth) with depth read from x's open second dimension: cellar needs depth at
    load (its OneHot takes it as an attribute), so it cannot follow it."""
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "n", "n"])
    consts = [numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
              numpy_helper.from_array(np.array([0.0, 1.0], dtype=np.float32), "values")]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["depth"], axis=0),
        helper.make_node("OneHot", ["x", "depth", "values"], ["y"]),
    ]
    g = helper.make_graph(nodes, "one_hot", [x], [y], consts)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_size_cellar_needs_at_load_is_refused_with_the_reason(tmp_path):
    model = one_hot_of_length(tmp_path / "one_hot.onnx")
    x = np.array([[0, 2, 1], [1, 1, 0]], dtype=np.int64)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"x": x})[0].shape == (2, 3, 3)
    np.save(tmp_path / "x.npy", x)
    proc = cellar("run", model, "--input", f"x={tmp_path / 'x.npy'}", status=1)
    assert "would compute with a wrong size" in proc.stderr, proc.stderr


TORCH_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"


@pytest.mark.parametrize("size", ["2", "3"])
def test_torch_export_with_sizes_read_at_run_time(tmp_path, size):
    """tests/fixtures/torch/make_dynamic_fixture.py: x.new_zeros(x.shape), torch.arange(x.size(1)),
    h.view(x.size(0), -1) and x[:, :x.size(1) - 1] exported with dynamic batch and sequence axes.
    cellar matches PyTorch's recorded outputs and ONNX Runtime live at (2, 5, 4) and (3, 7, 4)."""
    model = TORCH_FIXTURES / "dynamic_opset17.onnx"
    x = np.load(TORCH_FIXTURES / f"dynamic_x{size}.npy")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    got, ref = _cellar_and_ort(model, sess, {"x": x}, tmp_path / "out")
    (flat, head), (ort_flat, ort_head) = (got["flat"], got["head"]), (ref["flat"], ref["head"])
    want_flat = np.load(TORCH_FIXTURES / f"dynamic_flat{size}.npy")
    want_head = np.load(TORCH_FIXTURES / f"dynamic_head{size}.npy")
    assert flat.shape == want_flat.shape == ort_flat.shape == (x.shape[0], 6 * x.shape[1])
    assert head.shape == want_head.shape == ort_head.shape == (x.shape[0], x.shape[1] - 1, 4)
    assert float(np.abs(flat - want_flat).max()) <= 1e-5
    assert float(np.abs(flat - ort_flat).max()) <= 1e-5
    assert np.array_equal(head, want_head) and np.array_equal(head, ort_head)


@pytest.mark.parametrize("batch", ["2", "5"])
def test_torch_export_reading_the_shape_of_an_intermediate_value(tmp_path, batch):
    """tests/fixtures/torch/make_window_fixture.py: the Shape of a value whose first dimension is
    4 * batch (Swin's window partition, ViT's class token) feeds a Reshape and an Expand, and a
    fixed dimension of it a Pad's pads. cellar reads the first at run time, keeps the pads
    constant, and matches PyTorch's recorded outputs and ONNX Runtime live."""
    model = TORCH_FIXTURES / "window_opset17.onnx"
    x = np.load(TORCH_FIXTURES / f"window_x{batch}.npy")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    got, ref = _cellar_and_ort(model, sess, {"x": x}, tmp_path / "out")
    (h, t), (ort_h, ort_t) = (got["h"], got["t"]), (ref["h"], ref["t"])
    n = 4 * x.shape[0]
    assert h.shape == ort_h.shape == (n, 3, 2, 4)
    assert t.shape == ort_t.shape == (n, 1, 6)
    for got, ref, want in ((h, ort_h, f"window_h{batch}.npy"), (t, ort_t, f"window_t{batch}.npy")):
        assert float(np.abs(got - ref).max()) <= 1e-5
        assert float(np.abs(got - np.load(TORCH_FIXTURES / want)).max()) <= 1e-5


@pytest.mark.parametrize("size", ["0", "1"])
def test_torch_export_with_arguments_computed_from_shapes(tmp_path, size):
    """tests/fixtures/torch/make_sizes_fixture.py: F.interpolate to another input's size, F.pad to
    a multiple of 4, topk(size // 2) and split([1, size - 1]) exported with dynamic axes. cellar
    matches PyTorch's recorded outputs and ONNX Runtime live at two sizes."""
    model = TORCH_FIXTURES / "sizes_opset17.onnx"
    feeds = {k: np.load(TORCH_FIXTURES / f"sizes_{k}{size}.npy") for k in ("x", "y")}
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    outs, refs = _cellar_and_ort(model, sess, feeds, tmp_path / "out")
    for name in ["up", "near", "padded", "top", "rest"]:
        got, ref = outs[name], refs[name]
        want = np.load(TORCH_FIXTURES / f"sizes_{name}{size}.npy")
        assert got.shape == ref.shape == want.shape, name
        assert float(np.abs(got - ref).max()) <= 1e-5, name
        assert float(np.abs(got - want).max()) <= 1e-5, name


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


def test_graph_cell_resize_reports_real_shapes_or_none(tmp_path):
    """GraphCell.resize (MindSpore Lite's Model.resize): shapes read from the input shapes are
    exact; an output whose shape depends on an input's values has None dimensions."""
    import cellar
    cell = cellar.nn.GraphCell(cellar.load(str(TORCH_FIXTURES / "dynamic_opset17.onnx")))
    cell.resize([[9, 11, 4]])
    assert cell.input_shapes == [(9, 11, 4)]
    assert cell.output_shapes == [(9, 66), (9, 10, 4)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    s = helper.make_tensor_value_info("s", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3, 4])
    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"]),
                           helper.make_node("Relu", ["x"], ["z"])], "r", [x, s], [y, z])
    model = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
                  tmp_path / "r.onnx")
    cell = cellar.nn.GraphCell(cellar.load(str(model)))
    cell.resize([[2, 3, 4], [2]])
    assert cell.output_shapes == [(None, None), (2, 3, 4)]
    out = cell(cellar.Tensor(np.ones((2, 3, 4), np.float32)), cellar.Tensor(np.array([4, 6])))
    assert out[0].shape == (4, 6)
    assert cell.output_shapes == [(4, 6), (2, 3, 4)]
