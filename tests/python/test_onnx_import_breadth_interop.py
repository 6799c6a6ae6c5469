"""ONNX ops of issue 12 read by cellar's import rules and run like ONNX Runtime (PyPI) runs them:
1-D Conv, MaxPool and AveragePool (on NCL input, run by the 2-D rows over an (N, C, 1, L) view),
ceil_mode's partial last windows (torchvision's googlenet and squeezenet1_0 export MaxPool so),
AveragePool with explicit pads that do not count (count_include_pad=0) or do (=1), alone and with
ceil_mode; Sum and Mean (AddN, or Add where they broadcast), LRN, InstanceNormalization (GroupNorm
with a group per channel), Range (a load-time constant), Einsum (Transpose, Reshape,
BatchMatMul, ReduceSum), 3-D Conv, MaxPool and AveragePool (Conv3D, MaxPool3D, AvgPool3D), and
the sequence ops (resolved at load time into the values they hold). Each model is written with the onnx package, checked, and run on one
seeded input by both.
"""
import subprocess

import pytest

from support import cellar_cli, require
from test_ops_a_interop import TOLERANCE, _diff


def _cases(onnx):
    from onnx import TensorProto, helper
    import numpy as np

    F = TensorProto.FLOAT

    def floats(name, shape, seed):
        v = np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)
        return helper.make_tensor(name, F, list(shape), v.reshape(-1).tolist())

    def model(op, in_shape, inputs=("x",), inits=(), extra=(), **attrs):
        nodes = list(extra) + [helper.make_node(op, list(inputs), ["y"], **attrs)]
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, list(in_shape))],
                              [helper.make_tensor_value_info("y", F, None)], list(inits))
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])

    def seq_model(in_shape, out_shape, nodes, inits=()):
        # The checker wants each output's shape, which shape inference leaves open after
        # sequence ops: given here.
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, list(in_shape))],
                              [helper.make_tensor_value_info("y", F, list(out_shape))],
                              list(inits))
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])

    def scalar(name, v, dtype=F):
        return helper.make_tensor(name, dtype, [], [v])

    def pool(op, in_shape, **attrs):
        return model(op, in_shape, **attrs)

    return {
        # 1-D
        "conv1d": model("Conv", (2, 3, 11), ["x", "w", "b"],
                        [floats("w", (4, 3, 3), 1), floats("b", (4,), 2)]),
        "conv1d_strided_padded_dilated": model("Conv", (1, 4, 13), ["x", "w"],
                                               [floats("w", (6, 2, 3), 3)], strides=[2],
                                               pads=[2, 1], dilations=[2], group=2),
        "conv1d_same_upper": model("Conv", (1, 2, 10), ["x", "w"], [floats("w", (3, 2, 4), 4)],
                                   strides=[3], auto_pad="SAME_UPPER"),
        "maxpool1d": pool("MaxPool", (2, 3, 10), kernel_shape=[3], strides=[2]),
        "maxpool1d_pads_ceil": pool("MaxPool", (1, 2, 10), kernel_shape=[3], strides=[2],
                                    pads=[1, 1], ceil_mode=1),
        "avgpool1d_pads_excluded": pool("AveragePool", (1, 2, 9), kernel_shape=[4], strides=[2],
                                        pads=[2, 1]),
        # ceil_mode (googlenet's and squeezenet's MaxPool(3, 2, ceil_mode) on odd sizes)
        "maxpool_ceil": pool("MaxPool", (1, 3, 14, 13), kernel_shape=[3, 3], strides=[2, 2],
                             ceil_mode=1),
        "maxpool_ceil_exact": pool("MaxPool", (1, 3, 15, 15), kernel_shape=[3, 3],
                                   strides=[2, 2], ceil_mode=1),
        "maxpool_ceil_pads": pool("MaxPool", (1, 2, 10, 11), kernel_shape=[3, 2],
                                  strides=[2, 3], pads=[1, 0, 1, 0], ceil_mode=1),
        "avgpool_ceil": pool("AveragePool", (1, 3, 14, 13), kernel_shape=[3, 3], strides=[2, 2],
                             ceil_mode=1),
        "avgpool_ceil_pads_counted": pool("AveragePool", (1, 2, 10, 11), kernel_shape=[3, 3],
                                          strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                                          count_include_pad=1),
        "avgpool_ceil_pads_excluded": pool("AveragePool", (1, 2, 10, 11), kernel_shape=[3, 3],
                                           strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        "avgpool_pads_excluded": pool("AveragePool", (2, 2, 7, 8), kernel_shape=[3, 2],
                                      strides=[1, 2], pads=[2, 0, 0, 1]),
        "avgpool_pads_counted": pool("AveragePool", (2, 2, 7, 8), kernel_shape=[3, 3],
                                     strides=[2, 1], pads=[1, 1, 1, 1], count_include_pad=1),
        # dilated MaxPool
        "maxpool_dilated": pool("MaxPool", (1, 2, 9, 10), kernel_shape=[3, 2], strides=[2, 1],
                                pads=[1, 0, 1, 1], dilations=[2, 3]),
        "maxpool_dilated_ceil": pool("MaxPool", (1, 2, 10, 10), kernel_shape=[2, 2],
                                     strides=[3, 3], dilations=[2, 2], ceil_mode=1),
        "maxpool1d_dilated": pool("MaxPool", (2, 3, 11), kernel_shape=[3], strides=[2],
                                  dilations=[2], pads=[2, 1]),
        # ConvTranspose (the weight an initializer)
        "conv_transpose": model("ConvTranspose", (2, 3, 5, 4), ["x", "w", "b"],
                                [floats("w", (3, 2, 3, 3), 22), floats("b", (2,), 23)]),
        "conv_transpose_strided_padded": model("ConvTranspose", (1, 4, 5, 6), ["x", "w"],
                                               [floats("w", (4, 3, 3, 2), 24)], strides=[2, 3],
                                               pads=[1, 0, 2, 1], output_padding=[1, 0]),
        "conv_transpose_groups_dilated": model("ConvTranspose", (1, 4, 4, 4), ["x", "w"],
                                               [floats("w", (4, 1, 3, 3), 25)], group=2,
                                               dilations=[2, 1], strides=[2, 2]),
        "conv_transpose_output_shape": model("ConvTranspose", (1, 2, 3, 3), ["x", "w"],
                                             [floats("w", (2, 2, 3, 3), 26)], strides=[2, 2],
                                             output_shape=[6, 6]),
        "conv_transpose_same_upper": model("ConvTranspose", (1, 2, 3, 4), ["x", "w"],
                                           [floats("w", (2, 3, 2, 2), 27)], strides=[2, 2],
                                           auto_pad="SAME_UPPER"),
        "conv_transpose_1d": model("ConvTranspose", (2, 3, 7), ["x", "w", "b"],
                                   [floats("w", (3, 4, 3), 28), floats("b", (4,), 29)],
                                   strides=[2], pads=[1, 2]),
        # Shrink
        "shrink": model("Shrink", (3, 4, 5), lambd=1.2, bias=0.4),
        "shrink_default": model("Shrink", (3, 4, 5)),
        # Sum, Mean
        "sum_same_shapes": model("Sum", (2, 3, 4), ["x", "a", "b"],
                                 [floats("a", (2, 3, 4), 5), floats("b", (2, 3, 4), 6)]),
        "sum_broadcast": model("Sum", (2, 3, 4), ["x", "a", "b"],
                               [floats("a", (3, 1), 7), floats("b", (4,), 8)]),
        "mean_same_shapes": model("Mean", (2, 3, 4), ["x", "a"], [floats("a", (2, 3, 4), 9)]),
        "mean_broadcast": model("Mean", (2, 3, 4), ["x", "a", "b"],
                                [floats("a", (1, 3, 1), 10), floats("b", (4,), 11)]),
        # LRN (AlexNet's, and a narrower window)
        "lrn_alexnet": model("LRN", (1, 7, 5, 5), size=5, alpha=1e-4, beta=0.75, bias=1.0),
        "lrn_size3": model("LRN", (2, 4, 3, 3), size=3, alpha=0.5, beta=0.6, bias=2.0),
        # InstanceNormalization
        "instance_norm": model("InstanceNormalization", (2, 3, 4, 5), ["x", "s", "b"],
                               [floats("s", (3,), 12), floats("b", (3,), 13)], epsilon=1e-3),
        "instance_norm_1d": model("InstanceNormalization", (2, 4, 7), ["x", "s", "b"],
                                  [floats("s", (4,), 14), floats("b", (4,), 15)]),
        # Range (constant inputs, as shape arithmetic leaves them), added to x
        "range_float": model("Add", (2, 5), ["x", "r"],
                             [scalar("s", 0.5), scalar("l", 3.0), scalar("d", 0.5)],
                             [helper.make_node("Range", ["s", "l", "d"], ["r"])]),
        "range_int_descending": model(
            "Add", (3,), ["x", "rf"],
            [scalar("s", 10, TensorProto.INT64), scalar("l", 2, TensorProto.INT64),
             scalar("d", -3, TensorProto.INT64)],
            [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Cast", ["r"], ["rf"], to=F)]),
        # Einsum
        "einsum_attention_scores": model("Einsum", (2, 3, 4, 5), ["x", "k"],
                                         [floats("k", (2, 3, 6, 5), 16)],
                                         equation="bhid,bhjd->bhij"),
        "einsum_attention_values": model("Einsum", (2, 3, 4, 6), ["x", "v"],
                                         [floats("v", (2, 3, 6, 5), 17)],
                                         equation="bhij,bhjd->bhid"),
        "einsum_matmul_implicit": model("Einsum", (4, 5), ["x", "w"], [floats("w", (5, 3), 18)],
                                        equation="ij,jk"),
        "einsum_broadcast_ellipsis": model("Einsum", (2, 3, 4, 5), ["x", "w"],
                                           [floats("w", (5, 6), 19)], equation="...d,de->...e"),
        "einsum_ellipsis_broadcasts": model("Einsum", (2, 3, 4, 5), ["x", "w"],
                                              [floats("w", (1, 3, 5, 2), 21)],
                                              equation="...ij,...jk->...ik"),
        "einsum_transpose_reduce": model("Einsum", (2, 3, 4), equation="abc->cb"),
        "einsum_outer_and_sum": model("Einsum", (3, 4), ["x", "w"], [floats("w", (5, 2), 20)],
                                      equation="ij,kl->ki"),
        # 3-D windows (Conv3D, MaxPool3D, AvgPool3D)
        "conv3d": model("Conv", (2, 3, 5, 6, 7), ["x", "w", "b"],
                        [floats("w", (4, 3, 3, 2, 3), 30), floats("b", (4,), 31)],
                        strides=[1, 2, 1], pads=[1, 0, 2, 1, 0, 1], dilations=[2, 1, 1]),
        "conv3d_groups_same": model("Conv", (1, 4, 5, 5, 6), ["x", "w"],
                                    [floats("w", (6, 2, 3, 3, 3), 32)], group=2, strides=[2, 2, 2],
                                    auto_pad="SAME_UPPER"),
        "maxpool3d_ceil_pads": pool("MaxPool", (1, 2, 7, 6, 9), kernel_shape=[3, 2, 3],
                                    strides=[2, 2, 2], pads=[1, 0, 1, 1, 0, 1], ceil_mode=1),
        "avgpool3d_pads_excluded": pool("AveragePool", (2, 2, 5, 6, 7), kernel_shape=[3, 3, 2],
                                        strides=[2, 1, 2], pads=[1, 1, 0, 1, 1, 1]),
        "avgpool3d_ceil_pads_counted": pool("AveragePool", (1, 2, 6, 7, 5),
                                            kernel_shape=[2, 3, 3], strides=[2, 2, 2],
                                            pads=[1, 1, 1, 1, 1, 1], ceil_mode=1,
                                            count_include_pad=1),
        # Sequences (resolved at load)
        "sequence_insert_erase_at": seq_model(
            (2, 3, 4), (2, 3, 4),
            [helper.make_node("SequenceEmpty", [], ["s0"], dtype=F),
             helper.make_node("SequenceInsert", ["s0", "x"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "a", "p0"], ["s2"]),
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("SequenceInsert", ["s2", "r"], ["s3"]),
             helper.make_node("SequenceErase", ["s3", "p0"], ["s4"]),
             helper.make_node("SequenceAt", ["s4", "p1"], ["y"])],
            [floats("a", (2, 3, 4), 33), scalar("p0", 0, TensorProto.INT64),
             scalar("p1", -1, TensorProto.INT64)]),
        "sequence_split_concat": seq_model(
            (2, 5, 3), (2, 4, 3),
            [helper.make_node("SplitToSequence", ["x", "two"], ["s"], axis=1),
             helper.make_node("SequenceErase", ["s"], ["s2"]),
             helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=1)],
            [scalar("two", 2, TensorProto.INT64)]),
        "sequence_split_stack": seq_model(
            (2, 3, 4), (4, 2, 3),
            [helper.make_node("SplitToSequence", ["x"], ["s"], axis=-1, keepdims=0),
             helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0, new_axis=1)]),
    }


CASES = ["conv1d", "conv1d_strided_padded_dilated", "conv1d_same_upper", "maxpool1d",
         "maxpool1d_pads_ceil", "avgpool1d_pads_excluded", "maxpool_ceil", "maxpool_ceil_exact",
         "maxpool_ceil_pads", "avgpool_ceil", "avgpool_ceil_pads_counted",
         "avgpool_ceil_pads_excluded", "avgpool_pads_excluded", "avgpool_pads_counted",
         "maxpool_dilated", "maxpool_dilated_ceil", "maxpool1d_dilated",
         "conv_transpose", "conv_transpose_strided_padded", "conv_transpose_groups_dilated",
         "conv_transpose_output_shape", "conv_transpose_same_upper", "conv_transpose_1d",
         "shrink", "shrink_default", "sum_same_shapes", "sum_broadcast", "mean_same_shapes", "mean_broadcast", "lrn_alexnet",
         "lrn_size3", "instance_norm", "instance_norm_1d", "range_float", "range_int_descending",
         "einsum_attention_scores", "einsum_attention_values", "einsum_matmul_implicit",
         "einsum_broadcast_ellipsis",
         "einsum_ellipsis_broadcasts", "einsum_transpose_reduce", "einsum_outer_and_sum",
         "conv3d", "conv3d_groups_same", "maxpool3d_ceil_pads", "avgpool3d_pads_excluded",
         "avgpool3d_ceil_pads_counted", "sequence_insert_erase_at", "sequence_split_concat",
         "sequence_split_stack"]


@pytest.mark.parametrize("case", CASES)
def test_onnx_imports_run_like_onnxruntime_b(tmp_path, case):
    np = require("numpy")
    onnx = require("onnx")
    ort = require("onnxruntime")
    m = onnx.shape_inference.infer_shapes(_cases(onnx)[case], strict_mode=True)
    onnx.checker.check_model(m)
    path = tmp_path / f"{case}.onnx"
    onnx.save(m, str(path))
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(14).uniform(-3, 3, shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    out = tmp_path / "out"
    proc = subprocess.run([str(cellar_cli()), "run", str(path), "-i", str(tmp_path / "x.npy"),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"cellar run {case}:\n{proc.stdout}\n{proc.stderr}"
    diff = _diff(np, np.load(out / "y.npy"), want)
    assert diff <= TOLERANCE * max(1.0, float(np.max(np.abs(want)))), \
        f"{case}: max |cellar - onnxruntime| = {diff}"


# Malformed Einsum equations and Range inputs: an error naming the node and the reason, never a
# crash; and a Range of large int64 values counted exactly (doubles would round it to nothing).
REFUSED = [
    ("einsum", "a..b->ab", "malformed '...'"),
    ("einsum", "abc->abd", "an output index appears in no input"),
    ("einsum", "abc->aa", "an output index appears twice"),
    ("einsum", "aac->c", "a diagonal"),
    ("einsum", "abcd->a", "does not match an operand of rank 3"),
    ("einsum", "ab1->a", "unexpected character '1'"),
    ("range", (0, 5, 0), "delta must be non-zero"),
    ("range", (0.0, 1e30, 1e-30), "too large to make"),
]


@pytest.mark.parametrize("op,arg,message", REFUSED, ids=[f"{r[0]}_{i}" for i, r in
                                                          enumerate(REFUSED)])
def test_onnx_import_refusals(tmp_path, op, arg, message):
    np = require("numpy")
    onnx = require("onnx")
    from onnx import TensorProto as T, helper
    x_shape = [2, 3, 4] if op == "einsum" else [3]
    if op == "einsum":
        nodes, inits = [helper.make_node("Einsum", ["x"], ["y"], equation=arg)], []
    else:
        dt = T.FLOAT if isinstance(arg[0], float) else T.INT64
        inits = [helper.make_tensor(n, dt, [], [v]) for n, v in zip("sld", arg)]
        nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
                 helper.make_node("Shape", ["r"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)], inits)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    np.save(tmp_path / "x.npy", np.ones(x_shape, np.float32))
    proc = subprocess.run([str(cellar_cli()), "run", str(path), "-i", str(tmp_path / "x.npy")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and message in proc.stderr, (proc.returncode, proc.stderr)


def test_onnx_range_of_large_int64_is_exact(tmp_path):
    np = require("numpy")
    onnx = require("onnx")
    from onnx import TensorProto as T, helper
    big = 2**63 - 8
    inits = [helper.make_tensor(n, T.INT64, [], [v]) for n, v in zip("sld", (big, big + 7, 3))]
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Sub", ["r", "s"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", T.INT64, None)], inits)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    np.save(tmp_path / "x.npy", np.ones([1], np.float32))
    out = tmp_path / "out"
    proc = subprocess.run([str(cellar_cli()), "run", str(path), "-i", str(tmp_path / "x.npy"),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert np.load(out / "y.npy").tolist() == [0, 3, 6]


# One model per import rule above seeds the ONNX fuzz target's corpus (fuzz/corpus/onnx/):
#   .venv/bin/python tests/python/test_onnx_import_breadth_interop.py fuzz/corpus/onnx
SEEDS = ["conv1d", "maxpool_ceil_pads", "avgpool_ceil_pads_excluded", "sum_broadcast",
         "mean_broadcast", "lrn_alexnet", "instance_norm", "range_float", "einsum_attention_scores",
         "einsum_broadcast_ellipsis", "conv_transpose_strided_padded", "conv3d",
         "maxpool3d_ceil_pads", "avgpool3d_ceil_pads_counted", "sequence_insert_erase_at",
         "sequence_split_concat"]

if __name__ == "__main__":
    import sys
    from pathlib import Path

    import onnx

    out = Path(sys.argv[1])
    for name in SEEDS:
        onnx.save(_cases(onnx)[name], str(out / f"import_{name}.onnx"))
