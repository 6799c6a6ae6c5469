"""MindIR interop: models cellar exports run in MindSpore's own `mindspore.load` +
`nn.GraphCell` with outputs within 1e-5 of cellar's.

MindSpore is not in the test venv (CI does not install it): the test runs MindSpore through the
Python named by $CELLAR_MINDSPORE_PYTHON (e.g. CELLAR_MINDSPORE_PYTHON=/opt/msenv/bin/python),
one process per model (tests/python/mindspore_run_mindir.py), so that a crash inside MindSpore
fails that model alone. Without the variable every test is skipped, saying why.

The networks come from tests/tools/export_models (the `exported` fixture of conftest.py): the
tutorial's MLP, LeNet-5 and the ResNet-18-shaped net. The reverse direction (MindSpore's files in
cellar) is tests/interop/test_mindspore_models.cpp. The last run's output is kept in
tests/fixtures/mindspore/2.10/mindir/cellar_in_mindspore.txt (MindSpore 2.10), and the run with
MindSpore 2.7.0 (CELLAR_MINDSPORE_PYTHON=/opt/ms27env/bin/python) in
tests/fixtures/mindspore/2.7/cellar_in_mindspore27.txt; the test itself writes only to a temporary
folder.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

NETWORKS = ["mlp", "lenet5", "resnet18", "ops", "pad", "pad_symmetric"]
TOLERANCE = 1e-5
RUNNER = Path(__file__).with_name("mindspore_run_mindir.py")

MINDSPORE_PYTHON = os.environ.get("CELLAR_MINDSPORE_PYTHON")
pytestmark = pytest.mark.skipif(
    not MINDSPORE_PYTHON,
    reason="SKIPPED LOUDLY: set CELLAR_MINDSPORE_PYTHON to a Python with MindSpore "
    "(e.g. /opt/msenv/bin/python) to run cellar's MindIR files in MindSpore")


@pytest.mark.parametrize("name", NETWORKS)
def test_mindspore_runs_cellars_mindir(exported, name):
    model = exported / f"{name}.mindir"
    got_path = exported / f"{name}_mindspore.npy"
    proc = subprocess.run(
        [MINDSPORE_PYTHON, str(RUNNER), str(model), str(exported / f"{name}_input.npy"),
         str(got_path)], capture_output=True, text=True, timeout=300)
    errors = "\n".join(l for l in proc.stderr.splitlines() if "[WARNING]" not in l)
    assert proc.returncode == 0, (
        f"MindSpore refused {name}.mindir (exit {proc.returncode}):\n{proc.stdout}\n{errors}")
    got = np.load(got_path)
    want = np.load(exported / f"{name}_output.npy")
    assert got.shape == want.shape
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    print(f"{proc.stdout.strip()}; max |MindSpore - cellar| = {diff:.3g}", file=sys.stderr)
    assert diff <= TOLERANCE, f"{name}: max |MindSpore - cellar| = {diff}"
