"""What the pytest files share: finding the programs the build made, running the CLI, and
requiring a peer from PyPI loudly (a missing peer fails the test, it never skips silently).

pytest puts this folder on sys.path (rootdir conftest), so tests `from support import ...`.
"""
import importlib
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def require(module, who="this test"):
    """Imports `module` or fails naming it and how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"{who} needs '{module}' from PyPI (./dev setup installs it): {e}")


def build_program(relative, env=None):
    """The program at CELLAR_BUILD_DIR/`relative`, or the path in the environment variable `env`
    when that is set. Fails (never skips) when the build folder or the program is missing."""
    if env and os.environ.get(env):
        return Path(os.environ[env])
    build = os.environ.get("CELLAR_BUILD_DIR")
    if not build:
        pytest.fail("CELLAR_BUILD_DIR is not set (./dev test sets it to the build folder)")
    tool = Path(build) / relative
    if not tool.is_file():
        pytest.fail(f"{tool} does not exist: build it (./dev build)")
    return tool


def cellar_cli():
    """The `cellar` command-line tool (CELLAR_CLI overrides the build's)."""
    return build_program("cellar", env="CELLAR_CLI")


def cellar(*args, status=0, timeout=120):
    """Runs `cellar ARGS…`, asserts its exit status, returns the CompletedProcess."""
    proc = subprocess.run([str(cellar_cli()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == status, f"cellar {args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def cellar_json(*args, status=0):
    """`cellar ARGS… --json`, parsed; stderr must be empty."""
    proc = cellar(*args, "--json", status=status)
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def convert_graph():
    """tests/tools/convert_graph: what `cellar convert` does between MindIR and ONNX
    (CELLAR_CONVERT_GRAPH overrides the build's)."""
    return build_program("tests/tools/convert_graph", env="CELLAR_CONVERT_GRAPH")
