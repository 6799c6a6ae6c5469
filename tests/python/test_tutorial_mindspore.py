"""The "Save and Load" tutorial on cellar against MindSpore 2.10 itself.

Always: cellar's package reads what MindSpore's run of the tutorial wrote
(tests/fixtures/mindspore/2.10/tutorial/, its make_fixtures.py) and computes MindSpore's outputs.
Where MindSpore is installed (CELLAR_MINDSPORE_PYTHON, default /opt/ms/bin/python; see that
script's header), also: the same tutorial script runs under both and prints the same, and
MindSpore loads the files cellar's run wrote and computes cellar's outputs."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cellar as mindspore
from cellar import Tensor, nn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mindspore" / "2.10" / "tutorial"
TUTORIAL = Path(__file__).parent / "tutorial" / "save_load.py"
MINDSPORE_PYTHON = os.environ.get("CELLAR_MINDSPORE_PYTHON", "/opt/ms/bin/python")


def network():
    return nn.SequentialCell(nn.Flatten(), nn.Dense(28 * 28, 512), nn.ReLU(), nn.Dense(512, 512),
                             nn.ReLU(), nn.Dense(512, 10))


def test_cellar_loads_mindspores_tutorial_files_and_computes_its_outputs(tmp_path):
    inputs = np.load(FIXTURE / "inputs.npy")
    model = network()
    param_not_load, ckpt_not_load = mindspore.load_param_into_net(
        model, mindspore.load_checkpoint(str(FIXTURE / "model.ckpt")))
    assert param_not_load == [] and ckpt_not_load == []
    eager = np.stack([model(Tensor(x)).asnumpy() for x in inputs])
    np.testing.assert_allclose(eager, np.load(FIXTURE / "eager.npy"), rtol=1e-5, atol=1e-6)

    graph = nn.GraphCell(mindspore.load(str(FIXTURE / "model.mindir")))
    outs = np.stack([graph(Tensor(x)).asnumpy() for x in inputs])
    np.testing.assert_allclose(outs, np.load(FIXTURE / "graph.npy"), rtol=1e-5, atol=1e-6)
    assert graph(Tensor(inputs[0])).shape == (1, 10)

    # cellar's own export of the same weights computes the same.
    path = mindspore.export(model, Tensor(inputs[0]), file_name=str(tmp_path / "model"),
                            file_format="MINDIR")
    ours = np.stack([nn.GraphCell(mindspore.load(path))(Tensor(x)).asnumpy() for x in inputs])
    np.testing.assert_allclose(ours, np.load(FIXTURE / "graph.npy"), rtol=1e-5, atol=1e-6)


MINDSPORE_READS_CELLAR = r"""
import sys, numpy as np, mindspore
from mindspore import nn, Tensor
folder = sys.argv[1]
inputs = np.load(folder + "/inputs.npy")
model = nn.SequentialCell(nn.Flatten(), nn.Dense(784, 512), nn.ReLU(), nn.Dense(512, 512),
                          nn.ReLU(), nn.Dense(512, 10))
not_loaded, _ = mindspore.load_param_into_net(model, mindspore.load_checkpoint(folder + "/model.ckpt"))
assert not_loaded == [], not_loaded
np.save(folder + "/ms_eager.npy", np.stack([model(Tensor(x)).asnumpy() for x in inputs]))
mindspore.set_context(mode=mindspore.GRAPH_MODE)
graph = nn.GraphCell(mindspore.load(folder + "/model.mindir"))
np.save(folder + "/ms_graph.npy", np.stack([graph(Tensor(x)).asnumpy() for x in inputs]))
"""


@pytest.mark.skipif(not Path(MINDSPORE_PYTHON).is_file(),
                    reason=f"MindSpore is not installed at {MINDSPORE_PYTHON} (optional peer; "
                           "tests/fixtures/mindspore/2.10/tutorial/make_fixtures.py says how)")
def test_the_tutorial_script_under_mindspore_and_cellar(tmp_path, cellar_env):
    ours, theirs = tmp_path / "cellar", tmp_path / "mindspore"
    ours.mkdir()
    theirs.mkdir()
    run = dict(capture_output=True, text=True, timeout=600)
    mine = subprocess.run([sys.executable, str(TUTORIAL)], cwd=ours, env=cellar_env, **run)
    assert mine.returncode == 0, mine.stderr
    ms = subprocess.run([MINDSPORE_PYTHON, str(TUTORIAL), "--mindspore"], cwd=theirs, **run)
    assert ms.returncode == 0, ms.stderr[-3000:]
    assert mine.stdout == ms.stdout == "[]\n(1, 10)\n"

    # MindSpore reads the checkpoint and the MindIR cellar's run of the tutorial wrote, and
    # computes what cellar computes from them.
    inputs = np.load(FIXTURE / "inputs.npy")
    np.save(ours / "inputs.npy", inputs)
    proc = subprocess.run([MINDSPORE_PYTHON, "-c", MINDSPORE_READS_CELLAR, str(ours)], **run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = network()
    mindspore.load_param_into_net(model, mindspore.load_checkpoint(str(ours / "model.ckpt")))
    eager = np.stack([model(Tensor(x)).asnumpy() for x in inputs])
    np.testing.assert_allclose(np.load(ours / "ms_eager.npy"), eager, rtol=1e-5, atol=1e-6)
    graph = nn.GraphCell(mindspore.load(str(ours / "model.mindir")))
    outs = np.stack([graph(Tensor(x)).asnumpy() for x in inputs])
    np.testing.assert_allclose(np.load(ours / "ms_graph.npy"), outs, rtol=1e-5, atol=1e-6)
