"""The ONNX and MindIR spellings of the normalisation, activation and resize ops of issue 12
(ops-b), checked by peers.

MindSpore 2.10 wrote tests/fixtures/mindspore/2.10/mindir/ops_b_*.mindir (make_ops_b_fixtures.py
there). cellar converts each to ONNX (tests/tools/convert_graph, what `cellar convert` does): the
file must pass onnx.checker and run in ONNX Runtime (PyPI) within 1e-5 of the recorded output, also
after ONNX -> MindIR -> ONNX. Live, with MindSpore (CELLAR_MINDSPORE_PYTHON): the MindIR cellar
writes for each net runs in MindSpore's own GraphCell with MindSpore's recorded output (ops_b_ext
excepted: MindSpore 2.10 has no CPU kernel for MishExt, SeLUExt, EluExt, LeakyReLUExt). And ONNX
files written with the onnx package, each read by one of these rows' import rules (PRelu, Elu,
LeakyRelu, Selu, Softplus, Softsign, HardSigmoid, Mish, LayerNormalization with Mean/InvStdDev,
GroupNormalization, ReduceL1/L2, Resize in each mode that maps), run in cellar like in ONNX Runtime.
"""
import subprocess

import pytest

from support import cellar_cli, require
from test_ops_a_interop import (TOLERANCE, _diff, check_cellar_mindir_in_mindspore,
                                check_fixture_through_onnx)

NETS = ["ops_b_act", "ops_b_ext", "ops_b_norm", "ops_b_resize", "ops_b_lpnorm"]


@pytest.mark.parametrize("name", NETS)
def test_ops_b_onnx_export_runs_in_onnxruntime(tmp_path, name):
    check_fixture_through_onnx(tmp_path, name)


@pytest.mark.parametrize("name", [n for n in NETS if n != "ops_b_ext"])
def test_ops_b_cellar_mindir_runs_in_mindspore(tmp_path, name):
    check_cellar_mindir_in_mindspore(tmp_path, name)


def _onnx_cases(onnx):
    from onnx import TensorProto, helper
    import numpy as np

    F = TensorProto.FLOAT

    def ints(name, v):
        return helper.make_tensor(name, TensorProto.INT64, [len(v)], v)

    def floats(name, shape, seed):
        v = np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32)
        return helper.make_tensor(name, F, list(shape), v.reshape(-1).tolist())

    def model(nodes, inits=(), opset=17, in_shape=(2, 6, 4, 5), outputs=("y",)):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, list(in_shape))],
                              [helper.make_tensor_value_info(o, F, None) for o in outputs],
                              list(inits))
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])

    def node(op, inputs=("x",), outputs=("y",), **attrs):
        return helper.make_node(op, list(inputs), list(outputs), **attrs)

    def resize(mode, ctm, sizes, **attrs):
        return model([node("Resize", ["x", "", "", "sizes"], mode=mode,
                           coordinate_transformation_mode=ctm, **attrs)],
                     [ints("sizes", sizes)], in_shape=(2, 3, 4, 5))

    return {
        "prelu_per_channel": model([node("PRelu", ["x", "slope"])],
                                   [floats("slope", (6, 1, 1), 1)]),
        "prelu_full_slope": model([node("PRelu", ["x", "slope"])], [floats("slope", (4, 5), 2)]),
        "elu": model([node("Elu", alpha=0.6)]),
        "leaky_relu": model([node("LeakyRelu", alpha=0.15)]),
        "selu_default": model([node("Selu")]),
        "selu_custom": model([node("Selu", alpha=1.2, gamma=0.9)]),
        "softplus_softsign": model([node("Softplus", outputs=["s"]),
                                    node("Softsign", ["s"])]),
        "hard_sigmoid_hsigmoid": model([node("HardSigmoid", alpha=1.0 / 6, beta=0.5)]),
        "hard_sigmoid_default": model([node("HardSigmoid")]),
        "mish_opset18": model([node("Mish")], opset=18),
        "layer_norm_stats": model(
            [node("LayerNormalization", ["x", "scale", "bias"], ["y", "mean", "isd"], axis=2,
                  epsilon=1e-5)],
            [floats("scale", (4, 5), 3), floats("bias", (4, 5), 4)],
            outputs=("y", "mean", "isd")),
        "layer_norm_no_bias": model([node("LayerNormalization", ["x", "scale"], axis=-1)],
                                    [floats("scale", (5,), 5)]),
        "group_norm_opset18": model(
            [node("GroupNormalization", ["x", "scale", "bias"], num_groups=3, epsilon=1e-5)],
            [floats("scale", (3,), 6), floats("bias", (3,), 7)], opset=18),
        "reduce_l1_l2": model(
            [node("ReduceL1", outputs=["a"], axes=[1], keepdims=1),
             node("ReduceL2", ["a"], axes=[2, 3], keepdims=0)]),
        "resize_linear_half_pixel": resize("linear", "half_pixel", [2, 3, 7, 9]),
        "resize_linear_align_corners": resize("linear", "align_corners", [2, 3, 7, 3]),
        "resize_linear_asymmetric": resize("linear", "asymmetric", [2, 3, 8, 10]),
        "resize_nearest_asymmetric": resize("nearest", "asymmetric", [2, 3, 7, 9],
                                            nearest_mode="floor"),
        "resize_nearest_align_corners": resize("nearest", "align_corners", [2, 3, 7, 9],
                                               nearest_mode="round_prefer_ceil"),
        "resize_nearest_tf_half_pixel": resize("nearest", "tf_half_pixel_for_nn", [2, 3, 3, 7],
                                               nearest_mode="floor"),
    }


ONNX_CASES = ["prelu_per_channel", "prelu_full_slope", "elu", "leaky_relu", "selu_default",
              "selu_custom", "softplus_softsign", "hard_sigmoid_hsigmoid", "hard_sigmoid_default",
              "mish_opset18", "layer_norm_stats", "layer_norm_no_bias",
              "reduce_l1_l2", "resize_linear_half_pixel", "resize_linear_align_corners",
              "resize_linear_asymmetric", "resize_nearest_asymmetric",
              "resize_nearest_align_corners", "resize_nearest_tf_half_pixel"]


@pytest.mark.parametrize("case", ONNX_CASES)
def test_ops_b_onnx_imports_run_like_onnxruntime(tmp_path, case):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    m = onnx.shape_inference.infer_shapes(_onnx_cases(onnx)[case], strict_mode=True)
    onnx.checker.check_model(m)
    path = tmp_path / f"{case}.onnx"
    onnx.save(m, str(path))
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(13).uniform(-3, 3, shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    want = dict(zip(names, session.run(None, {"x": x})))
    out = tmp_path / "out"
    proc = subprocess.run([str(cellar_cli()), "run", str(path), "-i", str(tmp_path / "x.npy"),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"cellar run {case}:\n{proc.stdout}\n{proc.stderr}"
    for name in names:
        got = np.load(out / f"{name}.npy")
        diff = _diff(np, got, want[name])
        assert diff <= TOLERANCE * max(1.0, float(np.max(np.abs(want[name])))), \
            f"{case} output {name}: max |cellar - onnxruntime| = {diff}"
