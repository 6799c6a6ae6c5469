"""ONNX's backend test data (the onnx wheel's pytorch-converted, pytorch-operator, simple and light
cases, as shipped) through cellar: every case passes, except those listed with their reason in
onnx_backend_expected_failures.txt, which must fail (a case that starts to pass must leave the
list). onnx_backend.py is the harness; it also runs ONNX Runtime and writes docs/onnx_backend.md.

The target is "cellar passes every case ONNX Runtime passes". test_only_cases_ort_fails_are_listed
holds the list to it: a listed case must fail in ONNX Runtime too, unless its reason starts with
"[behind ORT]", the named gaps still open (those must pass in ONNX Runtime, so the mark stays
true), or "[out of scope]", what cellar refuses by design (string tensors; docs/onnx_backend.md
says why), whatever ONNX Runtime does with it. With test_case (every unlisted case passes in
cellar) that is: cellar's passes contain ONNX Runtime's, less the marked cases, and a regression
or a new ORT-only pass fails the suite.

The binary is $CELLAR_BUILD_DIR/cellar (./dev test sets CELLAR_BUILD_DIR), or $CELLAR_CLI.
"""
import sys
from pathlib import Path

import pytest

from support import cellar_cli

sys.path.insert(0, str(Path(__file__).parent))
import onnx_backend  # noqa: E402

HERE = Path(__file__).parent
EXPECTED = onnx_backend.read_expected_failures(HERE / "onnx_backend_expected_failures.txt")
CASES = onnx_backend.collect(onnx_backend.data_root())


def test_the_data_is_there():
    # The wheel ships these folders; an empty walk must not pass silently.
    assert len(CASES) >= 140, f"only {len(CASES)} cases under {onnx_backend.data_root()}"
    listed = set(EXPECTED)
    known = {c.key for c in CASES}
    assert listed <= known, f"expected failures name no case: {sorted(listed - known)}"
    for key, why in EXPECTED.items():
        assert why, f"{key} is listed without a reason"


BEHIND_ORT = "[behind ORT]"
OUT_OF_SCOPE = "[out of scope]"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_only_cases_ort_fails_are_listed(key):
    if EXPECTED[key].startswith(OUT_OF_SCOPE):
        assert key.startswith(onnx_backend.OUT_OF_SCOPE), f"{key} is not a case out of scope"
        return
    pytest.importorskip("onnxruntime")
    case = next(c for c in CASES if c.key == key)
    r = onnx_backend.run_ort(case)
    if EXPECTED[key].startswith(BEHIND_ORT):
        assert r.ok, (f"{key} is marked {BEHIND_ORT} but ONNX Runtime fails it too ({r.reason}): "
                      "drop the mark")
    else:
        assert not r.ok, (f"ONNX Runtime passes {key}, which cellar fails: make cellar pass it, or "
                          f"mark the gap '{BEHIND_ORT} <why>' in onnx_backend_expected_failures.txt")


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_case(case):
    r = onnx_backend.run_cellar(case, str(cellar_cli()))
    if case.key in EXPECTED:
        assert not r.ok, (f"{case.key} passes now: remove it from "
                          f"onnx_backend_expected_failures.txt")
    else:
        assert r.ok, f"{case.key}: {r.reason}"
