#!/usr/bin/env python3
"""ONNX's own backend test data, run through cellar and through ONNX Runtime.

Walks the `onnx` wheel's onnx/backend/test/data/{pytorch-converted,pytorch-operator,simple,light}
as shipped (no version conversion: every file at the opset it was written in), runs each case
with `cellar run` (the CLI over the library) and with onnxruntime, compares each output with the
case's reference output, and prints (or writes as Markdown) a pass table with the reason for each
failure.

A case is a folder with model.onnx and test_data_set_*/{input,output}_N.pb; a `light` model is
light_<name>.onnx with light_<name>_output_0.pb, whose input ONNX's runner makes itself
(onnx.backend.test.runner: arange(n) / n in the input's shape, float32), as done here. Outputs
agree when numpy.testing.assert_allclose(rtol, atol) holds with ONNX's tolerances for the case
(1e-3 and 1e-7; 2e-3 for light densenet121).

Record (docs/onnx_backend.md):
  .venv/bin/python tests/python/onnx_backend.py --cellar build/cellar --write-doc docs/onnx_backend.md
tests/python/test_onnx_backend.py runs the cellar side in ./dev test against
tests/python/onnx_backend_expected_failures.txt.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

SUITES = ("pytorch-converted", "pytorch-operator", "simple", "light")
# ONNX's tolerances (onnx/backend/test/loader and case/model): 1e-3 / 1e-7 everywhere but here.
RTOL_OVERRIDES = {"light/densenet121": 2e-3}
ATOL = 1e-7
CELLAR_TIMEOUT_S = 300


@dataclass
class Case:
    suite: str
    name: str
    model: Path
    data_sets: list  # [(inputs: [(name, array)], outputs: [array])]
    opset: int = 0
    ops: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.name}"


@dataclass
class Result:
    ok: bool
    reason: str = ""


def data_root() -> Path:
    return Path(onnx.__file__).parent / "backend" / "test" / "data"


def _read_pb(path: Path):
    """A TensorProto as an array; None for a sequence/optional (not a tensor)."""
    t = onnx.TensorProto()
    t.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(t)


def _graph_inputs(model: onnx.ModelProto):
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _dummy_input(vi) -> np.ndarray:
    # onnx.backend.test.runner.Runner.generate_dummy_data(random=False)
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1
                  for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def collect(root: Path) -> list[Case]:
    cases = []
    for suite in SUITES:
        d = root / suite
        if not d.is_dir():
            continue
        if suite == "light":
            for m in sorted(d.glob("light_*.onnx")):
                name = m.stem[len("light_"):]
                model = onnx.load(str(m), load_external_data=False)
                ins = [(vi.name, _dummy_input(vi)) for vi in _graph_inputs(model)]
                outs = [_read_pb(d / f"light_{name}_output_{k}.pb")
                        for k in range(len(model.graph.output))]
                cases.append(Case(suite, name, m, [(ins, outs)]))
            continue
        for c in sorted(p for p in d.iterdir() if (p / "model.onnx").is_file()):
            model = onnx.load(str(c / "model.onnx"), load_external_data=False)
            names = [vi.name for vi in _graph_inputs(model)]
            sets = []
            for s in sorted(c.glob("test_data_set_*")):
                ins = sorted(s.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
                outs = sorted(s.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
                sets.append(([(names[k] if k < len(names) else f"input_{k}", p)
                              for k, p in enumerate(ins)], outs))
            cases.append(Case(suite, c.name, c / "model.onnx", sets))
    for case in cases:
        model = onnx.load(str(case.model), load_external_data=False)
        case.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        case.ops = sorted({n.op_type for n in model.graph.node})
    return cases


def _materialize(data_set):
    """(inputs as [(name, array)], outputs as [array]); raises for non-tensor data."""
    ins, outs = data_set
    ins = [(n, _read_pb(v) if isinstance(v, Path) else v) for n, v in ins]
    outs = [_read_pb(v) if isinstance(v, Path) else v for v in outs]
    return ins, outs


def _compare(case: Case, got: list, want: list) -> Result:
    if len(got) != len(want):
        return Result(False, f"{len(got)} outputs, the reference has {len(want)}")
    rtol = RTOL_OVERRIDES.get(case.key, 1e-3)
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        if g.shape != w.shape:
            return Result(False, f"output {k} has shape {g.shape}, the reference {w.shape}")
        if w.dtype.kind in "OSU":
            if not np.array_equal(g, w):
                return Result(False, f"output {k} differs")
            continue
        try:
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol,
                                       atol=ATOL)
        except AssertionError:
            diff = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64))))
            return Result(False, f"output {k} differs from the reference (max |diff| {diff:.3g})")
    return Result(True)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else "no message"
    return line.removeprefix("cellar: ").removeprefix("error: ")


def run_cellar(case: Case, cellar: str) -> Result:
    if not case.data_sets:
        return Result(False, "the case has no test data")
    with tempfile.TemporaryDirectory(prefix="cellar_onnx_backend_") as tmp:
        tmp = Path(tmp)
        for si, data_set in enumerate(case.data_sets):
            try:
                ins, want = _materialize(data_set)
            except Exception as e:  # a sequence or optional in the test data
                return Result(False, f"test data is not a tensor ({type(e).__name__})")
            args = [cellar, "run", str(case.model), "--json", "--head", "0",
                    "--output-dir", str(tmp / f"out{si}")]
            if any(arr.dtype.kind in "OSU" for _, arr in ins):
                # .npy cannot carry strings to cellar: let it load the model (which it refuses,
                # saying which element types it reads) on made-up inputs.
                ins = []
                args.append("--random")
            for k, (name, arr) in enumerate(ins):
                f = tmp / f"in{si}_{k}.npy"
                np.save(f, np.ascontiguousarray(arr))
                args += ["--input", f"{name}={f}"]
            try:
                p = subprocess.run(args, capture_output=True, text=True, timeout=CELLAR_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                return Result(False, f"cellar took over {CELLAR_TIMEOUT_S} s")
            if p.returncode != 0:
                why = _first_line(p.stderr or p.stdout)
                return Result(False, why.replace(str(case.model) + ": ", ""))
            try:
                report = json.loads(p.stdout)
                got = [np.load(o["file"]) for o in report["outputs"]]
            except Exception as e:
                return Result(False, f"cannot read cellar's outputs: {e}")
            r = _compare(case, got, want)
            if not r.ok:
                return r
    return Result(True)


def run_ort(case: Case) -> Result:
    import onnxruntime as ort

    if not case.data_sets:
        return Result(False, "the case has no test data")
    try:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(case.model), so, providers=["CPUExecutionProvider"])
    except Exception as e:
        return Result(False, _first_line(str(e))[:300])
    for data_set in case.data_sets:
        try:
            ins, want = _materialize(data_set)
            got = sess.run(None, {n: a for n, a in ins})
        except Exception as e:
            return Result(False, _first_line(str(e))[:300])
        r = _compare(case, got, want)
        if not r.ok:
            return r
    return Result(True)


def read_expected_failures(path: Path) -> dict[str, str]:
    """`suite/case: reason` per line; '#' starts a comment."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, reason = line.partition(":")
        out[key.strip()] = reason.strip()
    return out


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def write_doc(path: Path, cases, cellar_res, ort_res, command: str) -> None:
    n = len(cases)
    c_pass = sum(r.ok for r in cellar_res.values())
    o_pass = sum(r.ok for r in ort_res.values())
    both = sum(cellar_res[c.key].ok and ort_res[c.key].ok for c in cases)
    ort_only = [c for c in cases if ort_res[c.key].ok and not cellar_res[c.key].ok]
    lines = [
        "# ONNX's backend test data in cellar and in ONNX Runtime",
        "",
        f"Generated by `{command}`; do not edit.",
        "",
        "Every case of the `onnx` wheel's `onnx/backend/test/data/{pytorch-converted,"
        "pytorch-operator,simple,light}`, as shipped (each file at its own opset, no version "
        "conversion), run by `cellar run` and by ONNX Runtime (CPU) and compared with the case's "
        "reference outputs (rtol 1e-3, atol 1e-7, ONNX's own tolerances; 2e-3 for densenet121). "
        "`light` models get ONNX's runner's input, arange(n) / n.",
        "",
        f"onnx {onnx.__version__}, onnxruntime {_ort_version()}.",
        "",
        "| suite | cases | cellar passes | ONNX Runtime passes |",
        "|---|---|---|---|",
    ]
    for suite in SUITES:
        sc = [c for c in cases if c.suite == suite]
        if sc:
            lines.append(f"| {suite} | {len(sc)} | {sum(cellar_res[c.key].ok for c in sc)} | "
                         f"{sum(ort_res[c.key].ok for c in sc)} |")
    lines += [f"| **all** | **{n}** | **{c_pass}** | **{o_pass}** |", "",
              f"Both pass {both}; ONNX Runtime passes {len(ort_only)} that cellar fails"
              + (": " + ", ".join(f"`{c.key}`" for c in ort_only) if ort_only else "") + ".",
              ""]
    failed = [c.key for c in cases if not cellar_res[c.key].ok]
    notes = [(prefix, why) for prefix, why in GAP_NOTES
             if any(k.startswith(prefix) for k in failed)]
    if notes:
        lines += ["## Why cellar refuses what it refuses", ""]
        lines += [f"- `{prefix}*`: {why}" for prefix, why in notes]
        lines.append("")
    lines += ["## Per case", "",
              "| case | opset | ops | cellar | ONNX Runtime | why it fails |", "|---|---|---|---|---|---|"]
    for c in cases:
        cr, orr = cellar_res[c.key], ort_res[c.key]
        why = []
        if not cr.ok:
            why.append("cellar: " + cr.reason)
        if not orr.ok:
            why.append("ORT: " + orr.reason)
        lines.append(f"| {c.key} | {c.opset} | {' '.join(c.ops)} | {'pass' if cr.ok else 'FAIL'} | "
                     f"{'pass' if orr.ok else 'FAIL'} | {_md('; '.join(why))} |")
    path.write_text("\n".join(lines) + "\n")


# Cases outside cellar's scope by design (string tensors: GAP_NOTES says why), whether or not
# ONNX Runtime passes them (it passes 2 of the 6 where the en_US.UTF-8 locale is missing, all 6
# where it is installed).
OUT_OF_SCOPE = ("simple/test_strnorm_",)

# The cases cellar refuses by design or for now, and why (written into docs/onnx_backend.md).
GAP_NOTES = [
    ("simple/test_strnorm_",
     "string tensors (ONNX elem_type 8) are out of cellar's scope. cellar's tensors hold numbers: "
     "fixed-size elements in one buffer, planned once per input shape; the formats it exists for "
     "(MindSpore's checkpoint and MindIR) carry text only as checkpoint scalars, and no op of "
     "MindSpore's inference graphs computes on text. A model with a string input is refused at "
     "load, naming that input and saying so (before its ops are looked at). ONNX Runtime's own "
     "StringNormalizer fails 4 of the 6 cases here: they need the en_US.UTF-8 locale, which "
     "this machine lacks."),
    ("simple/test_expand_shape_model",
     "the target shape of Expand is a graph input here, so the output's shape depends on the "
     "values of an input, not on the input shapes. cellar infers every shape and plans memory "
     "when the input shapes are known (a plan per input-shape set); a shape read from a tensor's "
     "values at run time is refused at load, naming the input. Closing it means keying plans by "
     "the values of such shape inputs as well."),
    ("simple/test_gradient_of_",
     "ai.onnx.preview.training's Gradient is a training op; cellar runs inference only, and ONNX "
     "Runtime does not run it either."),
]


def _ort_version() -> str:
    try:
        import onnxruntime as ort
        return ort.__version__
    except ImportError:
        return "(not installed)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cellar", required=True, help="the cellar binary")
    ap.add_argument("--data", type=Path, default=None, help="default: the onnx wheel's data")
    ap.add_argument("--write-doc", type=Path, help="write the Markdown table here")
    ap.add_argument("--no-ort", action="store_true", help="cellar only")
    ap.add_argument("--write-expected", type=Path,
                    help="write the cases cellar fails, with its reasons, as an expected-failures "
                    "file (review it before committing)")
    ap.add_argument("-k", default="", help="only cases whose suite/name contains this")
    a = ap.parse_args(argv)
    cases = [c for c in collect(a.data or data_root()) if a.k in c.key]
    cellar_res, ort_res = {}, {}
    for c in cases:
        cellar_res[c.key] = run_cellar(c, a.cellar)
        if not a.no_ort:
            ort_res[c.key] = run_ort(c)
        o = "" if a.no_ort else f" ort={'pass' if ort_res[c.key].ok else 'FAIL'}"
        r = cellar_res[c.key]
        print(f"{c.key}: cellar={'pass' if r.ok else 'FAIL'}{o}"
              + ("" if r.ok else f"  ({r.reason})"), flush=True)
    print(f"cellar passes {sum(r.ok for r in cellar_res.values())} of {len(cases)}"
          + ("" if a.no_ort else f"; ONNX Runtime {sum(r.ok for r in ort_res.values())}"))
    if a.write_expected:
        lines = ["# Cases of ONNX's backend test data cellar fails, each with its reason (cellar's "
                 "own message).", "# tests/python/test_onnx_backend.py: a listed case must fail, "
                 "an unlisted one pass;", "# one ONNX Runtime passes is marked [behind ORT], "
                 "one outside cellar's scope [out of scope] (ONNX Runtime must fail every "
                 "other).",
                 "# Written by onnx_backend.py --write-expected (with ONNX Runtime: without "
                 "--no-ort)."]
        for c in cases:
            r = cellar_res[c.key]
            if not r.ok:
                why = r.reason.split("): ", 1)[-1] if "): " in r.reason else r.reason
                # A case ONNX Runtime passes is a gap test_onnx_backend.py holds open by name;
                # one outside cellar's scope is marked so whatever ONNX Runtime does.
                mark = "[behind ORT] " if c.key in ort_res and ort_res[c.key].ok else ""
                if c.key.startswith(OUT_OF_SCOPE):
                    mark = "[out of scope] "
                lines.append(f"{c.key}: {mark}{why}")
        a.write_expected.write_text("\n".join(lines) + "\n")
    if a.write_doc:
        if a.no_ort:
            ap.error("--write-doc needs the ONNX Runtime side (drop --no-ort)")
        cmd = (".venv/bin/python tests/python/onnx_backend.py --cellar build/cellar "
               f"--write-doc {a.write_doc}")
        write_doc(a.write_doc, cases, cellar_res, ort_res, cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
