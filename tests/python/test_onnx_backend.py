"""ONNX's backend test data (the onnx wheel's pytorch-converted, pytorch-operator, simple and light
cases, as shipped) through cellar: every case passes, except those listed with their reason in
onnx_backend_expected_failures.txt, which must fail (a case that starts to pass must leave the
list). onnx_backend.py is the harness; it also runs ONNX Runtime and writes docs/onnx_backend.md.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import onnx_backend  # noqa: E402

HERE = Path(__file__).parent
EXPECTED = onnx_backend.read_expected_failures(HERE / "onnx_backend_expected_failures.txt")
CASES = onnx_backend.collect(onnx_backend.data_root())


def _cellar():
    explicit = os.environ.get("CELLAR_CLI")
    if explicit:
        return explicit
    build = os.environ.get("CELLAR_BUILD_DIR")
    if not build:
        pytest.fail("CELLAR_BUILD_DIR is not set (./dev test sets it to the build folder)")
    return str(Path(build) / "cellar")


def test_the_data_is_there():
    # The wheel ships these folders; an empty walk must not pass silently.
    assert len(CASES) >= 140, f"only {len(CASES)} cases under {onnx_backend.data_root()}"
    listed = set(EXPECTED)
    known = {c.key for c in CASES}
    assert listed <= known, f"expected failures name no case: {sorted(listed - known)}"
    for key, why in EXPECTED.items():
        assert why, f"{key} is listed without a reason"


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_case(case):
    r = onnx_backend.run_cellar(case, _cellar())
    if case.key in EXPECTED:
        assert not r.ok, (f"{case.key} passes now: remove it from "
                          f"onnx_backend_expected_failures.txt")
    else:
        assert r.ok, f"{case.key}: {r.reason}"
