"""`cellar convert` and `cellar inspect` on the PyTorch files torch wrote
(tests/fixtures/pytorch/make_fixtures.py), checked against what torch read back from them
(expected.json) through the `safetensors` package and NumPy reading cellar's output: the .pt
reader, the --name-map rules and the safetensors writer end to end, with no torch installed.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import json
import subprocess
from pathlib import Path

import pytest

from support import cellar_cli, require

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "pytorch"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def run(*args):
    return subprocess.run([str(cellar_cli()), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


NUMPY_DTYPE = {"float32": "float32", "float64": "float64", "float16": "float16", "int64": "int64",
               "bool": "bool", "uint16": "uint16"}


def check_tensor(np, got, spec, name):
    if spec["dtype"] == "bfloat16":
        # numpy has no bfloat16: safetensors.numpy refuses BF16, so these are checked elsewhere
        return
    assert str(got.dtype) == NUMPY_DTYPE[spec["dtype"]], name
    assert list(got.shape) == spec["shape"], name
    want = np.array(spec["values"], dtype=np.float64).reshape(spec["shape"])
    assert np.array_equal(got.astype(np.float64), want), name


@pytest.mark.parametrize("pt", ["cnn_state_dict.pt", "cnn_legacy.pt", "cnn_protocol5.pt"])
def test_convert_to_safetensors_matches_torch(tmp_path, pt):
    np = require("numpy")
    st = require("safetensors")
    out = tmp_path / "model.safetensors"
    r = run("convert", FIXTURES / pt, out, "--name-map", FIXTURES / "drop_bf16.txt")
    assert r.returncode == 0, r.stderr
    from safetensors.numpy import load_file
    loaded = load_file(str(out))
    want = {k: v for k, v in EXPECTED[pt].items() if v["dtype"] != "bfloat16"}
    assert set(loaded) == set(want)
    for name, spec in want.items():
        check_tensor(np, loaded[name], spec, name)
    assert st is not None


def test_name_map_renames_and_drops(tmp_path):
    np = require("numpy")
    require("safetensors")
    rules = tmp_path / "rules.txt"
    rules.write_text("# keep the model's weights only, under a new prefix\n"
                     "drop ^(epoch|lr|name|finished|history|optimizer|params)\n"
                     "strip_prefix model.\n"
                     "rename ^layer\\.(.*)$ head.$1\n"
                     "add_prefix net.\n")
    out = tmp_path / "head.safetensors"
    r = run("convert", FIXTURES / "nested.pt", out, "--name-map", rules, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["from"] == "pytorch"
    from safetensors.numpy import load_file
    loaded = load_file(str(out))
    assert sorted(loaded) == ["net.head.bias", "net.head.weight"]
    check_tensor(np, loaded["net.head.weight"], EXPECTED["nested.pt"]["model.layer.weight"], "w")


def test_name_map_collision_and_bad_rules_are_refused(tmp_path):
    rules = tmp_path / "rules.txt"
    rules.write_text("rename ^.*$ same\n")
    r = run("convert", FIXTURES / "nested.pt", tmp_path / "x.ckpt", "--name-map", rules)
    assert r.returncode == 1
    assert "into 'same'" in r.stderr
    rules.write_text("rename ( x\n")
    r = run("convert", FIXTURES / "nested.pt", tmp_path / "x.ckpt", "--name-map", rules)
    assert r.returncode == 1 and "line 1" in r.stderr and "regular expression" in r.stderr
    assert not (tmp_path / "x.ckpt").exists()


def test_inspect_and_refusals(tmp_path):
    r = run("inspect", FIXTURES / "nested.pt", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["format"] == "pytorch"
    assert j["scalars"]["epoch"] == 7 and j["scalars"]["name"] == "cnn"
    r = run("inspect", FIXTURES / "malicious_system.pt")
    assert r.returncode == 1 and "posix.system" in r.stderr
    r = run("convert", FIXTURES / "nested.pt", tmp_path / "out.pt")
    assert r.returncode == 2 and "does not write" in r.stderr
