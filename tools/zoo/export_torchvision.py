#!/usr/bin/env python3
"""Exports torchvision's classification models to ONNX with torch.onnx.export, with references.

A heavy peer, never needed by ./dev test. Set up once (on a machine of this kind; PyPI's torch
wheel pulls its CUDA libraries too, ~3 GB, although only the CPU is used):

    python3 -m venv /opt/torch && /opt/torch/bin/pip install torch torchvision onnx onnxruntime onnxscript

then, from the repository root:

    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo            # every model
    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo --models resnet18

For each model, OUT/<model>/ gets <model>.onnx (opset 17, the TorchScript-based exporter that
`torch.onnx.export(..., dynamo=False)` selects, batch axis fixed at 1 unless --dynamic-batch),
input.npy (seeded standard normal, (1, 3, H, W) float32, H = 224 or the model's own minimum),
output.npy (PyTorch's eager output, the reference), ort.npy (ONNX Runtime's output on the same
file) and meta.json (parameter count, what failed and its message). Weights are random (seed 0):
the check is that cellar computes what PyTorch and ONNX Runtime compute, not accuracy. Each model
runs in a fresh subprocess so one failure costs only its own row.

tools/zoo/run_zoo.py --torchvision OUT adds the table of these models to docs/zoo.md.
"""
import argparse
import json
import os
import subprocess
import sys
import time

SEED = 0
OPSET = 17
# Models whose own definition needs a larger input than 224 or a specific size.
INPUT_SIZE = {"inception_v3": 299}


def export_one(model_name, out_dir, dynamic_batch):
    import numpy as np
    import torch
    import torchvision

    torch.manual_seed(SEED)
    meta = {"model": model_name, "opset": OPSET, "dynamic_batch": dynamic_batch}
    t0 = time.time()
    net = torchvision.models.get_model(model_name, weights=None)
    net.eval()
    meta["params"] = sum(p.numel() for p in net.parameters())
    size = INPUT_SIZE.get(model_name, 224)
    x = np.random.default_rng(SEED).standard_normal((1, 3, size, size)).astype(np.float32)
    meta["input_shape"] = list(x.shape)
    with torch.no_grad():
        y = net(torch.from_numpy(x))
    if isinstance(y, (tuple, list)) or not torch.is_tensor(y):
        y = y[0] if isinstance(y, (tuple, list)) else y.logits
    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "input.npy"), x)
    np.save(os.path.join(out_dir, "output.npy"), y.numpy())
    path = os.path.join(out_dir, model_name + ".onnx")
    kwargs = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    try:
        torch.onnx.export(net, (torch.from_numpy(x),), path, opset_version=OPSET,
                          input_names=["input"], output_names=["output"], dynamo=False, **kwargs)
    except TypeError:  # torch versions before the dynamo switch
        torch.onnx.export(net, (torch.from_numpy(x),), path, opset_version=OPSET,
                          input_names=["input"], output_names=["output"], **kwargs)
    meta["exported"] = True
    meta["export_s"] = round(time.time() - t0, 2)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    yo = s.run(None, {s.get_inputs()[0].name: x})[0]
    np.save(os.path.join(out_dir, "ort.npy"), yo)
    meta["ort_vs_torch"] = float(np.max(np.abs(yo.astype(np.float64) - y.numpy())))
    meta["ran"] = True
    return meta


def child(args):
    out_dir = os.path.join(args.out, args.child)
    meta = {"model": args.child, "exported": False, "ran": False}
    try:
        meta.update(export_one(args.child, out_dir, args.dynamic_batch))
    except Exception as e:  # noqa: BLE001 - the message is the record
        key = "run_error" if meta.get("exported") else "export_error"
        meta[key] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="/work/tvzoo")
    p.add_argument("--models", nargs="*")
    p.add_argument("--dynamic-batch", action="store_true", help="export with a symbolic batch axis")
    p.add_argument("--force", action="store_true")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a)
    import torchvision

    models = a.models or sorted(torchvision.models.list_models(module=torchvision.models))
    for m in models:
        if not a.force and os.path.exists(os.path.join(a.out, m, "meta.json")):
            continue
        t0 = time.time()
        cmd = [sys.executable, __file__, "--out", a.out, "--child", m]
        if a.dynamic_batch:
            cmd.append("--dynamic-batch")
        try:
            subprocess.run(cmd, timeout=a.timeout, capture_output=True)
        except subprocess.TimeoutExpired:
            os.makedirs(os.path.join(a.out, m), exist_ok=True)
            with open(os.path.join(a.out, m, "meta.json"), "w") as f:
                json.dump({"model": m, "exported": False, "ran": False,
                           "export_error": f"timed out after {a.timeout} s"}, f)
        with open(os.path.join(a.out, m, "meta.json")) as f:
            meta = json.load(f)
        print(f"{m}: exported={meta.get('exported')} ran={meta.get('ran')} "
              f"{meta.get('export_error', meta.get('run_error', ''))} ({time.time() - t0:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
