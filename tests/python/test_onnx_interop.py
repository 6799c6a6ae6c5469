"""ONNX interop: models cellar exports pass onnx.checker and run in ONNX Runtime (from PyPI) with
outputs within 1e-5 of cellar's.

The networks come from tests/tools/export_models (built with the tests, found in
$CELLAR_BUILD_DIR/tests/tools/, or at $CELLAR_EXPORT_MODELS): the tutorial's MLP, LeNet-5, the
ResNet-18-shaped net, and a net through every op with an ONNX spelling. A missing peer or tool
is a failure that says what is missing, never a silent skip.
"""

import pytest

from support import require

NETWORKS = ["mlp", "lenet5", "resnet18", "ops", "pad"]
TOLERANCE = 1e-5


@pytest.mark.parametrize("name", NETWORKS)
def test_checker_accepts(exported, name):
    onnx = require("onnx")
    model = onnx.load(str(exported / f"{name}.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.producer_name == "cellar"
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]


@pytest.mark.parametrize("name", NETWORKS)
def test_onnxruntime_matches_cellar(exported, name):
    np = require("numpy")
    ort = require("onnxruntime")
    x = np.load(exported / f"{name}_input.npy")
    want = np.load(exported / f"{name}_output.npy")
    session = ort.InferenceSession(str(exported / f"{name}.onnx"),
                                   providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert list(inp.shape) == list(x.shape)
    (got,) = session.run(None, {inp.name: x})
    assert got.shape == want.shape
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert diff <= TOLERANCE, f"{name}: max |onnxruntime - cellar| = {diff}"
