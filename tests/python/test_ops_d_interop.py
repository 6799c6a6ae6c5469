"""What real MindSpore nets use beyond mindcv (issue 12 items 4 and 6: LSTM, GRU (also with
seq_length: ReverseSequence), TopK, TopkExt, OneHot, OneHotExt, embedding lookups (Gather, mint's
Embedding), GatherD, RemainderTensorScalar, GreaterEqualScalar, EqScalar, ProdExt, if/else sub-graphs),
checked by ONNX Runtime.

MindSpore 2.10 wrote tests/fixtures/mindspore/2.10/mindir/ops_d_*.mindir (make_ops_d_fixtures.py
there). Each converts to ONNX (what `cellar convert` does), passes onnx.checker, runs in ONNX
Runtime within 1e-4 * max(1, max |MindSpore's output|), holds no initializer that no node reads
(ONNX Runtime warns of those), and does the same after ONNX -> MindIR -> ONNX. The while loop's
file loads (cellar inspect shows the loop) but does not convert to ONNX, naming its sub-graphs. Live, with MindSpore (CELLAR_MINDSPORE_PYTHON): the MindIR
cellar writes for each (the if/else flattened to a Select) runs in MindSpore's GraphCell like
MindSpore's own file (not TopkExt: MindSpore 2.10 has no CPU kernel for it). ONNX files written with the onnx package (LSTM in its
layouts and directions, GRU, unrolled by cellar's reader, in its directions and both reset
variants, TopK, OneHot with negative indices) run in cellar like in ONNX Runtime.
"""
import subprocess

import pytest

from support import cellar_cli, convert_graph, require
from test_ops_a_interop import FIXTURES, _convert, _diff, _run_ort, check_cellar_mindir_in_mindspore

NETS = ["ops_d_lstm", "ops_d_gru", "ops_d_seqlen", "ops_d_topk", "ops_d_topk_ext", "ops_d_onehot", "ops_d_embed",
        "ops_d_scalar", "ops_d_gatherd", "ops_d_if", "ops_d_iftuple", "ops_zoo_promote"]


def _bound(np, want):
    return 1e-4 * max(1.0, float(np.max(np.abs(want.astype(np.float64)), initial=0.0)))


def _unread_initializers(model):
    read = {i for n in model.graph.node for i in n.input}
    read |= {o.name for o in model.graph.output}
    return [t.name for t in model.graph.initializer if t.name not in read]


@pytest.mark.parametrize("name", NETS)
def test_ops_d_onnx_export_runs_in_onnxruntime(tmp_path, name):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    x = np.load(FIXTURES / f"{name}.input.npy")
    want = np.load(FIXTURES / f"{name}.output.npy")
    exported = tmp_path / "d.onnx"
    _convert(FIXTURES / f"{name}.mindir", exported)
    model = onnx.load(str(exported))
    onnx.checker.check_model(model, full_check=True)
    assert _unread_initializers(model) == []
    assert _diff(np, _run_ort(np, ort, exported, x), want) <= _bound(np, want)
    back, again = tmp_path / "d.mindir", tmp_path / "d.again.onnx"
    _convert(exported, back)
    _convert(back, again)
    assert _unread_initializers(onnx.load(str(again))) == []
    assert _diff(np, _run_ort(np, ort, again, x), want) <= _bound(np, want)


@pytest.mark.parametrize("name", [n for n in NETS if n not in ("ops_d_topk_ext", "ops_zoo_promote")])
def test_ops_d_cellar_mindir_runs_in_mindspore(tmp_path, name):
    check_cellar_mindir_in_mindspore(tmp_path, name)


@pytest.mark.parametrize("name", ["ops_d_if", "ops_d_iftuple"])
def test_ops_d_if_takes_either_branch_in_onnxruntime(tmp_path, name):
    np = require("numpy")
    ort = require("onnxruntime")
    x = np.load(FIXTURES / f"{name}.neg.input.npy")
    want = np.load(FIXTURES / f"{name}.neg.output.npy")
    exported = tmp_path / "if.onnx"
    _convert(FIXTURES / f"{name}.mindir", exported)
    assert _diff(np, _run_ort(np, ort, exported, x), want) <= _bound(np, want)


def test_ops_d_while_does_not_convert_naming_its_sub_graphs(tmp_path):
    proc = subprocess.run([str(convert_graph()), str(FIXTURES / "ops_d_while.mindir"),
                           str(tmp_path / "w.onnx")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    assert "3 sub-graphs" in err and "calls itself" in err and "Switch x1" in err, err
    assert not (tmp_path / "w.onnx").exists()
    inspect = subprocess.run([str(cellar_cli()), "inspect", str(FIXTURES / "ops_d_while.mindir")],
                             capture_output=True, text=True, timeout=120)
    assert inspect.returncode == 0, inspect.stderr
    assert "WhileLoop" in inspect.stdout and "control flow:" in inspect.stdout, inspect.stdout
    assert "3 sub-graphs" in inspect.stdout and "calls itself" in inspect.stdout, inspect.stdout


def _cellar_run(np, path, feeds, tmp_path):
    """`cellar run`'s output of the model at `path` on `feeds` (name -> array, in the graph's input
    order)."""
    args = []
    for k, value in enumerate(feeds.values()):
        np.save(tmp_path / f"in{k}.npy", value)
        args += ["-i", str(tmp_path / f"in{k}.npy")]
    out = tmp_path / "y.npy"
    proc = subprocess.run([str(cellar_cli()), "run", str(path), *args, "--output", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"cellar run {path.name}:\n{proc.stdout}\n{proc.stderr}"
    return np.load(out)


def _cellar_and_onnxruntime(np, ort, path, feeds, tmp_path):
    """`cellar run`'s and ONNX Runtime's first output of the model at `path` on `feeds`."""
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    return _cellar_run(np, path, feeds, tmp_path), want[0]


def _lstm_model(onnx, np, direction, layout, with_bias, with_state, ort_twin=False, hidden=3,
                seq=4, batch=2, size=5):
    """An ONNX LSTM and an input for it; one output, Y, Y_h and Y_c flattened and concatenated
    (cellar run writes one output). ONNX Runtime has no layout 1 ("batchwise recurrent operations
    are not supported"): `ort_twin` gives the same computation in layout 0 with Transposes around
    it, for the same input and the same output."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(91)
    d = 2 if direction == "bidirectional" else 1
    arrays = {"W": rng.uniform(-0.7, 0.7, (d, 4 * hidden, size)),
              "R": rng.uniform(-0.7, 0.7, (d, 4 * hidden, hidden))}
    if with_bias:
        arrays["B"] = rng.uniform(-0.5, 0.5, (d, 8 * hidden))
    state = (batch, d, hidden) if layout else (d, batch, hidden)
    if with_state:
        arrays["h0"] = rng.uniform(-1, 1, state)
        arrays["c0"] = rng.uniform(-1, 1, state)
    twin = ort_twin and layout == 1
    if twin:
        for k in ("h0", "c0"):
            if k in arrays:
                arrays[k] = arrays[k].transpose(1, 0, 2)
    inits = [numpy_helper.from_array(a.astype(np.float32), k) for k, a in arrays.items()]
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "minus1"))
    xshape = [batch, seq, size] if layout else [seq, batch, size]
    inputs = ["xt" if twin else "x", "W", "R", "B" if with_bias else "", "",
              "h0" if with_state else "", "c0" if with_state else ""]
    outs = ["Y", "Y_h", "Y_c"]
    nodes = []
    if twin:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]))
        outs = ["Y0", "Y_h0", "Y_c0"]
    nodes.append(helper.make_node("LSTM", inputs, outs, hidden_size=hidden, direction=direction,
                                  layout=0 if twin else layout))
    if twin:
        nodes += [helper.make_node("Transpose", ["Y0"], ["Y"], perm=[2, 0, 1, 3]),
                  helper.make_node("Transpose", ["Y_h0"], ["Y_h"], perm=[1, 0, 2]),
                  helper.make_node("Transpose", ["Y_c0"], ["Y_c"], perm=[1, 0, 2])]
    nodes += [helper.make_node("Reshape", [v, "minus1"], [v + "_flat"]) for v in ("Y", "Y_h", "Y_c")]
    nodes.append(helper.make_node("Concat", ["Y_flat", "Y_h_flat", "Y_c_flat"], ["out"], axis=0))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT,
                                                         [(seq + 2) * d * batch * hidden])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m, rng.uniform(-1, 1, xshape).astype(np.float32)


@pytest.mark.parametrize("direction,layout,with_bias,with_state", [
    ("forward", 0, True, True), ("forward", 0, False, False), ("bidirectional", 0, True, True),
    ("bidirectional", 1, True, False), ("forward", 1, False, True)])
def test_ops_d_onnx_lstm_import_runs_like_onnxruntime(tmp_path, direction, layout, with_bias,
                                                      with_state):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    m, x = _lstm_model(onnx, np, direction, layout, with_bias, with_state)
    twin, _ = _lstm_model(onnx, np, direction, layout, with_bias, with_state, ort_twin=True)
    path, twin_path = tmp_path / "lstm.onnx", tmp_path / "twin.onnx"
    onnx.save(m, str(path))
    onnx.save(twin, str(twin_path))
    got = _cellar_run(np, path, {"x": x}, tmp_path)
    want = ort.InferenceSession(str(twin_path if layout else path),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert _diff(np, got, want) <= 1e-5


def test_ops_d_onnx_topk_one_hot_gather_elements_import_run_like_onnxruntime(tmp_path):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    x = np.random.default_rng(92).uniform(-3, 3, [2, 3, 5]).astype(np.float32)
    x[0, 0, :2] = 1.5  # a tie: the lower index first
    inits = [numpy_helper.from_array(np.array([3], np.int64), "k"),
             numpy_helper.from_array(np.array(4, np.int64), "depth"),
             numpy_helper.from_array(np.array([-0.5, 2.0], np.float32), "values"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=0),
             helper.make_node("TopK", ["x", "k"], ["v2", "i2"]),
             helper.make_node("Floor", ["x"], ["xf"]),
             helper.make_node("Cast", ["xf"], ["idx"], to=TensorProto.INT64),
             # indices in [-3, 2]: negative ones count from the end in ONNX
             helper.make_node("OneHot", ["idx", "depth", "values"], ["oh"], axis=1),
             helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["i2"], ["fi2"], to=TensorProto.FLOAT),
             # the same indices along the last axis (length 5): negative ones count from the end
             helper.make_node("GatherElements", ["x", "idx"], ["ge"], axis=2)]
    for v in ("v", "fi", "v2", "fi2", "oh", "ge"):
        nodes.append(helper.make_node("Reshape", [v, "minus1"], [v + "_flat"]))
    nodes.append(helper.make_node("Concat",
                                  [v + "_flat" for v in ("v", "fi", "v2", "fi2", "oh", "ge")],
                                  ["out"], axis=0))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [2, 3, 5])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [246])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    path = tmp_path / "topk.onnx"
    onnx.save(m, str(path))
    got, want = _cellar_and_onnxruntime(np, ort, path, {"x": x}, tmp_path)
    assert _diff(np, got, want) == 0


@pytest.mark.parametrize("direction,lbr,with_bias,with_state", [
    ("forward", 1, True, True), ("bidirectional", 0, False, False), ("reverse", 0, True, False),
    ("bidirectional", 1, True, True)])
def test_ops_d_onnx_gru_import_runs_like_onnxruntime(tmp_path, direction, lbr, with_bias,
                                                     with_state):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(93)
    d, hidden, seq, batch, size = (2 if direction == "bidirectional" else 1), 3, 4, 2, 5
    arrays = {"W": rng.uniform(-0.7, 0.7, (d, 3 * hidden, size)),
              "R": rng.uniform(-0.7, 0.7, (d, 3 * hidden, hidden))}
    if with_bias:
        arrays["B"] = rng.uniform(-0.5, 0.5, (d, 6 * hidden))
    if with_state:
        arrays["h0"] = rng.uniform(-1, 1, (d, batch, hidden))
    inits = [numpy_helper.from_array(a.astype(np.float32), k) for k, a in arrays.items()]
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "minus1"))
    node = helper.make_node("GRU", ["x", "W", "R", "B" if with_bias else "", "",
                                    "h0" if with_state else ""], ["Y", "Y_h"],
                            hidden_size=hidden, direction=direction, linear_before_reset=lbr)
    flats = [helper.make_node("Reshape", [v, "minus1"], [v + "_flat"]) for v in ("Y", "Y_h")]
    cat = helper.make_node("Concat", ["Y_flat", "Y_h_flat"], ["out"], axis=0)
    g = helper.make_graph([node, *flats, cat], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [seq, batch, size])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT,
                                                         [(seq + 1) * d * batch * hidden])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    path = tmp_path / "gru.onnx"
    onnx.save(m, str(path))
    x = rng.uniform(-1, 1, (seq, batch, size)).astype(np.float32)
    got, want = _cellar_and_onnxruntime(np, ort, path, {"x": x}, tmp_path)
    assert _diff(np, got, want) <= 1e-5
