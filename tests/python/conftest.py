"""Fixtures shared by the interop tests."""
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _export_models_binary():
    explicit = os.environ.get("CELLAR_EXPORT_MODELS")
    if explicit:
        return Path(explicit)
    build = os.environ.get("CELLAR_BUILD_DIR")
    if not build:
        pytest.fail("CELLAR_BUILD_DIR is not set (./dev test sets it to the build folder)")
    return Path(build) / "tests" / "tools" / "export_models"


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """The folder tests/tools/export_models wrote (once per session): <net>.onnx, <net>.mindir,
    <net>_input.npy and cellar's <net>_output.npy for each network it knows."""
    tool = _export_models_binary()
    if not tool.is_file():
        pytest.fail(f"{tool} does not exist: build the tests (tests/tools/CMakeLists.txt)")
    out = tmp_path_factory.mktemp("cellar_exported")
    proc = subprocess.run([str(tool), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{tool} failed:\n{proc.stdout}\n{proc.stderr}"
    return out


# The Python package under test is the one the build being tested made: CELLAR_BUILD_DIR/python
# holds cellar/_cellar*.so beside links to python/cellar/*.py (python/CMakeLists.txt).
def cellar_python_path():
    build = os.environ.get("CELLAR_BUILD_DIR")
    return str(Path(build) / "python") if build else None


if cellar_python_path() and cellar_python_path() not in sys.path:
    sys.path.insert(0, cellar_python_path())


@pytest.fixture
def cellar_env():
    """The environment for a subprocess that imports the cellar under test."""
    env = dict(os.environ)
    path = cellar_python_path()
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    return env
