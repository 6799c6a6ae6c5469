#!/usr/bin/env python3
"""Runs cellar on torchvision's ONNX exports with a dynamic batch axis, at batch 1 and batch 3;
writes (or replaces) their section of docs/zoo.md.

Needs what ./dev setup installs (.venv: numpy) and a built cellar; the exports come from
tools/zoo/export_torchvision.py --dynamic-batch (torch, a heavy peer). From the repository root:

    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo-dyn --dynamic-batch
    .venv/bin/python tools/zoo/run_torchvision_dynamic.py --zoo /work/tvzoo-dyn --build build --out docs/zoo.md

For each OUT/<model>/: one `cellar run` of <model>.onnx on input.npy (batch 1) and one on
input3.npy (batch 3), each compared with PyTorch's eager output at that batch (output.npy,
output3.npy) with the bound 1e-4 · max(1, max |reference|), beside ONNX Runtime's distance to the
same references (ort.npy, ort3.npy, recorded at export).
"""
import argparse
import datetime
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_zoo import bound, cpu_model, first_line  # noqa: E402

HEADING = "## torchvision with a dynamic batch axis"


def run_at(cellar, model, d, tag, tmp, timeout):
    """(max |diff| vs PyTorch, bound, ORT's diff, error) at one batch."""
    x_path = os.path.join(d, f"input{tag}.npy")
    ref = np.load(os.path.join(d, f"output{tag}.npy"))
    ort = np.load(os.path.join(d, f"ort{tag}.npy"))
    out = os.path.join(tmp, f"{os.path.basename(d)}{tag}.npy")
    try:
        r = subprocess.run([cellar, "run", model, "-i", x_path, "-o", out], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, bound(ref), None, f"timed out after {timeout} s"
    ort_diff = float(np.max(np.abs(ort.astype(np.float64) - ref)))
    if r.returncode != 0:
        return None, bound(ref), ort_diff, first_line(r.stderr or r.stdout)
    y = np.load(out)
    if y.shape != ref.shape:
        return float("inf"), bound(ref), ort_diff, f"shape {y.shape}, PyTorch {ref.shape}"
    return float(np.max(np.abs(y.astype(np.float64) - ref))), bound(ref), ort_diff, ""


def section(rows, a):
    ok = [r for r in rows if r.get("ok")]
    ran = [r for r in rows if r["meta"].get("ran")]
    out = [HEADING + "\n",
           "Reproduce (torch, torchvision in /opt/torch, see the header of "
           "tools/zoo/export_torchvision.py):\n",
           "```\n/opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo-dyn --dynamic-batch\n"
           ".venv/bin/python tools/zoo/run_torchvision_dynamic.py --zoo /work/tvzoo-dyn --build build "
           "--out docs/zoo.md\n```\n",
           f"Run on {datetime.date.today()}, CPU: {cpu_model()}. The models of the table above, "
           "exported by `torch.onnx.export` at opset 17 (TorchScript exporter) with "
           "`dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}`; one file per model, "
           "run by cellar at batch 1 and at batch 3 (seeded standard-normal inputs). Reference: "
           "PyTorch's eager output at each batch; the same bound. Where a model reads its batch in "
           "the graph (`x.reshape(x.size(0), …)`, `x.new_zeros(x.shape)`), cellar computes those "
           "shapes at run time, planned once per batch.\n",
           f"**{len(ok)} of {len(ran)}** models that PyTorch exports and ONNX Runtime runs run in "
           "cellar within the bound at both batches.\n",
           "| model | ONNX MiB | cellar | batch 1: max abs diff vs PyTorch (bound) | ORT | "
           "batch 3: max abs diff vs PyTorch (bound) | ORT |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["model"], f"{r['mb']:.1f}" if "mb" in r else "–", r["status"].replace("|", "\\|")]
        for tag in ("1", "3"):
            res = r.get(tag)
            if not res:
                cells += ["–", "–"]
                continue
            diff, b, ort_diff, _ = res
            cells.append(f"{diff:.1e} ({b:.0e})" if diff is not None else "–")
            cells.append(f"{ort_diff:.1e}" if ort_diff is not None else "–")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default="/work/tvzoo-dyn")
    p.add_argument("--build", default="build")
    p.add_argument("--out", default="docs/zoo.md")
    p.add_argument("--timeout", type=int, default=900)
    a = p.parse_args()
    cellar = os.path.abspath(os.path.join(a.build, "cellar"))
    tmp = tempfile.mkdtemp(prefix="cellar-tvdyn-")
    rows = []
    for meta_path in sorted(glob.glob(os.path.join(a.zoo, "*", "meta.json"))):
        d = os.path.dirname(meta_path)
        with open(meta_path) as f:
            meta = json.load(f)
        row = {"model": meta["model"], "meta": meta}
        rows.append(row)
        model = os.path.join(d, meta["model"] + ".onnx")
        if not meta.get("ran") or not meta.get("dynamic_batch") or not os.path.exists(model):
            row["status"] = "PyTorch/ORT: " + meta.get("export_error", meta.get("run_error", "not exported with a dynamic batch"))
            continue
        row["mb"] = os.path.getsize(model) / 2**20
        errors = []
        for tag, label in (("", "1"), ("3", "3")):
            res = run_at(cellar, model, d, tag, tmp, a.timeout)
            row[label] = res
            if res[3]:
                errors.append(f"batch {label}: {res[3]}")
        row["ok"] = not errors and all(row[t][0] <= row[t][1] for t in ("1", "3"))
        row["status"] = ("runs" if row["ok"] else
                         "cellar: " + "; ".join(errors) if errors else "runs, outside bound")
        print(f"{row['model']}: {row['status']}", flush=True)
    text = section(rows, a)
    try:
        with open(a.out) as f:
            page = f.read()
    except OSError:
        page = ""
    at = page.find(HEADING)
    if at < 0:
        page = page.rstrip("\n") + "\n\n" + text
    else:
        end = page.find("\n## ", at + len(HEADING))
        page = page[:at] + text + (page[end:] if end >= 0 else "")
    with open(a.out + ".tmp", "w") as f:
        f.write(page)
    os.replace(a.out + ".tmp", a.out)
    print(f"wrote {a.out}: {sum(1 for r in rows if r.get('ok'))} of {len(rows)} within the bound")


if __name__ == "__main__":
    main()
