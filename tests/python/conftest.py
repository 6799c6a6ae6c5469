"""Fixtures shared by the interop tests."""
import os
import subprocess
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
