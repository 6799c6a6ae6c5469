#!/usr/bin/env python3
"""Runs cellar (and ONNX Runtime on cellar's ONNX conversion) on the exported zoo; writes docs/zoo.md.

Needs what ./dev setup installs (.venv: numpy, onnx, onnxruntime) and a built cellar; the zoo
itself comes from tools/zoo/export_mindcv.py (MindSpore, a heavy peer). From the repository root:

    .venv/bin/python tools/zoo/run_zoo.py --zoo /work/zoo --build build --out docs/zoo.md

For each ZOO/<model>/ with a MindIR and MindSpore's output: `cellar run` on input.npy, max |diff|
against MindSpore's GraphCell output with the bound 1e-4 · max(1, max |reference|); `cellar
convert` to ONNX and ONNX Runtime on that file against the same reference; single-thread latency
medians of cellar (`cellar bench --threads 1`) and ONNX Runtime (intra_op_num_threads=1) on the
same file's weights. The op census (which ops each model uses, which cellar lacks) is read from
the MindIR with tools/zoo/census.py.
"""
import argparse
import collections
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import census  # noqa: E402


def first_line(text):
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:240]
    return ""


def bound(ref):
    return 1e-4 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)


def run_cellar(cellar, mindir, x_path, out_path, timeout):
    r = subprocess.run([cellar, "run", mindir, "-i", x_path, "-o", out_path, "--json"],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        return None, first_line(r.stderr or r.stdout)
    return np.load(out_path), ""


def bench_cellar(cellar, model, runs, timeout):
    r = subprocess.run([cellar, "bench", model, "--threads", "1", "-n", str(runs), "--warmup", "2",
                        "--json"], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["median_us"]


def run_ort(onnx_path, x, runs):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: x}
    y = s.run(None, feed)[0]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, feed)
        times.append(time.perf_counter() - t)
    return y, sorted(times)[len(times) // 2] * 1e6


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        name = next(l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name"))
        flags = next(l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags"))
        simd = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")]
        return f"{name} ({', '.join(simd)})"
    except (OSError, StopIteration):
        return platform.processor()


def torchvision_table(cellar, a, tmp):
    """cellar on torchvision's ONNX exports: against PyTorch's eager output and ONNX Runtime's."""
    rows = []
    for meta_path in sorted(glob.glob(os.path.join(a.torchvision, "*", "meta.json"))):
        d = os.path.dirname(meta_path)
        with open(meta_path) as f:
            meta = json.load(f)
        model = meta["model"]
        row = {"model": model, "meta": meta}
        rows.append(row)
        path = os.path.join(d, model + ".onnx")
        if not meta.get("ran") or not os.path.exists(path):
            row["status"] = "PyTorch/ORT: " + meta.get("export_error", meta.get("run_error", "?"))
            continue
        row["mb"] = os.path.getsize(path) / 2**20
        ref = np.load(os.path.join(d, "output.npy"))
        ort_ref = np.load(os.path.join(d, "ort.npy"))
        row["bound"] = bound(ref)
        row["ort_diff"] = float(np.max(np.abs(ort_ref.astype(np.float64) - ref)))
        x_path = os.path.join(d, "input.npy")
        try:
            y, err = run_cellar(cellar, path, x_path, os.path.join(tmp, model + ".npy"), a.timeout)
        except subprocess.TimeoutExpired:
            y, err = None, f"timed out after {a.timeout} s"
        if y is None:
            row["status"] = "cellar: " + err
            print(f"torchvision {model}: {row['status']}", flush=True)
            continue
        row["diff"] = float(np.max(np.abs(y.astype(np.float64) - ref))) if y.shape == ref.shape else float("inf")
        row["ok"] = row["diff"] <= row["bound"]
        row["status"] = "runs" if row["ok"] else "runs, outside bound"
        row["cellar_us"] = bench_cellar(cellar, path, a.runs, a.timeout)
        try:
            _, row["ort_us"] = run_ort(path, np.load(x_path), a.runs)
        except Exception:  # noqa: BLE001 - ORT ran this file at export time; timing is optional
            pass
        print(f"torchvision {model}: {row['status']} diff {row['diff']:.2e}", flush=True)
    ran = [r for r in rows if r["meta"].get("ran")]
    ok = [r for r in rows if r.get("ok")]
    out = ["\n" + TORCHVISION_HEADING + "\n",
           "Reproduce (torch, torchvision in /opt/torch, see the header of "
           "tools/zoo/export_torchvision.py):\n",
           "```\n/opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo\n"
           ".venv/bin/python tools/zoo/run_zoo.py --zoo /work/zoo --torchvision /work/tvzoo --build build "
           f"--out docs/zoo.md --runs {a.runs}\n```\n",
           "Each model: `torchvision.models.get_model(name, weights=None)`, random weights (seed 0), "
           "`torch.onnx.export` at opset 17 (TorchScript exporter), one (1, 3, 224, 224) seeded input. "
           "Reference: PyTorch's eager output; the same bound as above.\n",
           f"**{len(ok)} of {len(ran)}** models that PyTorch exports and ONNX Runtime runs run in cellar "
           "within the bound.\n",
           "| model | ONNX MiB | cellar | max abs diff vs PyTorch (bound) | ORT vs PyTorch | cellar µs | ORT µs |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"{r['mb']:.1f}" if "mb" in r else "–"
        diff = f"{r['diff']:.1e} ({r['bound']:.0e})" if "diff" in r else "–"
        od = f"{r['ort_diff']:.1e}" if "ort_diff" in r else "–"
        cus = f"{r['cellar_us']:,.0f}" if r.get("cellar_us") else "–"
        ous = f"{r['ort_us']:,.0f}" if r.get("ort_us") else "–"
        status = r["status"].replace("|", "\\|")
        out.append(f"| {r['model']} | {size} | {status} | {diff} | {od} | {cus} | {ous} |")
    return out


TORCHVISION_HEADING = "## torchvision classification models, exported by PyTorch to ONNX"


# Written by tools/zoo/run_torchvision_dynamic.py, which replaces only its own section.
DYNAMIC_HEADING = "## torchvision with a dynamic batch axis"


def kept_section(path, heading):
    """A section of the page being replaced, as it was (its own reproduce command and date stay
    with it), so a re-run that does not remake it does not drop it."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    at = text.find(heading)
    if at < 0:
        return []
    end = text.find("\n## ", at + len(heading))  # up to the next section, if any
    return ["\n" + text[at:end if end >= 0 else len(text)].rstrip("\n")]


def kept_torchvision_table(path):
    """Without --torchvision, the torchvision section of the page being replaced, as it was."""
    return kept_section(path, TORCHVISION_HEADING)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default="/work/zoo")
    p.add_argument("--build", default="build")
    p.add_argument("--out", default="docs/zoo.md")
    p.add_argument("--runs", type=int, default=5, help="timed runs per engine (median kept)")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--torchvision", help="folder written by tools/zoo/export_torchvision.py: adds its table")
    a = p.parse_args()
    cellar = os.path.abspath(os.path.join(a.build, "cellar"))
    pb = census.mind_ir_pb2()
    known = census.known_primitives(cellar)
    rows = []
    need = collections.defaultdict(list)
    tmp = tempfile.mkdtemp(prefix="cellar-zoo-")
    for meta_path in sorted(glob.glob(os.path.join(a.zoo, "*", "meta.json"))):
        d = os.path.dirname(meta_path)
        with open(meta_path) as f:
            meta = json.load(f)
        model = meta["model"]
        row = {"family": meta.get("family", "?"), "model": model, "meta": meta}
        rows.append(row)
        mindir = os.path.join(d, model + ".mindir")
        if not meta.get("exported") or not os.path.exists(mindir):
            row["status"] = "MindSpore cannot export: " + meta.get("export_error", "?")
            continue
        row["mb"] = os.path.getsize(mindir) / 2**20
        counts = census.ops_of(mindir, pb)
        row["nodes"], row["distinct"] = sum(counts.values()), len(counts)
        unknown = sorted(op for op in counts if op not in known)
        for op in unknown:
            need[op].append(model)
        if not meta.get("ran") or not os.path.exists(os.path.join(d, "output.npy")):
            row["status"] = "MindSpore cannot run its own export: " + meta.get("run_error", "?")
            continue
        ref = np.load(os.path.join(d, "output.npy"))
        x_path = os.path.join(d, "input.npy")
        x = np.load(x_path)
        row["bound"] = bound(ref)
        t0 = time.perf_counter()
        try:
            y, err = run_cellar(cellar, mindir, x_path, os.path.join(tmp, model + ".npy"), a.timeout)
        except subprocess.TimeoutExpired:
            y, err = None, f"timed out after {a.timeout} s"
        if y is None:
            row["status"] = "cellar: " + err
            if unknown:
                row["status"] = "missing ops: " + ", ".join(f"{u} ×{counts[u]}" for u in unknown)
            print(f"{model}: {row['status']}", flush=True)
            continue
        row["diff"] = float(np.max(np.abs(y.astype(np.float64) - ref))) if y.shape == ref.shape else float("inf")
        row["ok"] = row["diff"] <= row["bound"]
        row["cellar_us"] = bench_cellar(cellar, mindir, a.runs, a.timeout)
        onnx_path = os.path.join(tmp, model + ".onnx")
        r = subprocess.run([cellar, "convert", mindir, onnx_path], capture_output=True, text=True,
                           timeout=a.timeout)
        if r.returncode != 0:
            row["ort"] = "convert: " + first_line(r.stderr)
        else:
            try:
                yo, row["ort_us"] = run_ort(onnx_path, x, a.runs)
                row["ort_diff"] = float(np.max(np.abs(yo.astype(np.float64) - ref)))
                row["ort"] = "ok" if row["ort_diff"] <= row["bound"] else "outside bound"
            except Exception as e:  # noqa: BLE001 - ORT's message is the record
                row["ort"] = "ORT: " + first_line(str(e))
        row["status"] = "runs" if row["ok"] else "runs, outside bound"
        print(f"{model}: {row['status']} diff {row['diff']:.2e} (bound {row['bound']:.1e}), "
              f"ORT {row.get('ort')}, {time.perf_counter() - t0:.0f} s", flush=True)

    exported = [r for r in rows if r["meta"].get("exported")]
    ran_ms = [r for r in exported if r["meta"].get("ran")]
    passing = [r for r in rows if r.get("ok")]
    ort_ok = [r for r in rows if r.get("ort") == "ok"]
    families = sorted({r["family"] for r in rows})
    fam_exported = {r["family"] for r in exported}
    fam_ok = {r["family"] for r in passing}
    rows.sort(key=lambda r: (r["family"], r["meta"].get("params") or 0, r["model"]))
    out = []
    w = out.append
    w("# The model zoo: mindcv models exported by MindSpore, run by cellar\n")
    w("Generated by `tools/zoo/run_zoo.py`; do not edit by hand. Reproduce (MindSpore 2.10.0 and "
      "mindcv 0.3.0 in /opt/ms, see the header of tools/zoo/export_mindcv.py):\n")
    w("```\n/opt/ms/bin/python tools/zoo/export_mindcv.py --zoo /work/zoo --runs 1 --timeout 600\n"
      f".venv/bin/python tools/zoo/run_zoo.py --zoo /work/zoo --build build --out docs/zoo.md --runs {a.runs}\n```\n")
    w(f"Run on {datetime.date.today()}, CPU: {cpu_model()}. Each model: the smallest of its mindcv "
      "family by parameter count (and, where MindSpore cannot export that one, the next smallest, up "
      "to two more), `num_classes=10`, random weights (seed 0), one (1, 3, H, W) seeded "
      "standard-normal input (H from the model's config or the size it is built for, else 224). "
      "Reference: MindSpore's own `nn.GraphCell` over "
      "`mindspore.load` of the exported file. Bound: max |diff| ≤ 1e-4 · max(1, max |reference|). "
      "Latency: medians, one thread each (cellar `bench --threads 1`; ONNX Runtime "
      "`intra_op_num_threads=1` on cellar's own ONNX conversion).\n")
    w(f"**{len(passing)} of {len(ran_ms)}** models that MindSpore exports and runs itself run in "
      f"cellar within the bound; ONNX Runtime runs cellar's ONNX conversion of {len(ort_ok)} within "
      f"the bound. Families: {len(fam_ok)} of the {len(fam_exported)} that MindSpore exports run "
      f"in cellar within the bound; {len(families) - len(fam_exported)} of {len(families)} "
      "cannot be exported by MindSpore 2.10 itself (any model tried).\n")
    w("| family | model | MindIR MiB | nodes (ops) | cellar | max abs diff (bound) | ONNX Runtime on cellar's .onnx | cellar µs | ORT µs | MindSpore µs |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["meta"]
        size = f"{r['mb']:.1f}" if "mb" in r else "–"
        nodes = f"{r['nodes']} ({r['distinct']})" if "nodes" in r else "–"
        diff = f"{r['diff']:.1e} ({r['bound']:.0e})" if "diff" in r else "–"
        cus = f"{r['cellar_us']:,.0f}" if r.get("cellar_us") else "–"
        ous = f"{r['ort_us']:,.0f}" if r.get("ort_us") else "–"
        mus = f"{m['mindspore_us']:,}" if m.get("mindspore_us") else "–"
        status = r["status"].replace("|", "\\|")
        w(f"| {r['family']} | {r['model']} | {size} | {nodes} | {status} | {diff} | "
          f"{r.get('ort', '–')} | {cus} | {ous} | {mus} |")
    w("\n## Ops cellar lacks, by how many of these models need them\n")
    w("| op | models |\n|---|---|")
    for op, models in sorted(need.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        w(f"| {op} | {len(models)}: {', '.join(models)} |")
    if a.torchvision:
        out.extend(torchvision_table(cellar, a, tmp))
    else:
        out.extend(kept_torchvision_table(a.out))
    out.extend(kept_section(a.out, DYNAMIC_HEADING))
    text = "\n".join(out) + "\n"
    with open(a.out + ".tmp", "w") as f:
        f.write(text)
    os.replace(a.out + ".tmp", a.out)
    print(f"wrote {a.out}: {len(passing)} of {len(ran_ms)} within the bound")


if __name__ == "__main__":
    main()
