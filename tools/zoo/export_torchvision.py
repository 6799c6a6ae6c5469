#!/usr/bin/env python3
"""Exports torchvision's classification models to ONNX with torch.onnx.export, with references.

A heavy peer, never needed by ./dev test. Set up once (on a machine of this kind; PyPI's torch
wheel pulls its CUDA libraries too, ~3 GB, although only the CPU is used):

    python3 -m venv /opt/torch && /opt/torch/bin/pip install torch torchvision onnx onnxruntime onnxscript

then, from the repository root:

    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo            # smallest per family
    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo --all      # every model
    /opt/torch/bin/python tools/zoo/export_torchvision.py --out /work/tvzoo --models resnet18

For each model, OUT/<model>/ gets <model>.onnx (opset 17, the TorchScript-based exporter that
`torch.onnx.export(..., dynamo=False)` selects, batch axis fixed at 1 unless --dynamic-batch),
input.npy (seeded standard normal, (1, 3, H, W) float32, H = 224 or the model's own minimum),
output.npy (PyTorch's eager output, the reference), ort.npy (ONNX Runtime's output on the same
file) and meta.json (parameter count, what failed and its message). With --dynamic-batch
(dynamic_axes {input: {0: 'batch'}, output: {0: 'batch'}}) also input3.npy, output3.npy and
ort3.npy: the same at batch 3 (tools/zoo/run_torchvision_dynamic.py runs cellar on both). Weights are random (seed 0),
BatchNorm statistics calibrated on two random batches so activations keep a sane range:
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
# The smallest model of each torchvision family (the default; --all exports all 80).
SMALLEST = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s",
            "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mobilenet_v2",
            "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf",
            "resnet18", "resnet50", "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_0",
            "squeezenet1_1", "swin_t", "swin_v2_t", "vgg11", "vit_b_32", "wide_resnet50_2"]


def calibrate_batch_norm(net, size):
    """Random weights with BatchNorm's initial statistics (mean 0, variance 1) make activations
    vanish or explode layer by layer (outputs of 1e-20 or 1e+11), which would make the comparison
    meaningless. Running statistics are set from two seeded random batches first, as training would."""
    import torch

    # torchvision zero-initialises some classifier heads (ViT's): an all-zero output compares
    # equal to anything, so such weights get small seeded values instead.
    g0 = torch.Generator().manual_seed(SEED + 2)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g0) * 0.02)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    net.train()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(4, 3, size, size, generator=g))


def export_one(model_name, out_dir, dynamic_batch):
    import numpy as np
    import torch
    import torchvision

    torch.manual_seed(SEED)
    meta = {"model": model_name, "opset": OPSET, "dynamic_batch": dynamic_batch}
    t0 = time.time()
    net = torchvision.models.get_model(model_name, weights=None)
    calibrate_batch_norm(net, INPUT_SIZE.get(model_name, 224))
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
    if dynamic_batch:
        # The same file at another batch: PyTorch's eager output and ONNX Runtime's at batch 3.
        x3 = np.random.default_rng(SEED + 3).standard_normal((3, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            y3 = net(torch.from_numpy(x3))
        if isinstance(y3, (tuple, list)) or not torch.is_tensor(y3):
            y3 = y3[0] if isinstance(y3, (tuple, list)) else y3.logits
        np.save(os.path.join(out_dir, "input3.npy"), x3)
        np.save(os.path.join(out_dir, "output3.npy"), y3.numpy())
        yo3 = s.run(None, {s.get_inputs()[0].name: x3})[0]
        np.save(os.path.join(out_dir, "ort3.npy"), yo3)
        meta["ort_vs_torch_b3"] = float(np.max(np.abs(yo3.astype(np.float64) - y3.numpy())))
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
    p.add_argument("--all", action="store_true", help="every classification model, not the smallest per family")
    p.add_argument("--dynamic-batch", action="store_true", help="export with a symbolic batch axis")
    p.add_argument("--force", action="store_true")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a)
    import torchvision

    models = a.models or (sorted(torchvision.models.list_models(module=torchvision.models)) if a.all
                          else SMALLEST)
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
