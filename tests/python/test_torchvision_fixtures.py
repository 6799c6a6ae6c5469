"""torchvision models as PyTorch exports them to ONNX (tests/fixtures/torch/torchvision/, see its
README), run by `cellar run` and by ONNX Runtime live, each against PyTorch's own eager output within
the zoo's bound 1e-4 · max(1, max |reference|) (docs/zoo.md)."""
import subprocess

import pytest

from support import FIXTURES, cellar_cli, require

MODELS = sorted(p.name for p in (FIXTURES / "torch" / "torchvision").iterdir() if p.is_dir())


def _bound(np, ref):
    return 1e-4 * max(1.0, float(np.max(np.abs(ref))))


def test_the_fixtures_are_there():
    assert "squeezenet1_0" in MODELS


@pytest.mark.parametrize("model", MODELS)
def test_cellar_runs_the_export_like_pytorch(tmp_path, model):
    np = require("numpy")
    d = FIXTURES / "torch" / "torchvision" / model
    want = np.load(d / "output.npy")
    out = tmp_path / "out"
    proc = subprocess.run([str(cellar_cli()), "run", str(d / f"{model}.onnx"), "-i",
                           str(d / "input.npy"), "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"cellar run {model}:\n{proc.stdout}\n{proc.stderr}"
    outputs = sorted(out.glob("*.npy"))
    assert len(outputs) == 1, outputs
    got = np.load(outputs[0])
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype)
    diff = float(np.max(np.abs(got.astype(np.float64) - want)))
    assert diff <= _bound(np, want), f"{model}: max |cellar - PyTorch| = {diff}"


@pytest.mark.parametrize("model", MODELS)
def test_onnxruntime_agrees_on_the_fixture(model):
    np = require("numpy")
    ort = require("onnxruntime")
    d = FIXTURES / "torch" / "torchvision" / model
    sess = ort.InferenceSession(str(d / f"{model}.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: np.load(d / "input.npy")})[0]
    want = np.load(d / "output.npy")
    assert float(np.max(np.abs(got.astype(np.float64) - want))) <= _bound(np, want)
