"""Inference latency of cellar's GraphCell beside ONNX Runtime (and MindSpore, where given).

    .venv/bin/python bench/inference_bench.py [--build build] [--iterations 200]
                                              [--mindspore-python /opt/msenv/bin/python]

The networks are the ones the interop tests check (tests/tools/export_models, fixed seeds and
shapes: the tutorial's MLP at batch 1, LeNet-5 at batch 2, the ResNet-18-shaped net at batch 1).
For each, with 1 thread and with 2:
  cellar      `cellar bench NET.mindir --threads T --json` (its median of --iterations runs)
  onnxruntime the same network's NET.onnx (cellar's export, which ONNX Runtime runs within 1e-5 of
              cellar: tests/python/test_onnx_interop.py), intra_op_num_threads = T
  mindspore   NET.mindir through mindspore.load + nn.GraphCell (thread count its own), when
              --mindspore-python is given
Prints medians in microseconds and each peer's time over cellar's (>1: cellar faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

NETS = ["mlp", "lenet5", "resnet18"]

MINDSPORE_SNIPPET = r"""
import sys, time, statistics, numpy as np
import mindspore as ms
from mindspore import nn
path, inp, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
cell = nn.GraphCell(ms.load(path))
x = ms.Tensor(np.load(inp))
for _ in range(5): cell(x).asnumpy()
t = []
for _ in range(iters):
    t0 = time.perf_counter(); cell(x).asnumpy(); t.append(time.perf_counter() - t0)
print("MEDIAN_US", statistics.median(t) * 1e6)
"""


def cellar_median_us(cli, model, threads, iterations):
    out = subprocess.run([cli, "bench", model, "--threads", str(threads), "--iterations",
                          str(iterations), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["median_us"]


def ort_median_us(model, inp, threads, iterations):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.load(inp)
    for _ in range(5):
        sess.run(None, {name: x})
    t = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e6


def mindspore_median_us(python, model, inp, iterations):
    out = subprocess.run([python, "-c", MINDSPORE_SNIPPET, model, inp, str(iterations)],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("MEDIAN_US"):
            return float(line.split()[1])
    print(f"SKIP mindspore on {os.path.basename(model)}: {out.stderr.strip().splitlines()[-1:]}")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--mindspore-python")
    args = ap.parse_args()
    cli = os.path.join(args.build, "cellar")
    exporter = os.path.join(args.build, "tests", "tools", "export_models")
    for p in (cli, exporter):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: build first (./dev build, with the tests)")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([exporter, d], check=True, capture_output=True)
        print(f"median latency in microseconds, {args.iterations} runs each")
        print(f"{'net':10}{'threads':>8}{'cellar':>12}{'onnxruntime':>13}{'ort/cellar':>12}"
              f"{'mindspore':>12}{'ms/cellar':>11}")
        for net in NETS:
            mindir, onnx = os.path.join(d, net + ".mindir"), os.path.join(d, net + ".onnx")
            inp = os.path.join(d, net + "_input.npy")
            ms_us = (mindspore_median_us(args.mindspore_python, mindir, inp, args.iterations)
                     if args.mindspore_python else None)
            for threads in (1, 2):
                c = cellar_median_us(cli, mindir, threads, args.iterations)
                o = ort_median_us(onnx, inp, threads, args.iterations)
                ms_cols = (f"{ms_us:12.1f}{ms_us / c:10.2f}x" if ms_us and threads == 1 else "")
                print(f"{net:10}{threads:>8}{c:12.1f}{o:13.1f}{o / c:11.2f}x{ms_cols}")


if __name__ == "__main__":
    main()
