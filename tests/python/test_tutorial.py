"""The "Save and Load" tutorial's code on cellar's Python package, and the three export refusals
of its "Syntax Support Scope" section, each as MindSpore writes them (imports changed only)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cellar
import cellar as ms
from cellar import Parameter, Tensor, mint, nn, ops

TUTORIAL = Path(__file__).parent / "tutorial" / "save_load.py"


def test_tutorial_script_prints_empty_list_and_output_shape(tmp_path, cellar_env):
    proc = subprocess.run([sys.executable, str(TUTORIAL)], cwd=tmp_path, env=cellar_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n(1, 10)\n"
    assert (tmp_path / "model.ckpt").is_file() and (tmp_path / "model.mindir").is_file()


def _layers():
    return [nn.Flatten(), nn.Dense(28 * 28, 512), nn.ReLU(), nn.Dense(512, 512), nn.ReLU(),
            nn.Dense(512, 10)]


def test_sequential_cell_takes_a_list_or_cells():
    a = nn.SequentialCell(_layers())
    b = nn.SequentialCell(*_layers())
    names = [n for n, _ in a.parameters_and_names()]
    assert names == [n for n, _ in b.parameters_and_names()]
    assert names == ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]
    assert len(a) == 6 and isinstance(a[1], nn.Dense) and a[-1].weight.shape == (10, 512)


def test_roundtrip_keeps_the_weights_and_graphcell_matches_eager(tmp_path):
    net = nn.SequentialCell(_layers())
    ms.save_checkpoint(net, str(tmp_path / "model.ckpt"))
    net2 = nn.SequentialCell(_layers())
    params = ms.load_checkpoint(str(tmp_path / "model.ckpt"))
    assert list(params) == [n for n, _ in net.parameters_and_names()]
    assert all(isinstance(p, Parameter) for p in params.values())
    param_not_load, ckpt_not_load = ms.load_param_into_net(net2, params)
    assert param_not_load == [] and ckpt_not_load == []
    for (_, p), (_, q) in zip(net.parameters_and_names(), net2.parameters_and_names()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    eager = net2(x).asnumpy()
    ms.export(net2, Tensor(np.ones([2, 1, 28, 28], np.float32)), file_name=str(tmp_path / "m"),
              file_format="MINDIR")
    out = nn.GraphCell(ms.load(str(tmp_path / "m.mindir")))(x)
    np.testing.assert_allclose(out.asnumpy(), eager, rtol=1e-5, atol=1e-5)


# --- Syntax Support Scope: what export refuses, and the eager runs that still work -----------

class ReturnsDType(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dtype = ops.DType()

    def construct(self, x: Tensor) -> ms.dtype:
        return self.dtype(x)


param = Parameter(Tensor([1, 2, 3, 4]))  # Created outside nn.Cell


class UsesGlobalParameter(nn.Cell):
    def construct(self, x: Tensor) -> Tensor:
        return x + param


class DrawsRandom(nn.Cell):
    def construct(self, n: int) -> Tensor:
        return mint.randn(n)


def test_returning_a_dtype_runs_eagerly_and_export_refuses_it(tmp_path):
    x = Tensor(np.ones([1, 28, 28]).astype(np.float32))
    assert ReturnsDType()(x) == ms.float32
    with pytest.raises(cellar.ExportError) as e:
        ms.export(ReturnsDType(), x, file_name=str(tmp_path / "m"), file_format="MINDIR")
    assert isinstance(e.value, RuntimeError)
    msg = str(e.value)
    assert "ReturnsDType.construct returns a DType" in msg  # the culprit
    assert "only a Tensor or a tuple of Tensors" in msg  # the fix
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_module_scope_parameter_runs_eagerly_and_export_refuses_it(tmp_path):
    x = Tensor(np.array([10, 20, 30, 40], dtype=np.int64))
    np.testing.assert_array_equal(UsesGlobalParameter()(x).asnumpy(), [11, 22, 33, 44])
    with pytest.raises(cellar.ExportError) as e:
        ms.export(UsesGlobalParameter(), x, file_name=str(tmp_path / "m"), file_format="MINDIR")
    msg = str(e.value)
    assert "Parameter 'Parameter'" in msg and "not owned by any Cell" in msg
    assert "register it on a Cell" in msg
    assert not list(tmp_path.iterdir())


def test_mint_randn_runs_eagerly_and_export_refuses_it(tmp_path):
    assert DrawsRandom()(3).shape == (3,)
    with pytest.raises(cellar.ExportError) as e:
        ms.export(DrawsRandom(), 4, file_name=str(tmp_path / "m"), file_format="MINDIR")
    assert "randn" in str(e.value) and "draw the values before export" in str(e.value)
    assert not list(tmp_path.iterdir())


def test_parameters_owned_by_the_cell_or_passed_as_inputs_export(tmp_path):
    # The master tutorial's variant: a Parameter defined in __init__ and one passed as the input
    # export; the global one alone is refused, by name.
    global_param = Parameter([1, 2, 3], name="global_param")

    class Model(nn.Cell):
        def __init__(self, use_global):
            super().__init__()
            self.bias = Parameter([0, 1, -1])
            self.use_global = use_global

        def construct(self, x):
            return x + global_param + self.bias if self.use_global else x + self.bias

    model = Model(False)
    assert [n for n, _ in model.parameters_and_names()] == ["bias"]
    path = ms.export(model, Parameter([1, 2, 3], name="input_param"),
                     file_name=str(tmp_path / "ok"), file_format="MINDIR")
    out = nn.GraphCell(ms.load(path))(Tensor(np.array([5, 5, 5])))
    np.testing.assert_array_equal(out.asnumpy(), [5, 6, 4])
    with pytest.raises(cellar.ExportError, match="'global_param'"):
        ms.export(Model(True), Parameter([1, 2, 3], name="input_param"),
                  file_name=str(tmp_path / "bad"), file_format="MINDIR")
